"""The colcon build of the actiseg_ros package (CMakeLists.txt, scripts/build_ros.sh, DESIGN.md §10).

Checks the build that scripts/setup_env.sh made (it is never rebuilt from scratch here): the generated messages
import and round-trip through rclpy's serializer with exactly the fields of msg/*.msg, the generated module and the
node's code are one `actiseg_ros` package, the `ros2 run` executables are installed and start, and launch/ and
config/ are installed under share/actiseg_ros. Skipped when there is no build (pytest run without the setup).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "install" / "actiseg_ros"
EXE_DIR = INSTALL / "lib" / "actiseg_ros"
SHARE = INSTALL / "share" / "actiseg_ros"
MESSAGES = ("ActionNarration", "ManipulationGate", "ActiveObjects")
# Executable -> (module it runs, source file that must exist for it to be tested). The CLIs are argparse programs
# whose --help exits 0 without side effects; segment_node would start a node, so it is only import-checked.
CLIS = {
    "actiseg-train": ("training.train", "training/train.py"),
    "actiseg-evaluate": ("actiseg_core.evaluation.cli", "actiseg_core/evaluation/cli.py"),
    "actiseg-data": ("actiseg_core.data_cli", "actiseg_core/data_cli.py"),
    "actiseg-export-onnx": ("actiseg_core.export.onnx_export", "actiseg_core/export/onnx_export.py"),
    "actiseg-bag": ("actiseg_ros.bag.cli", "actiseg_ros/bag/cli.py"),
}
NODE_EXE = ("segment_node", "actiseg_ros.node", "actiseg_ros/node.py")

pytestmark = pytest.mark.skipif(
    not (REPO / "install" / "setup.bash").is_file() or not INSTALL.is_dir(),
    reason="no colcon build in install/: run scripts/setup_env.sh (or scripts/build_ros.sh) first",
)


@pytest.fixture(scope="module")
def ros_env() -> dict[str, str]:
    """The environment scripts/ros_env.sh makes (which also brings the build up to date, a no-op when current)."""
    done = subprocess.run(["bash", "-c", "set -euo pipefail; . scripts/ros_env.sh; env -0"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.split("\0") if "=" in line)


def _msg_fields(name: str) -> list[tuple[str, str]]:
    """(field name, rosidl type string) of msg/<name>.msg, in order, as `get_fields_and_field_types()` spells them."""
    primitives = {"bool": "boolean", "float32": "float", "float64": "double", "byte": "octet", "char": "uint8"}
    fields = []
    for line in (REPO / "msg" / f"{name}.msg").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or "=" in line:  # blank, comment, or a constant
            continue
        type_name, field = line.split()[:2]
        base, is_sequence = (type_name[:-2], True) if type_name.endswith("[]") else (type_name, False)
        base = primitives.get(base, base)
        if base[0].isupper():  # a message of this package
            base = f"actiseg_ros/{base}"
        fields.append((field, f"sequence<{base}>" if is_sequence else base))
    return fields


PROBE = r'''
import json
from pathlib import Path

import actiseg_ros
from actiseg_ros.msg import ActionNarration, ActiveObjects, ManipulationGate
from ament_index_python.packages import get_package_share_directory
from rclpy.serialization import deserialize_message, serialize_message

gate = ManipulationGate(go=False, p_confidence=0.25, n_risk=0.5, boundary_uncertainty=0.125,
                        temporal_stability=0.75, reasons=["low_positive_score", "no_narration"])
gate.header.frame_id = "camera"
gate.header.stamp.sec, gate.header.stamp.nanosec = 12, 345
narration = ActionNarration(narration="take cup ü", object_names=["cup", "knife"])
narration.header.stamp.sec = 7
active = ActiveObjects(narration="take cup", object_names=["cup", "knife"], object_ids=[1, 2],
                       scores=[0.875, 0.125], active=[True, False], gate=gate, inference_ms=4.5)
active.header = gate.header
active.mask.height, active.mask.width, active.mask.encoding, active.mask.step = 2, 3, "mono8", 3
active.mask.data = [0, 1, 1, 0, 2, 0]
report = {"package_dir": str(Path(actiseg_ros.__file__).parent), "msg_file": actiseg_ros.msg.__file__,
          "init_text": Path(actiseg_ros.__file__).read_text(), "share": get_package_share_directory("actiseg_ros")}
for message in (narration, gate, active):
    data = serialize_message(message)
    back = deserialize_message(data, type(message))
    report[type(message).__name__] = {"fields": list(type(message).get_fields_and_field_types().items()),
                                      "round_trip": back == message, "bytes": len(data)}
print(json.dumps(report))
'''


def test_messages_import_round_trip_and_match_the_msg_files(ros_env, tmp_path) -> None:
    # Not from the repository root: `python -c` / `-m` put the working directory first on sys.path, where the
    # source actiseg_ros/ (no generated msg/) would shadow the installed package.
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=ros_env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for name in MESSAGES:
        assert [tuple(field) for field in report[name]["fields"]] == _msg_fields(name), name
        assert report[name]["round_trip"], name
        assert report[name]["bytes"] > 0
    # One package: the generated msg module and the node's code, with our __init__.py, from install/.
    package_dir = Path(report["package_dir"])
    assert package_dir == INSTALL / "lib" / "python3.11" / "site-packages" / "actiseg_ros"
    assert Path(report["msg_file"]).parent == package_dir / "msg"
    assert report["init_text"] == (REPO / "actiseg_ros" / "__init__.py").read_text()
    assert Path(report["share"]) == SHARE  # how `ros2 launch actiseg_ros ...` finds the package


def test_ros_env_sets_dds_defaults_and_a_clean_library_path(ros_env) -> None:
    assert ros_env["RMW_IMPLEMENTATION"] == os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    assert ros_env["FASTDDS_BUILTIN_TRANSPORTS"] == os.environ.get("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    assert ros_env.get("ROS_DOMAIN_ID") == os.environ.get("ROS_DOMAIN_ID")
    library_path = ros_env["LD_LIBRARY_PATH"].split(":")
    assert str(INSTALL / "lib") in library_path
    assert "" not in library_path  # an empty entry would mean the current directory to the loader
    assert ros_env["AMENT_PREFIX_PATH"].split(":")[:2] == [str(INSTALL), str(REPO / ".venv")]


def test_executables_are_installed_and_start(ros_env, tmp_path) -> None:
    expected = [*CLIS, NODE_EXE[0]]
    for name in expected:
        exe = EXE_DIR / name
        assert exe.is_file() and os.access(exe, os.X_OK), f"{exe} missing or not executable"
        assert exe.read_text().startswith("#!/usr/bin/env python3\n")
    # --help of every CLI whose module exists, in parallel (each imports torch: ~2 s apiece on one core).
    runs = {name: subprocess.Popen([str(EXE_DIR / name), "--help"], cwd=REPO, env=ros_env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for name, (_, source) in CLIS.items() if (REPO / source).is_file()}
    for name, process in runs.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{name} --help: {err}"
        assert out.startswith("usage:"), f"{name} --help printed {out[:200]!r}"
    # The node would spin: check only that its launcher names a module that imports, with a main() to call.
    name, module, source = NODE_EXE
    if (REPO / source).is_file():
        text = (EXE_DIR / name).read_text()
        assert re.search(rf"^from {re.escape(module)} import main$", text, re.M), text
        check = f"import {module} as m; assert callable(m.main)"
        done = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=ros_env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("folder", ["launch", "config"])
def test_launch_and_config_are_installed(folder) -> None:
    sources = sorted(path.relative_to(REPO / folder) for path in (REPO / folder).rglob("*")
                     if path.is_file() and "__pycache__" not in path.parts) if (REPO / folder).is_dir() else []
    if not sources:
        pytest.skip(f"{folder}/ has no files yet")
    for relative in sources:
        installed = SHARE / folder / relative
        assert installed.is_file(), f"{installed} missing"
        assert installed.read_bytes() == (REPO / folder / relative).read_bytes()


def test_package_xml_is_a_valid_ament_cmake_package() -> None:
    package_module = pytest.importorskip("catkin_pkg.package")
    package = package_module.parse_package(str(REPO))
    assert package.name == "actiseg_ros"
    assert package.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in [group.name for group in package.member_of_groups]
