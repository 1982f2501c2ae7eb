"""The per-frame render loop: RGB and segmentation for every clip, depth, camera, 3-D objects and links on request.

One ``mujoco.Renderer`` serves all passes of a frame. Without sensors the loop is exactly v1's (``update_scene``,
RGB, segmentation), so v1 renders stay byte-identical. With sensors, after those two renders of the same scene:

1. a depth render (MuJoCo's metric depth, :func:`sensors.depth_millimetres`) and the robot-link map from the
   segmentation already rendered;
2. camera pose and intrinsics, checked against the camera MuJoCo rendered with (:func:`sensors.check_against_mujoco`);
3. every annotated object's (and the gripper's) centre of mass, boxes and grip site in the camera frame;
4. silhouettes for occlusion / truncation: objects are rendered alone, several per depth render when their
   conservative screen rectangles are disjoint, by hiding every other geom for that render (their ``geom_group``
   is set to 0, which the visual-only option does not draw, and restored right after).
"""

from __future__ import annotations

from typing import NamedTuple

import mujoco
import numpy as np

from actiseg_core.data.geometry_layout import FrameGeometry, ObjectGeometry, SequenceGeometry, invert_pose, transform
from actiseg_core.data.layout import ANNOTATION_HEIGHT, ANNOTATION_WIDTH, frame_name
from actiseg_core.data.sim.motion import Motion
from actiseg_core.data.sim.scene import TABLE_TOP_Z, Scene
from actiseg_core.data.sim.segmentation import Segmenter
from actiseg_core.data.sim.sensors import (
    VISUAL_GROUP,
    BodyGeometry,
    body_geometry,
    camera_fovy,
    camera_name,
    camera_pose,
    check_against_mujoco,
    depth_millimetres,
    drawn_pixels,
    intrinsics,
    isolation_batches,
    robot_links,
    screen_rect,
    silhouette,
    visual_geoms,
)


class RenderedFrames(NamedTuple):
    """A clip's rendered frames, in :class:`clip.Clip`'s field order (``Clip(sequence, *frames)``).

    ``depth`` (uint16 mm), ``links`` (uint8 robot-link maps) and ``geometry`` are None unless sensors were on.
    """

    images: list[np.ndarray]
    labels: list[np.ndarray]
    parts: list[np.ndarray]
    depth: list[np.ndarray] | None = None
    links: list[np.ndarray] | None = None
    geometry: SequenceGeometry | None = None


def visual_option() -> mujoco.MjvOption:
    """Draw visual geoms only: collision hulls stay invisible and out of the masks; no sites."""
    option = mujoco.MjvOption()
    option.geomgroup[:] = 0
    option.geomgroup[VISUAL_GROUP] = 1
    option.sitegroup[:] = 0
    return option


class _Sensors:
    """Per-clip state of the sensor passes: intrinsics, link table, each object's root body and visual geoms."""

    def __init__(self, scene: Scene, camera: mujoco.MjvCamera, segmenter: Segmenter) -> None:
        model = scene.model
        self.model, self.camera, self.segmenter = model, camera, segmenter
        self.fovy = camera_fovy(model, camera)
        self.K = intrinsics(self.fovy, ANNOTATION_WIDTH, ANNOTATION_HEIGHT)
        self.links = robot_links(model, scene.robot_root, scene.gripper_root, scene.arm_joints)
        segmenter.add_links(self.links.geom_values(model))
        self.roots = {index: model.body(root).id for index, root in segmenter.roots.items()}
        self.geoms = {index: visual_geoms(model, root) for index, root in self.roots.items()}
        bare = [segmenter.labels[index] for index, geoms in self.geoms.items() if not geoms]
        if bare:
            raise ValueError(f"no visual geoms (group {VISUAL_GROUP}) to measure for {bare}")
        self.site = model.site(scene.grip_site).id

    def measure(
        self,
        renderer: mujoco.Renderer,
        data: mujoco.MjData,
        option: mujoco.MjvOption,
        labels: np.ndarray,
        segmentation: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, FrameGeometry]:
        """Depth (mm), robot-link map and 3-D record of the frame whose RGB and segmentation were just rendered."""
        model = self.model
        renderer.enable_depth_rendering()
        depth_m = renderer.render()
        renderer.disable_depth_rendering()
        depth_mm = depth_millimetres(depth_m, segmentation[..., 0])
        link_map = self.segmenter.link_map(segmentation)
        pose = camera_pose(model, data, self.camera)
        check_against_mujoco(renderer.scene, pose, self.K, ANNOTATION_WIDTH, ANNOTATION_HEIGHT)
        camera_from_world = invert_pose(pose)
        bodies = {
            index: body_geometry(model, data, self.roots[index], self.geoms[index], camera_from_world)
            for index in self.roots
        }
        silhouettes = self._silhouettes(renderer, data, option, bodies)
        objects = {}
        for index, body in bodies.items():
            pixels = int(np.count_nonzero(labels == index))
            area, border = silhouettes.get(index, (0, False))
            objects[index] = ObjectGeometry(
                index=index,
                label=self.segmenter.labels[index],
                centroid=body.centroid,
                origin=body.origin,
                box=body.box,
                aabb_min=body.aabb_min,
                aabb_max=body.aabb_max,
                pixels=pixels,
                silhouette_pixels=area,
                occluded=pixels < area,
                truncated=border or area == 0,
            )
        grip_site = transform(camera_from_world, data.site_xpos[self.site])
        return depth_mm, link_map, FrameGeometry(pose, objects, self.segmenter.gripper_index, grip_site)

    def _silhouettes(
        self,
        renderer: mujoco.Renderer,
        data: mujoco.MjData,
        option: mujoco.MjvOption,
        bodies: dict[int, BodyGeometry],
    ) -> dict[int, tuple[int, bool]]:
        """(silhouette pixels, reaches the border) of each object in view, from renders of the objects alone."""
        model = self.model
        rects = {}
        for index, body in bodies.items():
            rect = screen_rect(body.corners(), self.K, ANNOTATION_WIDTH, ANNOTATION_HEIGHT)
            if rect is not None:
                rects[index] = rect
        saved = model.geom_group.copy()
        out = {}
        try:
            for batch in isolation_batches(rects):
                model.geom_group[:] = 0
                for index in batch:
                    model.geom_group[self.geoms[index]] = VISUAL_GROUP
                renderer.update_scene(data, camera=self.camera, scene_option=option)
                renderer.enable_depth_rendering()
                drawn = drawn_pixels(renderer.render(), model)
                renderer.disable_depth_rendering()
                for index in batch:
                    out[index] = silhouette(drawn, rects[index])
        finally:
            model.geom_group[:] = saved
        return out

    def sequence(self, frames: dict[str, FrameGeometry]) -> SequenceGeometry:
        return SequenceGeometry(
            width=ANNOTATION_WIDTH,
            height=ANNOTATION_HEIGHT,
            K=self.K,
            fovy=self.fovy,
            camera_name=camera_name(self.model, self.camera),
            links=self.links.links,
            frames=frames,
            table_top_z=TABLE_TOP_Z,
        )


def render_frames(
    scene: Scene,
    camera: mujoco.MjvCamera,
    motion: Motion,
    segmenter: Segmenter,
    sensors: bool = False,
    frame_names: list[str] | None = None,
) -> RenderedFrames:
    """Render every planned frame (``mj_forward`` before each) from ``camera``: RGB, label maps, robot-part masks,
    and with ``sensors`` depth, robot-link maps and the clip's geometry record.

    ``frame_names`` keys the geometry's frames (default ``frame_name(1..N)``, the ActionVOS names clips use).
    """
    model = scene.model
    data = mujoco.MjData(model)
    option = visual_option()
    images, labels, parts = [], [], []
    depths, link_maps, records = [], [], []
    renderer = mujoco.Renderer(
        model, ANNOTATION_HEIGHT, ANNOTATION_WIDTH, font_scale=mujoco.mjtFontScale.mjFONTSCALE_50
    )
    try:
        measuring = _Sensors(scene, camera, segmenter) if sensors else None
        for qpos in motion.frames:
            data.qpos[:] = qpos
            mujoco.mj_forward(model, data)
            renderer.update_scene(data, camera=camera, scene_option=option)
            images.append(renderer.render().copy())
            renderer.enable_segmentation_rendering()
            segmentation = renderer.render()
            label_map, part_map = segmenter.split(segmentation)
            renderer.disable_segmentation_rendering()
            labels.append(label_map)
            parts.append(part_map)
            if measuring is not None:
                depth_mm, link_map, record = measuring.measure(renderer, data, option, label_map, segmentation)
                depths.append(depth_mm)
                link_maps.append(link_map)
                records.append(record)
    finally:
        renderer.close()
    if measuring is None:
        return RenderedFrames(images, labels, parts)
    names = frame_names or [frame_name(i) for i in range(1, len(records) + 1)]
    if len(names) != len(records):
        raise ValueError(f"{len(names)} frame names for {len(records)} frames")
    geometry = measuring.sequence(dict(zip(names, records, strict=True)))
    return RenderedFrames(images, labels, parts, depths, link_maps, geometry)
