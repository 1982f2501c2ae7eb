#!/usr/bin/env bash
# Builds the actiseg_ros ROS 2 package (the messages in msg/, the Python code, the launch files and the
# `ros2 run` executables; see CMakeLists.txt) with colcon inside the project's venv, into build/ install/ log/ at
# the repository root. This is DESIGN.md §10's recipe for ROS 2 Kilted from PyPI wheels; with a real ROS 2 install
# a plain `colcon build` does the same.
#
# Idempotent and cheap when nothing changed (well under a second): two stamps hold the hashes of what each step
# depends on. The build is a --symlink-install: installed Python files are links to the sources, so an edit is
# live at once; adding or removing a file, or changing a message, re-runs colcon (incremental, seconds).
# Called at the end of scripts/setup_env.sh and by scripts/ros_env.sh; quiet unless something fails.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

venv="$repo/.venv"
py="$venv/bin/python"
if [ ! -x "$py" ]; then
  echo "[build_ros] no venv at $venv: run scripts/setup_env.sh first" >&2
  exit 1
fi
export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"

# Two processes may ask for the build at once (setup, a test sourcing ros_env.sh): one builds, the other waits
# and then finds the stamp current.
mkdir -p build log
exec 9> build/.build_ros.lock
flock 9

# Shows a step's captured output when it fails: the build is quiet unless something went wrong.
run_logged() {
  local log_file="$1"
  shift
  if ! "$@" > "$log_file" 2>&1; then
    echo "[build_ros] failed: $* (log: $log_file)" >&2
    tail -n 150 "$log_file" >&2
    exit 1
  fi
}

# 1. Build tools: colcon, ament_cmake and the rosidl generators, in ONE pip command constrained by
#    requirements.txt, so nothing pinned there (torch, numpy) moves. Re-done whenever either list changes, which
#    is also when setup_env.sh may have reinstalled ROS wheels whose CMake files need the rewrite below again.
deps_stamp="$(cat requirements.txt requirements-ros-build.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$venv/.ros_build_deps" 2> /dev/null || true)" != "$deps_stamp" ]; then
  echo "[build_ros] installing the ROS 2 build tools (colcon, ament_cmake, rosidl generators)"
  run_logged log/build_ros_pip.log "$py" -m pip install -r requirements-ros-build.txt -c requirements.txt
  # The wheels were built in a manylinux image and their exported CMake files name that image's Python
  # (/opt/python/cp311-cp311/...): point them at this interpreter's headers, and numpy's header folder at the
  # installed numpy's (the files name numpy 2's numpy/_core/include; the venv has numpy 1.26, numpy/core/include).
  "$py" - "$venv" << 'EOF'
import sys
import sysconfig
from pathlib import Path

import numpy

venv = Path(sys.argv[1])
old_prefix = "/opt/python/cp311-cp311"
replacements = [  # most specific first
    (f"{old_prefix}/lib/python3.11/site-packages/numpy/_core/include", numpy.get_include()),
    (f"{old_prefix}/include/python3.11", sysconfig.get_paths()["include"]),
    (f"{old_prefix}/lib/python3.11/site-packages", sysconfig.get_paths()["purelib"]),
]
for cmake_file in sorted((venv / "share").glob("*/cmake/*.cmake")):
    text = cmake_file.read_text()
    if old_prefix not in text:
        continue
    for old, new in replacements:
        text = text.replace(old, new)
    if old_prefix in text:
        sys.exit(f"[build_ros] {cmake_file} names {old_prefix} in a way this script does not know how to rewrite")
    cmake_file.write_text(text)
EOF
  echo "$deps_stamp" > "$venv/.ros_build_deps"
fi

# 2. colcon build, when anything it reads changed: the build inputs' contents, and the list of files of the
#    installed folders (their contents are linked, not copied, so only a new or removed file needs an install).
installed_dirs=()
for dir in actiseg_ros actiseg_core training launch config models; do
  if [ -d "$dir" ]; then installed_dirs+=("$dir"); fi
done
build_stamp="$(
  {
    echo "$venv"
    echo "$deps_stamp"
    cat CMakeLists.txt package.xml msg/*.msg scripts/build_ros.sh
    find "${installed_dirs[@]}" \( -name __pycache__ -o -name engines \) -prune -o -type f ! -name "*.pyc" ! -name prompts.pt -print | LC_ALL=C sort
  } | sha256sum | cut -d' ' -f1
)"
stamp_file="install/.actiseg_build_stamp"
site="install/actiseg_ros/lib/python3.11/site-packages"
# The stamp alone is not enough: install/ or build/ (which the installed executables link into) may have been
# deleted by hand.
if [ "$(cat "$stamp_file" 2> /dev/null || true)" = "$build_stamp" ] && [ -f install/setup.bash ] \
  && [ -f "$site/actiseg_ros/msg/__init__.py" ] && [ -e install/actiseg_ros/lib/actiseg_ros/segment_node ]; then
  exit 0
fi

echo "[build_ros] colcon build of actiseg_ros (messages, Python packages, executables)"
rm -f "$stamp_file"
# Only the venv on the prefix path: not an install/ sourced earlier in this shell (colcon warns that the venv has
# no local_setup files; that is expected). Tests are not built (BUILD_TESTING=OFF): pytest tests this package.
# Python3_EXECUTABLE pins CMake's FindPython to the venv's interpreter, the one whose numpy and site-packages the
# generated extension modules are built against.
run_logged log/build_ros.log env -u COLCON_PREFIX_PATH AMENT_PREFIX_PATH="$venv" \
  colcon --log-base log build --symlink-install --build-base build --install-base install --base-paths "$repo" \
  --event-handlers console_direct- desktop_notification- terminal_title- \
  --cmake-args -DPython3_EXECUTABLE="$py" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release
# A source file that was removed leaves a dangling link behind in install/ (symlink installs never delete).
find install -xtype l -delete
echo "$build_stamp" > "$stamp_file"
