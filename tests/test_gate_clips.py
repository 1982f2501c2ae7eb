"""benchmarks/gate_clips.py: unsafe GO counted by clip as well as by frame."""

from __future__ import annotations

import json

import pytest
from benchmark_support import benchmark_module


def frame(sequence: str, go: bool, p_iou: float | None) -> dict:
    return {"sequence": sequence, "go": go, "p_iou": p_iou, "failure": p_iou is not None and p_iou < 0.5}


def test_one_bad_clip_is_one_unsafe_unit_however_many_of_its_frames_go(tmp_path) -> None:
    gate_clips = benchmark_module("gate_clips")
    frames = ([frame("bad", True, 0.3)] * 5 + [frame("good", True, 0.9)] * 5 + [frame("nogo", False, 0.1)] * 3
              + [frame("empty", True, None)])
    record = tmp_path / "gate.json"
    record.write_text(json.dumps({"model": "m", "fit_split": "val", "frames": {"val": frames}}))
    gate_clips.main(["--record", str(record), "--out", str(tmp_path)])
    val = json.loads((tmp_path / "gate_clips.json").read_text())["splits"]["val"]
    assert (val["go_frames"], val["unsafe_frames"], val["go_clips"], val["unsafe_clips"]) == (10, 5, 2, 1)
    assert val["most_unsafe_in_one_clip"] == 5 and val["unsafe_clip_names"] == ["bad"] and val["clips"] == 4
    assert val["clip_bound"] > val["frame_bound"]  # 1 of 2 clips is weaker evidence than 5 of 10 frames
    assert (tmp_path / "gate_clips.png").stat().st_size


def test_zero_unsafe_needs_59_units_for_a_five_percent_bound(tmp_path) -> None:
    gate_clips = benchmark_module("gate_clips")
    assert gate_clips.clips_needed() == 59
    safe = [frame(f"clip{i}", True, 0.9) for i in range(59)]
    assert gate_clips.split_figures(safe)["clip_bound"] <= 0.05 < gate_clips.split_figures(safe[:58])["clip_bound"]
    with pytest.raises(SystemExit):
        gate_clips.main(["--record", str(tmp_path / "missing.json")])
