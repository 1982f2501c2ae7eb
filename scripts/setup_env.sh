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

# The shipped default model as a deployment folder (ONNX graphs, tokenizer, model.json) beside its checkpoint:
# the runtime, the ROS node and the demo load it. Built once from models/default/model.pt (~25 s), then skipped
# while the checkpoint is unchanged.
quietly() {  # run a setup step, show its log only if it fails
  local log_file="$1"
  shift
  if ! "$@" > "$log_file" 2>&1; then
    cat "$log_file" >&2
    exit 1
  fi
}
quietly .venv/export_default.log .venv/bin/python -m actiseg_core.export.onnx_export \
  --checkpoint models/default/model.pt --out models/default --if-stale
# Then its int8 copy (models/default_int8), the node's default on CPUs: calibrated on 4 rendered ActiSeg-Sim train
# clips (~20 s once; the same clips, seed 0, as the first 4 of the default training render).
if [ ! -f data/calibration_sim/ImageSets/train.json ]; then
  quietly .venv/calibration_render.log .venv/bin/actiseg-data render --out data/calibration_sim --split train \
    --clips 4 --seed 0
fi
quietly .venv/quantize_default.log .venv/bin/python -m actiseg_core.export.quantize --model models/default \
  --data data/calibration_sim --split train --out models/default_int8 --if-stale

# The ROS 2 package built with colcon into install/: the messages, the node's and the CLIs' `ros2 run`
# executables (DESIGN.md §10; first run ≈30 s, then milliseconds while nothing changed). A process that imports
# actiseg_ros.msg sources scripts/ros_env.sh first.
bash scripts/build_ros.sh
