#!/usr/bin/env bash
# Makes the shipped default model in one command: renders ActiSeg-Sim v2 where missing (train, val and the held-out
# splits the gate is reported on), trains the baseline learner with the generalization recipe
# (benchmarks/results/generalization.md: 176x320 input, augmentation; generalization_name_embedding/: each query also
# sees its object's name alone), evaluates on val, releases models/default,
# exports it and its int8 copy, fits each folder's feature density (on train) and gate (calibrated on val with a
# 95% Clopper-Pearson bound on unsafe-GO, reported on the held-out splits), and writes the model card.
# Resumable: rerun after an interruption and training continues from $RUN/last.pt; renders skip finished clips.
# About 75 min of training on 2 CPU cores, plus ~40 min of rendering on a machine without the data.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
data="${DATA:-data/actiseg_sim_v2}"
run="${RUN:-runs/default_v2}"
held_out=(test_novel_class test_novel_robot test_cross_renderer)
for split in train val "${held_out[@]}"; do
  actiseg-data render --version v2 --out "$data" --split "$split" --seed 0
done
actiseg-train --data "$data" --out "$run" --learner baseline --steps 2000 --batch-frames 8 --lr 5e-4 \
  --input-size 176x320 --image-encoder efficientnet_lite0 --augment --name-embedding --seed 0 --eval-every 500 --threads 2
actiseg-evaluate --data "$data" --split val --checkpoint "$run/best.pt" --out "$run/eval_val"
mkdir -p models/default
python -m training.release "$run/best.pt" models/default/model.pt
cp "$run/eval_val/metrics.json" models/default/metrics_val.json
python -m actiseg_core.export.onnx_export --checkpoint models/default/model.pt --out models/default
python -m actiseg_core.export.quantize --model models/default --data "$data" --split train --out models/default_int8
reports=()
for split in "${held_out[@]}"; do reports+=(--report-split "$split"); done
for folder in default_int8 default; do  # the int8 folder's record is benchmarks/results/gate.*, fp32's gate_fp32/
  out="benchmarks/results"
  [ "$folder" = default ] && out="benchmarks/results/gate_fp32"
  python benchmarks/density_fit.py --model "models/$folder" --data "$data" --split train --out "$out" --write-model
  python benchmarks/gate_fit.py --model "models/$folder" --data "$data" --fit-split val "${reports[@]}" \
    --max-unsafe-go-bound 0.05 --ood-quantile 0.98 --min-name-familiarity 0.9 --out "$out" --name gate --write-model
  python benchmarks/gate_clips.py --record "$out/gate.json" --out "$out"  # the same figures with clips as units
done
python -m training.model_card --model models/default/model.pt --metrics "$run/eval_val/metrics.json" \
  --log "$run/log.csv" --out models/default/MODEL_CARD.md \
  --generalization benchmarks/results/generalization_name_embedding/generalization.json --variant lite0_176_aug_name --gate benchmarks/results/gate.json
echo "default model: models/default (fp32), models/default_int8 (int8)"
