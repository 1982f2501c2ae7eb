"""Shared fixtures: one tiny trained-shape checkpoint and its ONNX export, built once per test session.

The export (~15 s, mostly MiniLM's dynamo export) is shared by the export, runtime and ROS tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actiseg_core.export import ExportResult, export_segmenter
from actiseg_core.model import ModelConfig, build_segmenter

TINY_HEIGHT, TINY_WIDTH = 64, 96


@pytest.fixture(scope="module")
def one_torch_thread():
    """The machine's 2 cores are shared: oversubscribed OpenMP threads slow torch down by an order of magnitude.
    Modules that train opt in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A ResNet-small checkpoint at 64x96 whose FiLM is not the identity, so the masks depend on the text, and
    whose mask head is not the near-constant prior of a fresh model, so label maps have foreground."""
    torch.manual_seed(0)
    config = ModelConfig(image_encoder="resnet_small", pretrained=False, input_height=TINY_HEIGHT,
                         input_width=TINY_WIDTH)
    model = build_segmenter(config)
    with torch.no_grad():
        for film in model.fusion.films:
            film.generator.weight.normal_(0.0, 0.1)
        model.decoder.main_head.logits.weight.normal_(0.0, 1.0)
        model.decoder.main_head.logits.bias.zero_()
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    torch.save({"model_config": config.to_dict(), "model": model.state_dict(), "step": 123,
                "data_hash": {"train": "abc123"}}, path)
    return path


@pytest.fixture(scope="session")
def tiny_export(tiny_checkpoint, tmp_path_factory) -> ExportResult:
    """The tiny checkpoint exported to a model folder (read-only for tests: copy it before damaging files)."""
    return export_segmenter(tiny_checkpoint, tmp_path_factory.mktemp("export") / "tiny_model")
