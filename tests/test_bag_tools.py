"""actiseg-bag (issue 5, item 5): real rosbag2 files (sqlite3 and MCAP) written from the VISOR-layout fixture, read
back, and replayed offline through the stream logic with the session's tiny exported model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from actiseg_core.data.loader import ActionVOSDataset
from training.bag_tools import COMPRESSED_TOPIC, RAW_TOPIC, bag_image, main, read_bag, replay, truth_labels, write_bag

FIXTURE = Path(__file__).parent / "fixtures" / "visor_mini"


@pytest.fixture(scope="module", params=["sqlite3", "mcap"])
def bag(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bags") / f"val_{request.param}"
    summary = write_bag(FIXTURE, "val", out, storage=request.param, fps=5.0, progress=False)
    assert summary["frames"] == 4 and summary["sequences"] == 2 and summary["image_topic"] == COMPRESSED_TOPIC
    return out


def test_bag_round_trips_frames_narrations_and_ground_truth(bag) -> None:
    dataset = ActionVOSDataset(FIXTURE, "val")
    frames = list(read_bag(bag))
    assert len(frames) == len(dataset.frames) == 4
    stamps = [frame.stamp_ns for frame in frames]
    assert stamps == sorted(stamps) and stamps[1] - stamps[0] == 200_000_000  # 5 fps within a sequence
    for frame, ref in zip(frames, dataset.frames, strict=True):
        objects = [obj for _, obj in sorted(ref.sequence.objects.items())]
        assert frame.narration == ref.sequence.narration
        assert frame.object_names == [obj.name for obj in objects]
        assert np.array_equal(bag_image(frame.image_message), np.asarray(Image.open(ref.image_path).convert("RGB")))
        assert np.array_equal(truth_labels(frame.truth), dataset.load_labels(ref))
        assert [int(i) for i in frame.truth.object_ids] == [obj.index for obj in objects]
        assert [bool(a) for a in frame.truth.active] == [obj.positive for obj in objects]
    assert [bool(frame.raw_narration) for frame in frames] == [True, False, True, False]  # once per sequence


def test_raw_image_bags_decode_identically(tmp_path) -> None:
    out = tmp_path / "raw"
    assert write_bag(FIXTURE, "val", out, raw=True, max_sequences=1, progress=False)["image_topic"] == RAW_TOPIC
    frames = list(read_bag(out))
    ref = ActionVOSDataset(FIXTURE, "val").frames[0]
    assert len(frames) == 2 and frames[0].image_message.encoding == "rgb8"
    assert np.array_equal(bag_image(frames[0].image_message), np.asarray(Image.open(ref.image_path).convert("RGB")))


def test_offline_replay_scores_every_frame(bag, tiny_export, tmp_path) -> None:
    report = replay(bag, tmp_path / "replay", tiny_export.out_dir, video=True, progress=False, print_frames=False)
    assert report["frames"] == report["answered"] == 4 and report["go"] + report["no_go"] == 4
    assert set(report["metrics"]) == {"p-mIoU", "n-mIoU", "p-cIoU", "n-cIoU", "gIoU", "Acc"}
    assert all(0 <= f["p_iou"] <= 1 and f["latency_ms"] > 0 for f in report["frames_detail"])
    written = json.loads((tmp_path / "replay" / "replay.json").read_text())
    assert written["frames"] == 4 and (tmp_path / "replay" / "overlay.mp4").stat().st_size > 0


def test_cli_errors_are_one_line(tmp_path, capsys, bag) -> None:
    assert main(["replay", "--bag", str(tmp_path / "absent"), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    assert capsys.readouterr().err.strip().endswith("bag not found")
    assert main(["to-bag", "--data", str(FIXTURE), "--out", str(bag)]) == 1
    assert "already exists" in capsys.readouterr().err
    (tmp_path / "not_a_bag").mkdir()
    assert main(["replay", "--bag", str(tmp_path / "not_a_bag"), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    assert "cannot read the bag" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["to-bag", "--data", str(FIXTURE), "--out", str(tmp_path / "x"), "--fps", "0"])
    assert exit_info.value.code == 2 and capsys.readouterr().err.count("\n") == 1
