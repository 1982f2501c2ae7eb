# shellcheck shell=bash
# Source me (`. scripts/ros_env.sh`, also from scripts under `set -euo pipefail`) before starting a Python process
# that imports the generated messages (`from actiseg_ros.msg import ActiveObjects`) or runs the installed
# executables (install/actiseg_ros/lib/actiseg_ros/*). It
#   - puts the project's venv first on PATH (the executables' `#!/usr/bin/env python3` then finds it);
#   - brings the colcon build up to date (scripts/build_ros.sh: a no-op in milliseconds when nothing changed;
#     ACTISEG_ROS_NO_BUILD=1 skips that check);
#   - sources colcon's install/setup.bash: PYTHONPATH (install/.../site-packages, where the generated
#     actiseg_ros.msg lives beside the node's code), LD_LIBRARY_PATH (the generated type support libraries),
#     AMENT_PREFIX_PATH (install/actiseg_ros, then the venv, which holds the ROS wheels' share/ folders);
#   - sets the DDS defaults of DESIGN.md §9-10 unless already set: RMW_IMPLEMENTATION=rmw_fastrtps_cpp and
#     FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA (best-effort camera images otherwise lose most frames).
# ROS_DOMAIN_ID is left as it is.

_actiseg_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ -x "$_actiseg_repo/.venv/bin/python" ]; then
  export VIRTUAL_ENV="$_actiseg_repo/.venv"
  case ":$PATH:" in
    *":$VIRTUAL_ENV/bin:"*) ;;
    *) export PATH="$VIRTUAL_ENV/bin:$PATH" ;;
  esac
  case ":${AMENT_PREFIX_PATH:-}:" in
    *":$VIRTUAL_ENV:"*) ;;
    *) export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
  esac
fi

if [ "${ACTISEG_ROS_NO_BUILD:-0}" != 1 ]; then
  bash "$_actiseg_repo/scripts/build_ros.sh" || return 1
fi
if [ ! -f "$_actiseg_repo/install/setup.bash" ]; then
  echo "[ros_env] $_actiseg_repo/install/setup.bash missing: run scripts/build_ros.sh" >&2
  return 1
fi

# colcon's setup scripts read variables that may be unset (COLCON_TRACE, ...): under `set -u` they would abort
# the caller, so nounset is lifted while they run and restored after.
case $- in
  *u*) _actiseg_nounset=1 && set +u ;;
  *) _actiseg_nounset=0 ;;
esac
# shellcheck disable=SC1091
. "$_actiseg_repo/install/setup.bash"
if [ "$_actiseg_nounset" = 1 ]; then set -u; fi

# colcon leaves an empty entry in LD_LIBRARY_PATH when it was unset before ("lib:"), and an empty entry means
# the current directory to the dynamic loader: drop empty entries.
LD_LIBRARY_PATH="$(printf '%s' "${LD_LIBRARY_PATH:-}" | tr -s ':' | sed 's/^://; s/:$//')"
export LD_LIBRARY_PATH

export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export FASTDDS_BUILTIN_TRANSPORTS="${FASTDDS_BUILTIN_TRANSPORTS:-LARGE_DATA}"
unset _actiseg_repo _actiseg_nounset
