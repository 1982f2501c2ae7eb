#!/usr/bin/env bash
# Main job on a fresh machine: install, render a small ActiSeg-Sim benchmark, print its statistics, make a noisy
# training view (Alg. 1 + Alg. 2) of it and report the noise severity. Output lands under out/demo/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
out="${DEMO_OUT:-out/demo}"
actiseg-data render --out "$out/sim" --split train --clips 6 --seed 0
actiseg-data render --out "$out/sim" --split val --clips 2 --seed 0
actiseg-data stats "$out/sim" --splits train val --json "$out/stats.json"
actiseg-data corrupt --root "$out/sim" --split train --out "$out/sim_name40_mask15" --text-rate 0.4 --mask-kernel 15
actiseg-data noise-report --root "$out/sim" --split train --out "$out/noise_report"
echo "demo finished: data in $out/sim, noisy view in $out/sim_name40_mask15, report in $out/noise_report"
