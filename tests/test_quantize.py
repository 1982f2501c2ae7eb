"""actiseg_core.export.quantize: an int8 model folder from the session's tiny export, calibrated on the fixture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from actiseg_core.contract import read_contract, write_gate
from actiseg_core.export.quantize import is_current_int8, main, quantize_model_folder
from actiseg_core.runtime import Segmenter

FIXTURE = Path(__file__).parent / "fixtures" / "visor_mini"


@pytest.fixture(scope="module")
def int8_folder(tiny_export, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("int8") / "tiny_int8"
    info = quantize_model_folder(tiny_export.out_dir, out, FIXTURE, split="val", frames=4)
    assert info["calibration"] == {"data": "visor_mini", "split": "val", "frames": 4}
    assert 0.0 <= info["mask_iou_vs_fp32"] <= 1.0
    return out


def test_int8_folder_is_a_complete_model_folder_with_a_quantized_graph(int8_folder, tiny_export) -> None:
    names = sorted(path.name for path in int8_folder.iterdir())
    assert names == ["model.json", "model.pt", "postprocess.onnx", "preprocess.onnx", "segmenter.onnx",
                     "tokenizer.json"]
    ops = {node.op_type for node in onnx.load(int8_folder / "segmenter.onnx").graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    metadata = json.loads((int8_folder / "model.json").read_text())
    assert metadata["quantization"]["method"].startswith("onnxruntime static, QDQ")
    assert is_current_int8(tiny_export.out_dir, int8_folder)
    source = json.loads((tiny_export.out_dir / "model.json").read_text())["contract"]
    assert {**metadata["contract"], "gate": None} == {**source, "gate": None}  # the same contract ...
    assert metadata["contract"]["gate"] == {"thresholds": {}, "fitted": None}  # ... but no fp32 gate


def test_a_gate_fitted_for_the_int8_graph_survives_requantizing_it(int8_folder, tiny_export, tmp_path) -> None:
    folder = tmp_path / "again"
    shutil.copytree(int8_folder, folder)
    write_gate(folder, {"max_leakage": 0.4}, {"by": "test"})
    quantize_model_folder(tiny_export.out_dir, folder, FIXTURE, split="val", frames=4)
    assert read_contract(folder).gate.thresholds == {"max_leakage": 0.4}  # the same calibration: the same graph


def test_int8_predictions_track_the_fp32_graph(int8_folder, tiny_export) -> None:
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    fp32 = Segmenter.load(tiny_export.out_dir, threads=1, positive_threshold=0.0)
    int8 = Segmenter.load(int8_folder, threads=1, positive_threshold=0.0)  # hashes checked on load
    ours, theirs = int8.predict(image, "take cup", ["cup", "plate"]), fp32.predict(image, "take cup", ["cup", "plate"])
    assert ours.label_map.shape == theirs.label_map.shape
    assert np.abs(ours.union_probability - theirs.union_probability).mean() < 0.05


def test_staleness_and_errors(int8_folder, tiny_export, tmp_path, capsys) -> None:
    assert not is_current_int8(tiny_export.out_dir, tmp_path / "absent")
    assert main(["--model", str(tiny_export.out_dir), "--data", str(FIXTURE), "--split", "val",
                 "--out", str(int8_folder), "--if-stale"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["--model", str(tiny_export.out_dir), "--data", str(FIXTURE), "--out", str(tiny_export.out_dir)]) == 1
    assert "must differ" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "none"), "--data", str(FIXTURE), "--out", str(tmp_path / "x")]) == 1
    assert capsys.readouterr().err.strip().endswith("model folder not found")
