"""The class map (class id -> object names) that text prompt noise samples synonyms and flips from (Alg. 1).

ActiSeg-Sim writes it as ``ImageSets/classes.json``; for a real VISOR-derived root it is derived from the object
names each class id carries across the split (VISOR names one class many ways: "container", "food container").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from actiseg_core.data.layout import CLASS_MAP_FILE, IMAGE_SETS_DIR, Sequence, atomic_write_json, read_json
from actiseg_core.errors import DataError


@dataclass(frozen=True)
class ObjectClass:
    """One object class and every name that refers to it."""

    class_id: int
    label: str
    names: tuple[str, ...]


ClassMap = dict[int, ObjectClass]


def class_map_path(root: Path) -> Path:
    return Path(root) / IMAGE_SETS_DIR / CLASS_MAP_FILE


def write_class_map(root: Path, classes: ClassMap) -> Path:
    path = class_map_path(root)
    atomic_write_json(
        path,
        {
            "classes": [
                {"class_id": c.class_id, "class": c.label, "names": list(c.names)}
                for c in sorted(classes.values(), key=lambda c: c.class_id)
            ]
        },
    )
    return path


def read_class_map(path: Path) -> ClassMap:
    raw = read_json(path)
    try:
        entries = raw["classes"]
        classes = {
            int(e["class_id"]): ObjectClass(int(e["class_id"]), str(e["class"]), tuple(str(n) for n in e["names"]))
            for e in entries
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: malformed class map ({exc.__class__.__name__}: {exc})") from None
    empty = [c.label for c in classes.values() if not c.names]
    if empty:
        raise DataError(f"{path}: classes without names: {', '.join(empty)}")
    return classes


def derive_class_map(sequences: list[Sequence]) -> ClassMap:
    """Class map from the names each class id carries in the data; the most frequent name labels the class."""
    counts: dict[int, dict[str, int]] = {}
    for seq in sequences:
        for obj in seq.objects.values():
            names = counts.setdefault(obj.class_id, {})
            names[obj.name] = names.get(obj.name, 0) + 1
    return {
        class_id: ObjectClass(class_id, max(names, key=lambda n: (names[n], n)), tuple(sorted(names)))
        for class_id, names in counts.items()
    }


def load_class_map(root: Path, sequences: list[Sequence]) -> ClassMap:
    """The root's ``classes.json`` when it has one, else the map derived from ``sequences``."""
    path = class_map_path(root)
    return read_class_map(path) if path.is_file() else derive_class_map(sequences)
