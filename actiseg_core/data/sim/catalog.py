"""What ActiSeg-Sim scenes are made of: object classes with their names, embodiments, textures.

A :class:`Catalog` is one version of the benchmark's contents; this module holds the types and v1's catalog
(:data:`V1`: robosuite's own objects and arms), :mod:`catalog_v2` the asset-pack catalog of v2.
Every class carries several names (synonyms) because text prompt noise (Alg. 1) substitutes names within a class
and flips to names of other classes; a name belongs to exactly one class so a flip is never a synonym. The gripper
is a class too: it plays the role of VISOR's hands and is annotated (active, handbox=1) in every clip.
Class ids are fixed here, so they are stable across renders and splits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actiseg_core.data.classes import ClassMap, ObjectClass
from actiseg_core.data.sim.assets import robosuite, texture_file
from actiseg_core.errors import ActiSegError

INSTANCE_SEPARATOR = "."  # a scene's second instance of kind "bowl" is labelled "bowl.2"


@dataclass(frozen=True)
class ObjectKind:
    """One object class of the catalog and how to build it.

    ``container``: can receive another object ("put X on/in Y"); ``preposition`` is the word narrations use for it.
    ``graspable``: small enough for every gripper to pick up (the others are only pushed or used as references).
    """

    class_id: int
    label: str
    names: tuple[str, ...]
    build: Callable[[str], Any]
    graspable: bool = False
    container: bool = False
    preposition: str = "on"
    colour: str | None = None  # the word that tells this look from other kinds of its class ("red" bowl)
    stackable: bool = False  # flat and firm on top: "stack X on it"
    source: str = "robosuite"  # where the mesh comes from (pack and path), for leak checks by mesh


@dataclass(frozen=True)
class Embodiment:
    """An arm and the gripper or hand on it; ``gripper`` None is the arm's default gripper in robosuite."""

    label: str
    robot: str
    gripper: str | None = None


def kind_label(instance: str) -> str:
    """The kind a scene's object instance label names: ``"bowl.2"`` -> ``"bowl"``."""
    return instance.split(INSTANCE_SEPARATOR, 1)[0]


@dataclass(frozen=True)
class Catalog:
    """One benchmark version's contents; scenes name kinds, embodiments and textures by label."""

    version: str
    gripper: ObjectClass
    objects: tuple[ObjectKind, ...]
    embodiments: tuple[Embodiment, ...]
    table_textures: tuple[str, ...]
    floor_textures: tuple[str, ...]
    wall_textures: tuple[str, ...]
    texture_path: Callable[[str], Path] = texture_file
    _kinds: dict[str, ObjectKind] = field(init=False, repr=False, compare=False)
    _embodiments: dict[str, Embodiment] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_kinds", {k.label: k for k in self.objects})
        object.__setattr__(self, "_embodiments", {e.label: e for e in self.embodiments})

    def kind(self, instance: str) -> ObjectKind:
        """The kind of a scene's object instance (``"bowl"`` or ``"bowl.2"``)."""
        label = kind_label(instance)
        if label not in self._kinds:
            raise ActiSegError(f"catalog {self.version} has no object kind {label!r}")
        return self._kinds[label]

    def embodiment(self, label: str) -> Embodiment:
        if label not in self._embodiments:
            raise ActiSegError(f"catalog {self.version} has no embodiment {label!r}")
        return self._embodiments[label]

    def class_map(self) -> ClassMap:
        """The class map written to ``ImageSets/classes.json``: the gripper and every object class."""
        classes = {self.gripper.class_id: self.gripper}
        for kind in self.objects:
            classes.setdefault(kind.class_id, ObjectClass(kind.class_id, class_label(kind), kind.names))
        return classes


def class_label(kind: ObjectKind) -> str:
    """A class's label: the kind's label without its colour variant (``"bowl_red"`` -> ``"bowl"``)."""
    suffix = f"_{kind.colour}"
    return kind.label[: -len(suffix)] if kind.colour and kind.label.endswith(suffix) else kind.label


def _xml_object(class_name: str) -> Callable[[str], Any]:
    def build(name: str) -> Any:
        robosuite()
        from robosuite.models import objects

        return getattr(objects, class_name)(name=name)

    return build


def _primitive(class_name: str, **kwargs: Any) -> Callable[[str], Any]:
    def build(name: str) -> Any:
        robosuite()
        from robosuite.models import objects

        return getattr(objects, class_name)(name=name, **kwargs)

    return build


def _pot(name: str) -> Any:
    robosuite()
    from robosuite.models.objects import PotWithHandlesObject

    return PotWithHandlesObject(name=name, body_half_size=(0.06, 0.06, 0.045), handle_length=0.05, handle_width=0.07)


def _tray(name: str) -> Any:
    robosuite()
    from robosuite.models.objects import Bin

    return Bin(name=name, bin_size=(0.17, 0.14, 0.035), wall_thickness=0.008, transparent_walls=False)


GRIPPER = ObjectClass(1, "gripper", ("gripper", "robot gripper", "robot hand", "end effector"))

OBJECTS: tuple[ObjectKind, ...] = (
    ObjectKind(2, "milk", ("milk", "milk carton", "milk box"), _xml_object("MilkObject"), graspable=True),
    ObjectKind(3, "bread", ("bread", "loaf of bread", "bread loaf"), _xml_object("BreadObject"), graspable=True),
    ObjectKind(4, "cereal", ("cereal", "cereal box", "box of cereal"), _xml_object("CerealObject")),
    ObjectKind(5, "can", ("can", "soda can", "tin can"), _xml_object("CanObject"), graspable=True),
    ObjectKind(6, "lemon", ("lemon", "citrus fruit", "yellow lemon"), _xml_object("LemonObject"), graspable=True),
    ObjectKind(7, "bottle", ("bottle", "glass bottle", "green bottle"), _xml_object("BottleObject"), graspable=True),
    ObjectKind(
        8,
        "block",
        ("block", "cube", "toy block"),
        _primitive("BoxObject", size=[0.022] * 3, rgba=[0.85, 0.1, 0.1, 1]),
        graspable=True,
    ),
    ObjectKind(
        9,
        "ball",
        ("ball", "toy ball", "blue ball"),
        _primitive("BallObject", size=[0.027], rgba=[0.1, 0.35, 0.9, 1]),
        graspable=True,
    ),
    ObjectKind(
        10,
        "plate",
        ("plate", "dish", "dinner plate"),
        _primitive("CylinderObject", size=[0.085, 0.006], rgba=[0.93, 0.93, 0.9, 1]),
        container=True,
    ),
    ObjectKind(11, "pot", ("pot", "cooking pot", "saucepan"), _pot, container=True, preposition="in"),
    ObjectKind(12, "tray", ("tray", "wooden tray", "serving tray"), _tray, container=True, preposition="in"),
)

OBJECTS_BY_LABEL: dict[str, ObjectKind] = {kind.label: kind for kind in OBJECTS}

# robosuite robot class per embodiment label; each arm carries its default gripper and mount.
ROBOTS: dict[str, str] = {
    "panda": "Panda",
    "sawyer": "Sawyer",
    "ur5e": "UR5e",
    "iiwa": "IIWA",
    "kinova3": "Kinova3",
    "jaco": "Jaco",
    "xarm7": "XArm7",
}

# robosuite texture file stems (models/assets/textures/<stem>.png).
TABLE_TEXTURES: tuple[str, ...] = (
    "ceramic",
    "light-wood",
    "dark-wood",
    "red-wood",
    "blue-wood",
    "green-wood",
    "gray-woodgrain",
    "wood-varnished-panels",
    "steel-brushed",
    "gray-felt",
)
FLOOR_TEXTURES: tuple[str, ...] = ("light-gray-floor-tile", "wood-tiles", "gray-plaster", "clay", "dirt")
WALL_TEXTURES: tuple[str, ...] = (
    "light-gray-plaster",
    "white-plaster",
    "cream-plaster",
    "pink-plaster",
    "yellow-plaster",
    "white-bricks",
)

V1 = Catalog(
    version="v1",
    gripper=GRIPPER,
    objects=OBJECTS,
    embodiments=tuple(Embodiment(label, robot) for label, robot in ROBOTS.items()),
    table_textures=TABLE_TEXTURES,
    floor_textures=FLOOR_TEXTURES,
    wall_textures=WALL_TEXTURES,
)


def class_map() -> ClassMap:
    """v1's class map (``ImageSets/classes.json``)."""
    return V1.class_map()
