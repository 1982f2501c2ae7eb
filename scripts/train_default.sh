#!/usr/bin/env bash
# Trains the shipped default model in one command (<= 60 min on 2 CPU cores): renders ActiSeg-Sim if missing,
# trains the baseline learner, evaluates on val and copies the result to models/default/. Resumable: rerun after
# an interruption and training continues from runs/default/last.pt.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
data="${DATA:-data/actiseg_sim}"
run="${RUN:-runs/default}"
actiseg-data render --out "$data" --split train --seed 0
actiseg-data render --out "$data" --split val --seed 0
actiseg-train --data "$data" --out "$run" --learner baseline --steps 1800 --batch-frames 8 --lr 5e-4 \
  --input-size 256x448 --image-encoder efficientnet_lite0 --seed 0 --eval-every 600 --threads 2
actiseg-evaluate --data "$data" --split val --checkpoint "$run/best.pt" --out "$run/eval_val"
mkdir -p models/default
python -m training.release "$run/best.pt" models/default/model.pt
cp "$run/eval_val/metrics.json" models/default/metrics_val.json
python -m training.model_card --model models/default/model.pt --metrics "$run/eval_val/metrics.json" \
  --log "$run/log.csv" --out models/default/MODEL_CARD.md
echo "default model: models/default/model.pt"
