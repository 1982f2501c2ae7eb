"""From MuJoCo's segmentation render (geom id per pixel) to ActionVOS label maps and robot-part masks.

Each geom belongs to the body tree it hangs from: an object's free body, the gripper's subtree, or the rest of the
robot (arm links, mount and pedestal). Only visual geoms (group 1) are drawn, so collision hulls never leak into
masks. Arm links are not annotated objects (label 0 in the label map); they appear in the robot-part mask only.
With sensors on (v2), :meth:`Segmenter.add_links` adds a third lookup, geom id -> robot-link value
(``RobotLinks_Sparse``), whose robot pixels are exactly the robot-part mask's.
"""

from __future__ import annotations

import mujoco
import numpy as np

from actiseg_core.data.geometry_layout import ROBOT_LINK_GRIPPER
from actiseg_core.data.layout import ROBOT_PART_ARM, ROBOT_PART_GRIPPER
from actiseg_core.data.sim.catalog import GRIPPER
from actiseg_core.data.sim.geometry import subtree_geoms
from actiseg_core.data.sim.scene import Scene


class Segmenter:
    """Lookup tables geom id -> object palette index, geom id -> robot part and (optional) geom id -> robot link."""

    def __init__(self, scene: Scene, indices: dict[str, int]) -> None:
        """``indices`` maps each object label of the scene, and the gripper's class label, to its palette index."""
        model = scene.model
        # Row 0 stands for "no geom" (segmentation id -1), so lookups index with id + 1.
        self.objects = np.zeros(model.ngeom + 1, dtype=np.uint8)
        self.parts = np.zeros(model.ngeom + 1, dtype=np.uint8)
        self.parts[np.add(subtree_geoms(model, model.body(scene.robot_root).id), 1)] = ROBOT_PART_ARM
        gripper = np.add(subtree_geoms(model, model.body(scene.gripper_root).id), 1)
        self.parts[gripper] = ROBOT_PART_GRIPPER
        self.objects[gripper] = indices[GRIPPER.label]
        for label, root in scene.object_roots.items():
            self.objects[np.add(subtree_geoms(model, model.body(root).id), 1)] = indices[label]
        # palette index -> root body of the object (or gripper) it paints, for per-object 3-D records
        self.roots = {indices[GRIPPER.label]: scene.gripper_root} | {
            indices[label]: root for label, root in scene.object_roots.items()
        }
        self.labels = {indices[GRIPPER.label]: GRIPPER.label} | {indices[label]: label for label in scene.object_roots}
        self.gripper_index = indices[GRIPPER.label]
        self.links: np.ndarray | None = None

    def add_links(self, geom_values: np.ndarray) -> None:
        """Enable :meth:`link_map` with one robot-link value per geom (``sensors.RobotLinkTable.geom_values``).

        The link values must paint exactly the robot-part geoms, the gripper value exactly the gripper's.
        """
        links = np.concatenate([[0], geom_values]).astype(np.uint8)
        if not np.array_equal(links != 0, self.parts != 0) or not np.array_equal(
            links == ROBOT_LINK_GRIPPER, self.parts == ROBOT_PART_GRIPPER
        ):
            raise ValueError("robot-link values do not cover exactly the robot-part geoms")
        self.links = links

    def link_map(self, segmentation: np.ndarray) -> np.ndarray:
        """The robot-link map (uint8 HxW) of a segmentation image; :meth:`add_links` first."""
        if self.links is None:
            raise RuntimeError("robot links are not enabled (Segmenter.add_links)")
        return self.links[segmentation[..., 0] + 1]

    def split(self, segmentation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(label map, robot-part mask) as uint8 HxW from a ``mujoco.Renderer`` segmentation image (HxWx2)."""
        kinds = segmentation[..., 1]
        if np.any((kinds != -1) & (kinds != int(mujoco.mjtObj.mjOBJ_GEOM))):
            raise ValueError("segmentation shows non-geom objects; only geoms may be drawn")
        rows = segmentation[..., 0] + 1
        return self.objects[rows], self.parts[rows]
