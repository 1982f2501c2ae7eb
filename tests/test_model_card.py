"""training.model_card: the card of a checkpoint, its latency measured with the query width the model takes."""

from __future__ import annotations

import json

import torch

from actiseg_core.model import ModelConfig, build_segmenter
from training.model_card import main


def test_a_name_embedding_model_gets_its_card_with_a_measured_latency(tmp_path) -> None:
    config = ModelConfig(image_encoder="resnet_small", pretrained=False, input_height=64, input_width=96,
                         name_embedding=True)
    model_path = tmp_path / "model.pt"
    torch.save({"model_config": config.to_dict(), "model": build_segmenter(config).state_dict(), "step": 7,
                "data_hash": {"train": "abc"}, "config": {"learner": "baseline", "seed": 3, "batch_frames": 2}},
               model_path)
    scores = {"p-mIoU": 40.0, "n-mIoU": 1.0, "p-cIoU": 50.0, "n-cIoU": 2.0, "gIoU": 60.0, "Acc": 80.0}
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"data": "data/actiseg_sim_v2", "frames": 12, "data_hash": "d1",
                                   "thresholds": {"pixel": 0.5, "positive": 0.75},
                                   "results": {"model": scores, "empty": dict.fromkeys(scores, 0.0)}}))
    log = tmp_path / "log.csv"
    log.write_text("step,elapsed_s\n7,90.0\n")
    out = tmp_path / "MODEL_CARD.md"
    assert main(["--model", str(model_path), "--metrics", str(metrics), "--log", str(log), "--out", str(out),
                 "--repeats", "3"]) == 0
    card = out.read_text()
    assert "its object's name alone" in card and "| seed | 3 |" in card and "1.5 min for 7 steps" in card
    p50 = float(card.split("p50 ")[1].split(" ms")[0])
    assert p50 > 0
