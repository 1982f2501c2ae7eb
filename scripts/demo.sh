#!/usr/bin/env bash
# Main job on a fresh machine (README command one): install and build, render a short ActiSeg-Sim episode, record
# it as a rosbag2, start the segmenter node on the shipped default model, play the bag to it from a separate
# process over DDS, print the node's per-frame GO / NO-GO with reasons, write an overlay video, stop the node.
# Ends by itself; output lands under out/demo/ (DEMO_OUT to change).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
source scripts/ros_env.sh
out="${DEMO_OUT:-out/demo}"
clips="${DEMO_CLIPS:-3}"
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( $$ % 100 + 1 ))}"  # keep the demo's traffic to itself

actiseg-data render --out "$out/sim" --split val --clips "$clips" --seed 0
rm -rf "$out/episode.bag"
actiseg-bag to-bag --data "$out/sim" --split val --out "$out/episode.bag" --fps 5

python -m actiseg_ros.node --ros-args --params-file config/segment.yaml -p use_sim_time:=true \
  -p image_transport:=compressed -r image/compressed:=/camera/image_raw/compressed -r narration:=/narration \
  > "$out/node.log" 2>&1 &
node_pid=$!
# SIGTERM, not SIGINT: a background job of a non-interactive shell starts with SIGINT ignored.
stop_node() {
  kill -TERM "$node_pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$node_pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$node_pid" 2>/dev/null || true
}
trap stop_node EXIT

actiseg-bag replay --bag "$out/episode.bag" --live --video --out "$out/replay"
echo "demo finished: per-frame verdicts above; node log $out/node.log; overlay video $out/replay/overlay.mp4;" \
     "scores $out/replay/replay.json"
