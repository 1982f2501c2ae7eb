"""The shipped default model folders scored on ActiSeg-Sim val through the deployment runtime, beside the model card.

    python benchmarks/default_model_runtime.py [--data data/actiseg_sim] [--out benchmarks/results]

Each folder goes through ``actiseg-evaluate`` (the one evaluator: the folder's preprocess / segmenter / postprocess
graphs, its text encoder and its fitted gate); the model card's row was scored on the training path (PIL resize,
fp32 MiniLM, torch upsampling). Writes ``default_model_runtime.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from provenance import machine, write_record

from actiseg_core.evaluation.cli import evaluate
from actiseg_core.metrics import METRIC_COLUMNS

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"models/default (fp32)": REPO / "models" / "default",
           "models/default_int8": REPO / "models" / "default_int8"}
COUNTS = ("TP", "TN", "FP", "FN")
RATES = ("unsafe_go_rate", "go_availability", "no_go_precision", "no_go_recall")


def _rate(rate: dict) -> str:
    return "n/a" if not rate["of"] else f"{rate['count'] / rate['of']:.3f} ({rate['count']}/{rate['of']})"


def markdown(report: dict) -> str:
    card = report["model_card"]
    lines = ["# The default model on ActiSeg-Sim val through the deployment runtime", "",
             f"`python benchmarks/default_model_runtime.py` (commit {report['machine']['commit']}, "
             f"{report['machine']['cpu']}): each folder scored by `actiseg-evaluate` as the robot runs it (its "
             "graphs, the deployed int8 MiniLM text encoder, its own fitted gate), val data hash "
             f"`{report['data_hash']}`. The model card's row was scored on the training path (PIL resize, fp32 "
             "MiniLM, torch upsampling). The gates were fitted on this split (`gate.md`, `gate_fp32/gate.md`), so "
             "the gate columns are fit-split figures; held-out ones are in those files. Rates are count / of.", "",
             "| path | " + " | ".join(METRIC_COLUMNS) + " | " + " | ".join(COUNTS) + " | unsafe-GO rate | "
             "GO availability | NO-GO precision | NO-GO recall |", "|---" * (1 + len(METRIC_COLUMNS) + 8) + "|",
             "| model card (training path, fp32) | " + " | ".join(f"{card[c]:.1f}" for c in METRIC_COLUMNS) + " | "
             + " | ".join(str(card[c]) for c in COUNTS) + " | | | | |"]
    for name, row in report["runtime"].items():
        result, gate = row["results"], row["gate"]
        lines.append(f"| {name}, runtime | " + " | ".join(f"{result[c]:.1f}" for c in METRIC_COLUMNS) + " | "
                     + " | ".join(str(result[c]) for c in COUNTS) + " | "
                     + " | ".join(_rate(gate[r]) for r in RATES) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "actiseg_sim")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    card = json.loads((REPO / "models" / "default" / "metrics_val.json").read_text())
    runtime, data_hash = {}, None
    with tempfile.TemporaryDirectory() as scratch:
        for name, folder in FOLDERS.items():
            report = evaluate(args.data, "val", folder, Path(scratch) / folder.name, overlays=0)
            runtime[name] = {"results": report["results"]["model"], "gate": report["gate"],
                             "gate_config": report["gate_config"]}
            data_hash = report["data_hash"]
    report = {"split": "val", "data_hash": data_hash, "model_card": card["results"]["model"], "runtime": runtime,
              "machine": machine()}
    write_record(args.out, "default_model_runtime", report, markdown(report))


if __name__ == "__main__":
    main()
