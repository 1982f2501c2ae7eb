"""From MuJoCo's segmentation render (geom id per pixel) to ActionVOS label maps and robot-part masks.

Each geom belongs to the body tree it hangs from: an object's free body, the gripper's subtree, or the rest of the
robot (arm links, mount and pedestal). Only visual geoms (group 1) are drawn, so collision hulls never leak into
masks. Arm links are not annotated objects (label 0 in the label map); they appear in the robot-part mask only.
"""

from __future__ import annotations

import mujoco
import numpy as np

from actiseg_core.data.layout import ROBOT_PART_ARM, ROBOT_PART_GRIPPER
from actiseg_core.data.sim.catalog import GRIPPER
from actiseg_core.data.sim.geometry import subtree_geoms
from actiseg_core.data.sim.scene import Scene


class Segmenter:
    """Lookup tables geom id -> object palette index and geom id -> robot part."""

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

    def split(self, segmentation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(label map, robot-part mask) as uint8 HxW from a ``mujoco.Renderer`` segmentation image (HxWx2)."""
        kinds = segmentation[..., 1]
        if np.any((kinds != -1) & (kinds != int(mujoco.mjtObj.mjOBJ_GEOM))):
            raise ValueError("segmentation shows non-geom objects; only geoms may be drawn")
        rows = segmentation[..., 0] + 1
        return self.objects[rows], self.parts[rows]
