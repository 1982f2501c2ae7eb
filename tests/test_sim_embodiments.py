"""ActiSeg-Sim v2's embodiments: each one really picks an object in the planner and shows in rendered frames.

For every entry of :data:`embodiments.V2_EMBODIMENTS` a scene with robosuite's own objects is compiled, a pick is
planned (``motion.plan``, as clips are), and the test checks that the fingers open and close, that they touch the
target where they close on it, that the target leaves the table with the gripper, and that the clip renderer's label
map of the last frame shows the gripper and the target. Embodiments that use robosuite-models skip when that asset
pack is not in the asset cache: CI has no packs, and tests never download one.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")  # before MuJoCo is first imported

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from actiseg_core.data.sim import embodiments  # noqa: E402
from actiseg_core.data.sim.assets import robosuite  # noqa: E402
from actiseg_core.data.sim.camera import Camera  # noqa: E402
from actiseg_core.data.sim.catalog import GRIPPER, OBJECTS_BY_LABEL, ROBOTS, Embodiment  # noqa: E402
from actiseg_core.data.sim.episode import EpisodeSpec  # noqa: E402
from actiseg_core.data.sim.frames import render_frames  # noqa: E402
from actiseg_core.data.sim.geometry import subtree_geoms  # noqa: E402
from actiseg_core.data.sim.gripper import moved_geoms  # noqa: E402
from actiseg_core.data.sim.motion import Motion, plan  # noqa: E402
from actiseg_core.data.sim.narration import narrate  # noqa: E402
from actiseg_core.data.sim.packs import cache_root  # noqa: E402
from actiseg_core.data.sim.scene import Lighting, SceneSpec, build_scene  # noqa: E402
from actiseg_core.data.sim.segmentation import Segmenter  # noqa: E402
from actiseg_core.data.sim.world import World  # noqa: E402

FRAMES = 5  # a pick has 3 segments: hover -> above the grasp -> grasp -> lifted
TARGET, OTHERS = "can", ("block", "plate")
CAMERA = Camera(lookat=(-0.08, 0.0, 0.9), distance=0.9, azimuth=180.0, elevation=-35.0)
TOUCH = 0.002  # metres between a finger and the target that count as touching
LABELS = [e.label for e in embodiments.V2_EMBODIMENTS]


def _pick(label: str, rng: np.random.Generator) -> EpisodeSpec:
    objects = tuple(sorted((TARGET, *OTHERS)))
    names = {lb: OBJECTS_BY_LABEL[lb].names[0] for lb in objects} | {GRIPPER.label: GRIPPER.names[0]}
    scene = SceneSpec(
        robot=label,
        table_texture="light-wood",
        floor_texture="clay",
        wall_texture="white-plaster",
        objects=objects,
        lighting=Lighting(direction=(0.2, 0.1, -0.97), diffuse=0.7, ambient=0.3),
    )
    return EpisodeSpec(scene, "pick", TARGET, None, None, names, narrate(rng, "pick", names[TARGET]), CAMERA)


def _distance(model: mujoco.MjModel, data: mujoco.MjData, first: list[int], second: list[int]) -> float:
    fromto = np.zeros(6)
    return min(mujoco.mj_geomDistance(model, data, a, b, 0.05, fromto) for a in first for b in second)


def test_embodiment_list() -> None:
    assert len(LABELS) >= 14 and len(set(LABELS)) == len(LABELS)
    assert {Embodiment(label, robot) for label, robot in ROBOTS.items()} <= set(embodiments.V2_EMBODIMENTS)
    assert len({embodiments.family(label) for label in LABELS}) >= 14, "arm x gripper-family combinations"
    assert all(embodiments.gripper_class(label) in embodiments.GRIPPER_FAMILIES for label in LABELS)
    robosuite_only = [label for label in LABELS if not embodiments.needs_pack(label)]
    if "robosuite_models" not in sys.modules:  # robosuite alone has every class of the robosuite-only ones
        robosuite()
        from robosuite.models.grippers import GRIPPER_MAPPING
        from robosuite.models.robots.robot_model import REGISTERED_ROBOTS

        for label in robosuite_only:
            entry = embodiments.embodiment(label)
            assert entry.robot in REGISTERED_ROBOTS and embodiments.gripper_class(label) in GRIPPER_MAPPING, label
    assert len(robosuite_only) >= 12, "v2 needs 12 embodiments even where robosuite-models cannot be had"
    # the held-out candidates named in the module docstring exist and are alone in their arm or gripper family
    arms = [embodiments.arm_family(label) for label in LABELS]
    grippers = [embodiments.gripper_family(label) for label in LABELS]
    for label in ("vx300s", "xarm7", "z1_robotiq85", "arx5"):
        assert arms.count(embodiments.arm_family(label)) == 1, label
    for label in ("ur5e_fourier_hand", "kinova3_robotiq3f", "iiwa_ability_hand", "kinova3_svh_hand"):
        assert grippers.count(embodiments.gripper_family(label)) == 1, label


@pytest.mark.parametrize("label", LABELS)
def test_embodiment_picks_and_is_filmed(label: str) -> None:
    if embodiments.needs_pack(label) and not embodiments.pack_installed():
        pytest.skip(
            f"{label} uses robosuite-models, an asset pack not in the asset cache ({cache_root()}); "
            "tests never download packs"
        )
    rng = np.random.default_rng([5, LABELS.index(label)])
    episode = _pick(label, rng)
    scene = build_scene(episode.scene, embodiments.embodiment_catalog())
    world = World(scene)
    model, data = scene.model, world.data

    # the fingers open and close: the pads are well apart open and come together closed
    pads = [[model.geom(name).id for name in side] for side in scene.finger_pads]
    gaps = []
    for level in (0.0, 1.0):
        world.fingers.set(data, level)
        mujoco.mj_kinematics(model, data)
        gaps.append(float(np.linalg.norm(data.geom_xpos[pads[1]].mean(0) - data.geom_xpos[pads[0]].mean(0))))
    assert gaps[0] > gaps[1] + 0.02, f"pad gap open {gaps[0]:.3f} m, closed {gaps[1]:.3f} m"

    motion = plan(world, episode, FRAMES, rng)
    assert motion.reached and len(motion.frames) == FRAMES and TARGET in motion.touched

    # where the target starts to rise the fingers touch it, and at the end it is held well above the table
    adr = model.joint(scene.object_joints[TARGET]).qposadr[0]
    heights = [frame[adr + 2] for frame in motion.frames]
    grasp = next(i for i in range(FRAMES - 1) if heights[i + 1] > heights[0] + 1e-4)
    assert heights[-1] - heights[0] > 0.1
    gripper = subtree_geoms(model, model.body(scene.gripper_root).id)
    moving = moved_geoms(model, scene.gripper_joints)
    fingers = [g for g in gripper if moving[g] and (model.geom_contype[g] or model.geom_conaffinity[g])]
    target = subtree_geoms(model, model.body(scene.object_roots[TARGET]).id)
    data.qpos[:] = motion.frames[grasp]
    mujoco.mj_forward(model, data)
    assert _distance(model, data, fingers, target) <= TOUCH, "the fingers close on the target"
    site = data.site_xpos[model.site(scene.grip_site).id]
    assert np.linalg.norm(site[:2] - data.xpos[model.body(scene.object_roots[TARGET]).id][:2]) < 0.01

    # the clip renderer shows the gripper holding the target up in the last frame
    indices = {lb: k for k, lb in enumerate(sorted(episode.names), start=1)}
    shown = Motion([motion.frames[-1]], [])
    (label_map,) = render_frames(scene, CAMERA.mjv(), shown, Segmenter(scene, indices)).labels
    assert (label_map == indices[GRIPPER.label]).sum() > 500, "the gripper is in view"
    assert (label_map == indices[TARGET]).sum() > 100, "the target is in view"
