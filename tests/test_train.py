"""actiseg-train end to end on the VISOR-layout fixture with a tiny model: learning, resume after a kill or Ctrl-C,
two-process DDP, and one-line errors for bad input."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from training.data import FrameDataset
from training.train import main

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "visor_mini"
STEPS = 40
TINY = ["--data", str(FIXTURE), "--split", "val", "--val-split", "val", "--image-encoder", "resnet_small",
        "--input-size", "64x96", "--batch-frames", "2", "--warmup-steps", "2", "--lr", "2e-3", "--no-progress",
        "--threads", "1", "--ckpt-every", "4", "--log-every", "4"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # the machine's 2 cores are shared: never oversubscribe them


def tiny(out: Path, *extra: str) -> list[str]:
    return [*TINY, "--out", str(out), *extra]


def log_rows(run: Path) -> list[dict[str, str]]:
    with open(run / "log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def checkpoint(run: Path, name: str = "last.pt") -> dict:
    return torch.load(run / name, map_location="cpu", weights_only=True)


def fresh_run(tmp: Path, straight: Path, name: str) -> Path:
    """A run folder with the prompt-embedding cache of ``straight``, so the text model is not loaded again."""
    out = tmp / name
    out.mkdir()
    shutil.copy(straight / "prompts.pt", out)
    return out


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run of STEPS steps with validation half-way and at the end."""
    out = tmp_path_factory.mktemp("train") / "straight"
    assert main(tiny(out, "--steps", str(STEPS), "--eval-every", "20")) == 0
    return out


def test_a_few_steps_reduce_the_loss_and_write_the_run(straight: Path) -> None:
    rows = log_rows(straight)
    losses = [float(row["loss"]) for row in rows]
    assert [int(row["step"]) for row in rows] == list(range(4, STEPS + 1, 4))
    assert losses[-1] < 0.9 * losses[0], losses
    evaluated = [row for row in rows if row["val_gIoU"]]
    assert [int(row["step"]) for row in evaluated] == [20, 40]
    last = checkpoint(straight)
    assert last["step"] == STEPS and last["world_size"] == 1 and last["learner"] == {}
    assert {"model_config", "model", "optimizer", "scheduler", "rng", "data_hash", "config"} <= last.keys()
    assert {"torch", "numpy", "python"} <= last["rng"][0].keys()
    run = json.loads((straight / "run.json").read_text())
    assert run["data_hash"] == last["data_hash"] and rows[0]["data_hash"] == last["data_hash"]["train"]
    assert (straight / "best.pt").is_file() and checkpoint(straight, "best.pt")["best_giou"] == last["best_giou"]


def _assert_same_state(a: dict, b: dict) -> None:
    assert a["step"] == b["step"]
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, atol=1e-6, rtol=0, msg=key)
    for index, state in a["optimizer"]["state"].items():
        torch.testing.assert_close(b["optimizer"]["state"][index]["exp_avg"], state["exp_avg"], atol=1e-6, rtol=0)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_resume_after_an_interruption_reproduces_the_uninterrupted_run(straight: Path, tmp_path: Path,
                                                                        stop: signal.Signals) -> None:
    out = fresh_run(tmp_path, straight, "interrupted")
    args = tiny(out, "--steps", str(STEPS), "--eval-every", "20")
    process = subprocess.Popen([sys.executable, "-m", "training.train", *args], cwd=REPO, env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while process.poll() is None and not (out / "last.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    interrupted_at = checkpoint(out)["step"]
    assert 0 < interrupted_at < STEPS, "the run ended before it could be interrupted"
    if stop == signal.SIGINT:
        assert process.returncode == 130 and "rerun the same command to resume" in stderr
    else:
        assert process.returncode == -signal.SIGKILL

    assert main(args) == 0  # the same command resumes from last.pt
    _assert_same_state(checkpoint(straight), checkpoint(out))
    steps = [int(row["step"]) for row in log_rows(out)]
    assert steps == sorted(set(steps)) and steps[-1] == STEPS  # rows after the checkpoint were dropped, not doubled
    assert json.loads((out / "run.json").read_text())["resumed_at_step"] == interrupted_at


def test_ddp_with_two_processes_learns_and_keeps_ranks_in_sync(straight: Path, tmp_path: Path) -> None:
    out = fresh_run(tmp_path, straight, "ddp")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "training.train", *tiny(out, "--steps", "12", "--batch-frames", "1", "--log-every", "3")]
    result = subprocess.run(command, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr  # whole: each rank's own error is needed to tell why
    assert "2 ranks agree on parameters" in result.stdout
    losses = [float(row["loss"]) for row in log_rows(out)]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert checkpoint(out)["world_size"] == 2 and len(checkpoint(out)["rng"]) == 2


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = int(exc.code)
    return code, capsys.readouterr().err.strip().splitlines()


def _no_objects_root(tmp_path: Path) -> Path:
    root = tmp_path / "no_objects"
    shutil.copytree(FIXTURE, root)
    records = json.loads((root / "ImageSets" / "val.json").read_text())
    records[0]["object_classes"] = {}
    (root / "ImageSets" / "val.json").write_text(json.dumps(records))
    return root


def _sided_root(tmp_path: Path) -> Path:
    root = tmp_path / "sided"
    shutil.copytree(FIXTURE, root)
    records = json.loads((root / "ImageSets" / "val.json").read_text())
    records[1]["narration"] = "Move the cupboard to the LEFT"
    (root / "ImageSets" / "val.json").write_text(json.dumps(records))
    return root


@pytest.mark.parametrize(("change", "code", "message"), [
    (["--input-size", "60x96"], 2, "multiples of 16"),
    (["--input-size", "240by320"], 2, "expected HEIGHTxWIDTH"),
    (["--learner", "nope"], 1, "unknown learner 'nope'; known learners: baseline"),
    (["--learner-arg", "q=0.7"], 1, "has no parameter q"),
    (["--batch-frames", "5"], 1, "--batch-frames 5 is more than the 4 frames"),
    (["--steps", "0"], 2, "expected a positive integer"),
    (["--data", "{tmp}/missing"], 1, "data root not found"),
    (["--data", "{tmp}"], 1, "not an ActionVOS-layout root"),
    (["--data", "{no_objects}"], 1, "has no object_classes"),
    (["--val-split", "test"], 1, "test.json: file not found"),
    (["--val-data", "{tmp}/missing"], 1, "missing: data root not found"),
    (["--data", "{sided}", "--hflip"], 1, "--hflip would mirror 1 narration(s) that name a side"),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   change: list[str], code: int, message: str) -> None:
    roots = {"tmp": tmp_path, "no_objects": _no_objects_root(tmp_path), "sided": _sided_root(tmp_path)}
    change = [c.format(**roots) if "{" in c else c for c in change]
    returned, stderr = _run_cli([*tiny(tmp_path / "run", "--steps", "2"), *change], capsys)
    assert returned == code and len(stderr) == 1 and message in stderr[0], stderr


def test_resume_refuses_other_settings_and_corrupt_checkpoints_and_no_resume_starts_over(
        straight: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "copy"
    shutil.copytree(straight, out)
    code, stderr = _run_cli([*tiny(out, "--steps", str(STEPS)), "--lr", "1e-3"], capsys)
    assert code == 1 and len(stderr) == 1 and "made with different settings: --lr (0.002 -> 0.001)" in stderr[0]
    decoded: list[int] = []
    decode = FrameDataset.frame
    monkeypatch.setattr(FrameDataset, "frame", lambda self, index: decoded.append(index) or decode(self, index))
    code, stderr = _run_cli(tiny(out, "--steps", str(STEPS)), capsys)  # the same command: nothing left to do
    assert code == 0 and checkpoint(out)["step"] == STEPS
    assert decoded == []  # and no frame was decoded to find that out
    monkeypatch.undo()
    (out / "last.pt").write_bytes(b"not a checkpoint")
    code, stderr = _run_cli(tiny(out, "--steps", str(STEPS)), capsys)
    assert code == 1 and len(stderr) == 1 and "corrupt or unreadable checkpoint" in stderr[0]
    assert main(tiny(out, "--steps", "2", "--no-resume", "--val-split", "none")) == 0  # starts over
    assert checkpoint(out)["step"] == 2 and [r["step"] for r in log_rows(out)] == ["2"]
    assert not (out / "best.pt").exists()  # the earlier run's best is gone with it
