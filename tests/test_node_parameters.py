"""The node's parameters: the model folder's contract decides, the YAML and the command line only override.

The shipped ``config/segment.yaml`` must not repeat a contract value that disagrees with the default model folder,
and the node's code defaults must equal the YAML's, so a node started without the YAML behaves the same. Each
start is a real ``actiseg_ros.node`` process (no DDS peer needed: the start-up log line states what it runs with).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ros_support import REPO, fresh_domain, ros_environment

from actiseg_core.contract import read_contract
from actiseg_core.runtime.cpu import cpu_flags, fast_int8_flag

YAML = REPO / "config" / "segment.yaml"
# the folder ``model_dir: auto`` resolves to: int8 only on a CPU with fast int8 instructions (the machine's own)
FAST_INT8 = fast_int8_flag(cpu_flags())
DEFAULT_MODEL = REPO / "models" / ("default_int8" if FAST_INT8 else "default")
CONTRACT_PARAMETERS = ("pixel_threshold", "positive_threshold", "vocabulary")


@pytest.fixture(scope="module")
def ros_env() -> dict[str, str]:
    return fresh_domain(ros_environment())


def _yaml_parameters() -> dict[str, object]:
    return yaml.safe_load(YAML.read_text())["/**"]["ros__parameters"]


def _start(ros_env: dict[str, str], *args: str, cwd: Path = REPO, timeout: float = 60) -> str:
    """Start the node, wait for its "ready" line (or its exit), stop it; returns what it printed."""
    node = subprocess.Popen([sys.executable, "-m", "actiseg_ros.node", "--ros-args", *args], cwd=cwd, env=ros_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in node.stdout:
            lines.append(line)
            if "ready:" in line:
                break
    finally:
        node.terminate()
        lines.append(node.communicate(timeout=timeout)[0])
    return "".join(lines)


def test_the_shipped_yaml_agrees_with_the_default_model_folder() -> None:
    parameters = _yaml_parameters()
    contract = read_contract(DEFAULT_MODEL)
    gate = contract.gate_config()
    for name, value in parameters.items():
        if name in CONTRACT_PARAMETERS:
            expected = list(contract.vocabulary) if name == "vocabulary" else getattr(contract, name)
            assert value == expected, f"{YAML.name} repeats {name} = {value!r}, the model folder says {expected!r}"
        if name.startswith("gate."):
            assert value == getattr(gate, name[len("gate."):]), f"{YAML.name}: {name} disagrees with the model"


def test_the_node_code_defaults_equal_the_yaml(ros_env) -> None:
    script = "import json; from actiseg_ros.node import NODE_DEFAULTS; print(json.dumps(NODE_DEFAULTS))"
    done = subprocess.run([sys.executable, "-c", script], env=ros_env, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == _yaml_parameters()


def test_the_model_folder_decides_unless_overridden(ros_env, tmp_path) -> None:
    contract = read_contract(DEFAULT_MODEL)
    log = _start(ros_env, "--params-file", str(YAML))
    precision = f"int8; CPU fast int8: {FAST_INT8}" if FAST_INT8 else "fp32; CPU fast int8: none"
    assert f"model {DEFAULT_MODEL.relative_to(REPO)} ({precision})" in log, log
    assert "thresholds pixel 0.5 positive 0.75" in log
    assert f"vocabulary {', '.join(contract.vocabulary)}; gate fitted on val;" in log
    overrides = tmp_path / "robot.yaml"
    overrides.write_text("/**:\n  ros__parameters:\n    vocabulary: [robot hand, mug]\n"
                         "    gate.min_temporal_iou: 0.3\n")
    log = _start(ros_env, "--params-file", str(YAML), "--params-file", str(overrides), "-p", "positive_threshold:=0.6")
    assert "thresholds pixel 0.5 positive 0.6" in log and "vocabulary robot hand, mug;" in log, log
    assert "gate fitted on val, overridden: min_temporal_iou" in log


def test_auto_picks_the_int8_folder_only_on_a_cpu_with_fast_int8(ros_env) -> None:
    from actiseg_core.runtime.cpu import cpu_flags, fast_int8_flag

    flag = fast_int8_flag(cpu_flags())
    log = _start(ros_env, "--params-file", str(YAML), "-p", "model_dir:=auto")
    expected = "models/default_int8 (int8" if flag else "models/default (fp32"
    assert f"ready: model {expected}; CPU fast int8: {flag or 'none'})" in log, log


def test_a_relative_model_dir_resolves_against_the_package_share(ros_env, tmp_path) -> None:
    """Started from any folder, the installed YAML's default (auto: a relative folder) finds the installed model."""
    from actiseg_core.runtime.cpu import cpu_flags, fast_int8_flag

    log = _start(ros_env, "--params-file", str(YAML), cwd=tmp_path)
    share = REPO / "install" / "actiseg_ros" / "share" / "actiseg_ros"
    folder, kind = ("default_int8", "int8") if fast_int8_flag(cpu_flags()) else ("default", "fp32")
    assert f"ready: model {share / 'models' / folder} ({kind}; " in log, log
