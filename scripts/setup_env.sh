#!/usr/bin/env bash
# Creates .venv and installs everything ActiSeg needs on a fresh machine. Idempotent: a stamp holding the hash of
# the dependency files skips the work when nothing changed. Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# System libraries for headless MuJoCo rendering (EGL through Mesa; OSMesa as fallback).
if ! ldconfig -p | grep -q 'libEGL.so.1' || ! ldconfig -p | grep -q 'libOSMesa'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[setup] installing Mesa EGL/OSMesa libraries"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1 libgl1-mesa-dri libosmesa6 >/dev/null
  else
    echo "[setup] warning: libEGL/libOSMesa missing and cannot apt-get install; rendering may fail" >&2
  fi
fi

python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null || python_bin=python3
"$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11), "ActiSeg needs Python 3.11"'

stamp_value="$(cat requirements.txt setup.py | sha256sum | cut -d' ' -f1)"
if [ ! -f .venv/.installed ] || [ "$(cat .venv/.installed)" != "$stamp_value" ]; then
  echo "[setup] creating .venv and installing pinned dependencies (first run: a few minutes)"
  [ -x .venv/bin/python ] || "$python_bin" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is pinned inside requirements.txt and installed in the same command as everything else, so no
  # package can pull a newer (CUDA) torch.
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  echo "$stamp_value" > .venv/.installed
fi
export PATH="$repo/.venv/bin:$PATH"
export VIRTUAL_ENV="$repo/.venv"
export MUJOCO_GL="${MUJOCO_GL:-egl}"

quietly() {  # run a setup step, show its log only if it fails
  local log_file="$1"
  shift
  if ! "$@" > "$log_file" 2>&1; then
    cat "$log_file" >&2
    exit 1
  fi
}
# The shipped default model folders (models/default, fp32, and models/default_int8, the node's CPU default) are
# committed complete, so a plain colcon build installs a working model without torch. Were models/default/model.pt
# retrained, the exporter rebuilds models/default (~20 s) and the int8 copy is requantized, calibrated on 4 rendered
# ActiSeg-Sim train clips (the same clips, seed 0, as the first 4 of the default training render); both checks are
# no-ops while the folders match the checkpoint and this code.
quietly .venv/export_default.log .venv/bin/python -m actiseg_core.export.onnx_export \
  --checkpoint models/default/model.pt --out models/default --if-stale
if ! .venv/bin/python -c 'import sys; from actiseg_core.export.quantize import is_current_int8
sys.exit(0 if is_current_int8("models/default", "models/default_int8") else 1)'; then
  if [ ! -f data/calibration_sim/ImageSets/train.json ]; then
    quietly .venv/calibration_render.log .venv/bin/actiseg-data render --out data/calibration_sim --split train \
      --clips 4 --seed 0
  fi
  quietly .venv/quantize_default.log .venv/bin/python -m actiseg_core.export.quantize --model models/default \
    --data data/calibration_sim --split train --out models/default_int8 --if-stale
fi

# The real launch / launch_ros / ros2 CLI (+ vision_msgs, composition_interfaces, message_filters) from upstream
# sources in ../shared/ros2 (no registry has them; DESIGN.md §9), when that folder sits beside the repository:
# Python packages into the venv, interfaces colcon-built into .venv/shared_ros2 (source its local_setup.bash
# before Python starts). About 2 minutes once; the stamp (shared/ros2's VERSION and install.sh + the requirement
# lists) skips it afterwards. Its colcon build needs the ROS build tools that scripts/build_ros.sh installs first
# (a no-op when current). A system ROS 2 install needs none of this.
shared_ros2="$repo/../shared/ros2"
if [ -f "$shared_ros2/install.sh" ]; then
  shared_ros2_stamp="$(cat "$shared_ros2/VERSION" "$shared_ros2/install.sh" requirements.txt \
    requirements-ros-build.txt | sha256sum | cut -d' ' -f1)"
  if [ "$(cat .venv/.shared_ros2 2> /dev/null || true)" != "$shared_ros2_stamp" ] \
    || [ ! -f .venv/shared_ros2/local_setup.bash ]; then
    echo "[setup] installing launch, launch_ros and the ros2 CLI from ../shared/ros2 (first run: ~2 minutes)"
    quietly .venv/build_ros_tools.log bash scripts/build_ros.sh
    # With the prefix sourced when it exists: install.sh's own "already done" check imports launch_ros, which
    # needs the composition_interfaces built there (a re-run then takes seconds).
    quietly .venv/shared_ros2.log flock .venv/.shared_ros2.lock bash -c \
      '[ ! -f "$2/local_setup.bash" ] || . "$2/local_setup.bash"; exec bash "$1" "$2"' _ "$shared_ros2/install.sh" \
      .venv/shared_ros2
    echo "$shared_ros2_stamp" > .venv/.shared_ros2
  fi
fi

# The ROS 2 package built with colcon into install/: the messages, the node's and the CLIs' `ros2 run`
# executables (DESIGN.md §10; first run ≈30 s, then milliseconds while nothing changed). A process that imports
# actiseg_ros.msg sources scripts/ros_env.sh first.
bash scripts/build_ros.sh
