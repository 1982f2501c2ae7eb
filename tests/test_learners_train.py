"""Every robust learner through the real ``actiseg-train`` path on the VISOR-layout fixture (tiny model, a few
steps), and an interrupted run resuming to the same state, learner histories and peer network included."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from learner_sets import SELECTING

from actiseg_core.data.split_info import load_split
from actiseg_core.errors import ActiSegError
from actiseg_core.learners.selection_log import SELECTION_LOG
from training import train as train_module
from training.data import PromptTable, split_prompts, strong_photometric
from training.distributed import DistInfo
from training.train import StopRequest, TrainConfig, main, setup_run

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "visor_mini"
STEPS, STOP_AT = 6, 3  # the fixture's 4 frames in batches of 2: 2 steps an epoch, so histories are revisited
TINY = ["--data", str(FIXTURE), "--split", "val", "--val-split", "none", "--image-encoder", "resnet_small",
        "--input-size", "64x96", "--batch-frames", "2", "--warmup-steps", "1", "--lr", "2e-3", "--no-progress",
        "--threads", "1", "--ckpt-every", "4", "--log-every", "2", "--steps", str(STEPS)]
ROBUST = ("baseline_bce", "coteaching", "gce", "sce", "apl", "elr", "npn", "pmhm", "pmhm_select", "query_select",
          "relabel", "pmhm_relabel", "mention_select")
# histories, a peer, or random perturbations to restore
STATEFUL = ("coteaching", "elr", "npn", "pmhm", "pmhm_select", "pmhm_relabel")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture's prompt embeddings, computed once, so each run folder starts with them."""
    cache = tmp_path_factory.mktemp("prompts") / "prompts.pt"
    PromptTable.build(split_prompts(load_split(FIXTURE, "val")), cache)
    return cache


@pytest.fixture(scope="module")
def straight(prompts: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One uninterrupted run per robust learner."""
    runs = {}
    for name in ROBUST:
        out = _run_folder(tmp_path_factory.mktemp(name), prompts)
        assert main([*TINY, "--out", str(out), "--learner", name]) == 0
        runs[name] = out
    return runs


def _run_folder(parent: Path, prompts: Path) -> Path:
    out = parent / "run"
    out.mkdir()
    shutil.copy(prompts, out)
    return out


def _checkpoint(run: Path) -> dict[str, Any]:
    return torch.load(run / "last.pt", map_location="cpu", weights_only=True)


def _assert_same(a: Any, b: Any, where: str = "") -> None:
    """Nested dicts / lists of tensors and numbers are equal (tensors to 1e-6)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=0, msg=where)
    else:
        assert a == b, where


@pytest.mark.parametrize("name", ROBUST)
def test_learner_trains_through_actiseg_train(straight: dict[str, Path], name: str) -> None:
    run = straight[name]
    with open(run / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    learner = train_module.learner_type(name)
    assert [int(row["step"]) for row in rows] == [2, 4, 6]
    assert all(math.isfinite(float(row[term])) for row in rows for term in ("loss", *learner.terms))
    checkpoint = _checkpoint(run)
    assert checkpoint["step"] == STEPS and checkpoint["config"]["learner"] == name
    assert checkpoint["model_config"]["aux_head"] == name.startswith("pmhm")
    state = checkpoint["learner"]
    if name in ("elr", "npn"):
        visits = state["history"]["visits"]
        assert len(visits) == 16 and (visits == STEPS // 2).all()  # every query of the 4 frames, once per epoch
        assert state["history"]["rows"].shape == (16, 64, 96) and state["history"]["rows"].dtype == torch.uint8
    if name == "coteaching":
        assert state["peer"].keys() == checkpoint["model"].keys()
        assert any(not torch.equal(state["peer"][k], v) for k, v in checkpoint["model"].items())
    if name in SELECTING:  # per-query counts of the selecting visits; the fixture's 16 queries
        assert state[SELECTION_LOG]["visits"].shape == (16,)
        assert (state[SELECTION_LOG]["picked"] <= state[SELECTION_LOG]["visits"]).all()
    if name not in ("elr", "npn", "coteaching", *SELECTING):
        assert state == {}


class StopAfter(StopRequest):
    """A Ctrl-C that arrives during step STOP_AT: the trainer saves last.pt after that step and stops."""

    def __init__(self) -> None:
        self.checks = 0
        super().__init__()

    @property
    def requested(self) -> bool:
        self.checks += 1
        return self.checks >= STOP_AT

    @requested.setter
    def requested(self, value: bool) -> None:  # the base class's initial False; a real signal is not expected
        pass


@pytest.mark.parametrize("name", STATEFUL)
def test_interrupted_run_resumes_to_the_same_state(straight: dict[str, Path], prompts: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    out = _run_folder(tmp_path, prompts)
    args = [*TINY, "--out", str(out), "--learner", name]
    with monkeypatch.context() as patch:
        patch.setattr(train_module, "StopRequest", StopAfter)
        assert main(args) == 130
    interrupted = _checkpoint(out)
    assert interrupted["step"] == STOP_AT
    if name in ("elr", "npn"):
        assert interrupted["learner"]["history"]["visits"].sum() > 0
    assert main(args) == 0
    resumed, reference = _checkpoint(out), _checkpoint(straight[name])
    for key in ("step", "model", "learner"):
        _assert_same(reference[key], resumed[key], key)
    _assert_same(reference["optimizer"]["state"], resumed["optimizer"]["state"], "optimizer")


def test_strong_view_is_photometric_and_reproducible() -> None:
    image = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    strong = strong_photometric(image, np.random.default_rng([0, 1, 2]))
    assert strong.shape == image.shape and strong.dtype == np.uint8 and not np.array_equal(strong, image)
    assert np.array_equal(strong, strong_photometric(image, np.random.default_rng([0, 1, 2])))


def test_npn_batches_carry_a_strong_view_and_others_do_not(prompts: Path, tmp_path: Path) -> None:
    for name, expected in (("npn", True), ("gce", False)):
        (tmp_path / name).mkdir()
        out = _run_folder(tmp_path / name, prompts)
        cfg = TrainConfig(data=FIXTURE, out=out, split="val", val_split=None, learner=name, steps=1, batch_frames=2,
                          image_encoder="resnet_small", pretrained=False, input_size=(64, 96), progress=False)
        run = setup_run(cfg, DistInfo(0, 1, torch.device("cpu")))
        _, batch = next(run.batches())
        assert (batch.strong_images is not None) == expected
        if expected:
            assert batch.strong_images.shape == batch.images.shape
            assert not torch.equal(batch.strong_images, batch.images)


@pytest.mark.parametrize(("name", "extra", "message"), [
    ("elr", {"hflip": True}, "--hflip cannot be used with learner 'elr'"),
    ("npn", {"augment": True}, "--augment cannot be used with learner 'npn'"),
    ("npn", {"world_size": 2}, "learner 'npn' keeps per-pixel histories in one process"),
])
def test_pixel_history_learners_refuse_misaligning_setups(tmp_path: Path, name: str, extra: dict[str, Any],
                                                          message: str) -> None:
    cfg = TrainConfig(data=FIXTURE, out=tmp_path, split="val", learner=name, hflip=extra.get("hflip", False),
                      augment=extra.get("augment", False))
    with pytest.raises(ActiSegError, match=message):
        setup_run(cfg, DistInfo(0, extra.get("world_size", 1), torch.device("cpu")))
