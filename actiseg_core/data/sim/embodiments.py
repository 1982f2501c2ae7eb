"""ActiSeg-Sim v2's embodiments: arms x grippers or hands that the scripted planner really performs with.

Every entry below plans pick / put / push / move episodes (success rates over seeded episodes and renders per
embodiment: ``benchmarks/results/embodiments_v2.md``, made by ``benchmarks/embodiments_v2.py``), and
``tests/test_sim_embodiments.py`` plans and renders a pick with each. The seven v1 embodiments are included
unchanged (same label, arm, default gripper), so v1 scenes are v2 scenes.

========================  =======  =========================  ================  ==============  ================
label                     robot    gripper (None: default)    arm family        gripper family  needs
========================  =======  =========================  ================  ==============  ================
panda                     Panda    PandaGripper               franka            franka_2f       robosuite
sawyer                    Sawyer   RethinkGripper             rethink           rethink_2f      robosuite
ur5e                      UR5e     Robotiq85Gripper           universal_robots  robotiq_2f      robosuite
iiwa                      IIWA     Robotiq140Gripper          kuka              robotiq_2f      robosuite
kinova3                   Kinova3  Robotiq85Gripper           kinova            robotiq_2f      robosuite
jaco                      Jaco     JacoThreeFingerGripper     kinova            kinova_3f       robosuite
xarm7                     XArm7    XArm7Gripper               ufactory          ufactory_2f     robosuite
panda_robotiq85           Panda    Robotiq85Gripper           franka            robotiq_2f      robosuite
ur5e_panda                UR5e     PandaGripper               universal_robots  franka_2f       robosuite
iiwa_robotiq85            IIWA     Robotiq85Gripper           kuka              robotiq_2f      robosuite
sawyer_robotiq140         Sawyer   Robotiq140Gripper          rethink           robotiq_2f      robosuite
kinova3_robotiq3f         Kinova3  RobotiqThreeFingerGripper  kinova            robotiq_3f      robosuite
panda_inspire_hand        Panda    InspireRightHand           franka            inspire_hand    robosuite
ur5e_fourier_hand         UR5e     FourierRightHand           universal_robots  fourier_hand    robosuite
kinova3_robotiq140        Kinova3  Robotiq140Gripper          kinova            robotiq_2f      robosuite
sawyer_jaco_three_finger  Sawyer   JacoThreeFingerGripper     rethink           kinova_3f       robosuite
vx300s                    VX300S   AlohaGripper               trossen           aloha_2f        robosuite-models
arx5                      Arx5     UMIGripper                 arx               umi_2f          robosuite-models
z1_robotiq85              Z1       Robotiq85Gripper           unitree           robotiq_2f      robosuite-models
ur5e_umi                  UR5e     UMIGripper                 universal_robots  umi_2f          robosuite-models
iiwa_pr2                  IIWA     PR2Gripper                 kuka              pr2_2f          robosuite-models
sawyer_yumi               Sawyer   YumiRightGripper           rethink           yumi_2f         robosuite-models
iiwa_ability_hand         IIWA     AbilityRightHand           kuka              ability_hand    robosuite-models
kinova3_svh_hand          Kinova3  SchunkSvhRightHand         kinova            svh_hand        robosuite-models
========================  =======  =========================  ================  ==============  ================

robosuite-models (PyPI, MIT) is the asset pack of that name (:mod:`packs`); :func:`scene.build_scene` puts it on
``sys.path`` when an embodiment names one of its classes. Hands grasp from above, palm down; their pads are the
thumb tip against the index and middle fingertips. The Unitree Z1's own gripper is left out: MuJoCo collides its
fixed jaw as a convex hull that fills the jaw's opening, so nothing fits in it.

Held out for "test_novel_robot" (the caller chooses), each with an arm or a gripper family that no other entry has:

- an arm never seen in training: ``vx300s`` (Trossen ViperX arm and ALOHA gripper, both only here; needs the
  pack), ``xarm7`` (uFactory arm and gripper, both only here; robosuite alone), ``z1_robotiq85`` (Unitree arm,
  familiar Robotiq gripper) or ``arx5`` (ARX arm; its UMI gripper is also on ``ur5e_umi``);
- a gripper or hand family never seen in training: ``ur5e_fourier_hand`` (robosuite alone),
  ``kinova3_robotiq3f`` (robosuite alone), ``iiwa_ability_hand`` or ``kinova3_svh_hand`` (pack).

``kinova3_robotiq140`` and ``sawyer_jaco_three_finger`` share both families with other entries (a Kinova arm and a
Robotiq 2F gripper are in ``kinova3``, the Jaco three-finger gripper in ``jaco``): poor picks for a novel-robot test.
Small arms (``vx300s``, ``z1_robotiq85``, ``arx5``) are clamped onto the table's back edge, the Z1 and ARX5 on a
riser block (:data:`scene.TABLE_MOUNTS`); grippers made for other arms are turned to fit (:data:`scene.REMOUNTS`).

A good pair is one of each kind, e.g. ``vx300s`` + ``ur5e_fourier_hand``, or ``xarm7`` + ``ur5e_fourier_hand`` where
the split must render without the pack. Holding out two hands keeps the other hands in training, so "hand" as such
stays familiar; holding out ``xarm7`` removes a v1 arm from v2's training set.
"""

from __future__ import annotations

import dataclasses

from actiseg_core.data.sim.catalog import V1, Catalog, Embodiment
from actiseg_core.data.sim.packs import cache_root
from actiseg_core.errors import ActiSegError

MODELS_PACK = "robosuite-models"

ARM_FAMILIES: dict[str, str] = {
    "Panda": "franka",
    "Sawyer": "rethink",
    "UR5e": "universal_robots",
    "IIWA": "kuka",
    "Kinova3": "kinova",
    "Jaco": "kinova",
    "XArm7": "ufactory",
    "VX300S": "trossen",
    "Arx5": "arx",
    "Z1": "unitree",
}
GRIPPER_FAMILIES: dict[str, str] = {
    "PandaGripper": "franka_2f",
    "RethinkGripper": "rethink_2f",
    "Robotiq85Gripper": "robotiq_2f",
    "Robotiq140Gripper": "robotiq_2f",
    "RobotiqThreeFingerGripper": "robotiq_3f",
    "JacoThreeFingerGripper": "kinova_3f",
    "XArm7Gripper": "ufactory_2f",
    "InspireRightHand": "inspire_hand",
    "FourierRightHand": "fourier_hand",
    "AlohaGripper": "aloha_2f",
    "UMIGripper": "umi_2f",
    "PR2Gripper": "pr2_2f",
    "YumiRightGripper": "yumi_2f",
    "AbilityRightHand": "ability_hand",
    "SchunkSvhRightHand": "svh_hand",
}
# The classes that robosuite-models adds (robosuite 1.5.2 has the others).
PACK_ROBOTS = frozenset({"VX300S", "Arx5", "Z1"})
PACK_GRIPPERS = frozenset(
    {"AlohaGripper", "UMIGripper", "PR2Gripper", "YumiRightGripper", "AbilityRightHand", "SchunkSvhRightHand"}
)

V2_EMBODIMENTS: tuple[Embodiment, ...] = (
    Embodiment("panda", "Panda"),
    Embodiment("sawyer", "Sawyer"),
    Embodiment("ur5e", "UR5e"),
    Embodiment("iiwa", "IIWA"),
    Embodiment("kinova3", "Kinova3"),
    Embodiment("jaco", "Jaco"),
    Embodiment("xarm7", "XArm7"),
    Embodiment("panda_robotiq85", "Panda", "Robotiq85Gripper"),
    Embodiment("ur5e_panda", "UR5e", "PandaGripper"),
    Embodiment("iiwa_robotiq85", "IIWA", "Robotiq85Gripper"),
    Embodiment("sawyer_robotiq140", "Sawyer", "Robotiq140Gripper"),
    Embodiment("kinova3_robotiq3f", "Kinova3", "RobotiqThreeFingerGripper"),
    Embodiment("panda_inspire_hand", "Panda", "InspireRightHand"),
    Embodiment("ur5e_fourier_hand", "UR5e", "FourierRightHand"),
    Embodiment("kinova3_robotiq140", "Kinova3", "Robotiq140Gripper"),
    Embodiment("sawyer_jaco_three_finger", "Sawyer", "JacoThreeFingerGripper"),
    Embodiment("vx300s", "VX300S"),
    Embodiment("arx5", "Arx5"),
    Embodiment("z1_robotiq85", "Z1", "Robotiq85Gripper"),
    Embodiment("ur5e_umi", "UR5e", "UMIGripper"),
    Embodiment("iiwa_pr2", "IIWA", "PR2Gripper"),
    Embodiment("sawyer_yumi", "Sawyer", "YumiRightGripper"),
    Embodiment("iiwa_ability_hand", "IIWA", "AbilityRightHand"),
    Embodiment("kinova3_svh_hand", "Kinova3", "SchunkSvhRightHand"),
)
_BY_LABEL: dict[str, Embodiment] = {embodiment.label: embodiment for embodiment in V2_EMBODIMENTS}

# Default gripper of each arm (robosuite's ``default_gripper["right"]``), so families resolve without robosuite.
DEFAULT_GRIPPERS: dict[str, str] = {
    "Panda": "PandaGripper",
    "Sawyer": "RethinkGripper",
    "UR5e": "Robotiq85Gripper",
    "IIWA": "Robotiq140Gripper",
    "Kinova3": "Robotiq85Gripper",
    "Jaco": "JacoThreeFingerGripper",
    "XArm7": "XArm7Gripper",
    "VX300S": "AlohaGripper",
    "Arx5": "UMIGripper",
    "Z1": "Z1Gripper",
}


def embodiment(label: str) -> Embodiment:
    if label not in _BY_LABEL:
        raise ActiSegError(f"no v2 embodiment {label!r}; known: {', '.join(_BY_LABEL)}")
    return _BY_LABEL[label]


def gripper_class(label: str) -> str:
    """The gripper class an embodiment mounts (its arm's default where it names none)."""
    entry = embodiment(label)
    return entry.gripper or DEFAULT_GRIPPERS[entry.robot]


def arm_family(label: str) -> str:
    return ARM_FAMILIES[embodiment(label).robot]


def gripper_family(label: str) -> str:
    return GRIPPER_FAMILIES[gripper_class(label)]


def family(label: str) -> str:
    """Arm family and gripper family, ``"kuka/ability_hand"``: what a held-out embodiment should not share."""
    return f"{arm_family(label)}/{gripper_family(label)}"


def needs_pack(label: str) -> bool:
    """Whether the embodiment uses a class of robosuite-models (the asset pack) rather than robosuite alone."""
    entry = embodiment(label)
    return entry.robot in PACK_ROBOTS or gripper_class(label) in PACK_GRIPPERS


def pack_installed() -> bool:
    """Whether robosuite-models is in the asset cache already (checking never downloads it)."""
    return (cache_root() / MODELS_PACK).is_dir()


def embodiment_catalog() -> Catalog:
    """v1's objects and textures with the v2 embodiments: what the embodiment checks and benchmark build scenes from."""
    return dataclasses.replace(V1, version="v2-embodiments", embodiments=V2_EMBODIMENTS)
