"""actiseg-bag: real rosbag2 files (sqlite3 and MCAP) written from the VISOR-layout fixture, read back, and
replayed offline through the stream logic with the session's tiny exported model; the replay, actiseg-evaluate and
the gate fit share one failure definition, and the replay gates with the model folder's fitted gate."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from benchmark_support import benchmark_module
from PIL import Image

from actiseg_core.contract import write_gate
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.evaluation.cli import main as evaluate_main
from actiseg_core.runtime import Segmenter
from actiseg_ros.bag.cli import main
from actiseg_ros.bag.format import COMPRESSED_TOPIC, RAW_TOPIC, bag_image, read_bag, truth_labels
from actiseg_ros.bag.record import write_bag
from actiseg_ros.bag.replay import replay

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
    gate = report["gate"]
    assert report["frames"] == report["answered"] == gate["verdicts"] == 4 and gate["go"] + gate["no_go"] == 4
    assert set(report["metrics"]) >= {"p-mIoU", "n-mIoU", "p-cIoU", "n-cIoU", "gIoU", "Acc"}
    assert report["metrics"]["entries"] == 16  # 4 frames x 4 objects
    assert all(0 <= f["p_iou"] <= 1 and f["latency_ms"] > 0 for f in report["frames_detail"])
    for name in ("go_availability", "no_go_precision", "no_go_recall"):
        assert set(gate[name]) == {"rate", "count", "of", "ci95"}
    assert set(gate["unsafe_go_rate"]) == {"rate", "count", "of", "ci95", "upper95"}
    assert gate["unsafe_go_rate"]["of"] == gate["go"] and gate["no_go_recall"]["of"] == gate["true_failures"]
    written = json.loads((tmp_path / "replay" / "replay.json").read_text())
    assert written["frames"] == 4 and (tmp_path / "replay" / "overlay.mp4").stat().st_size > 0


@pytest.fixture()
def gated_model(tiny_export, tmp_path) -> Path:
    """A copy of the tiny model folder with a fitted gate that every frame's features can be checked against: a
    mask confidence no mask reaches, and a narration age the second frame of each sequence (0.2 s) exceeds."""
    folder = tmp_path / "gated_model"
    shutil.copytree(tiny_export.out_dir, folder)
    write_gate(folder, {"min_mask_confidence": 1.0, "max_narration_age_s": 0.1}, {"split": "test"})
    return folder


def test_offline_replay_gates_with_the_model_folders_gate(bag, gated_model, tmp_path) -> None:
    report = replay(bag, tmp_path / "replay", gated_model, progress=False, print_frames=False)
    assert report["gate_config"]["min_mask_confidence"] == 1.0 and report["gate_config"]["max_narration_age_s"] == 0.1
    frames = report["frames_detail"]
    assert report["gate"]["go"] == 0 and not any(f["go"] for f in frames)
    assert ["stale_narration" in f["reasons"] for f in frames] == [False, True, False, True]
    for f in frames:  # every mask fails the unreachable confidence bound
        confidence = (f.get("features") or {}).get("mask_confidence")
        assert confidence is None or "low_mask_confidence" in f["reasons"], f


@pytest.fixture()
def mixed_model(tiny_export, tmp_path) -> Path:
    """A copy of the tiny model folder whose frames get both verdicts: its positive scores are all near 0.5, and a
    contract threshold of 0.495 makes two objects of the first sequence active and none of the second (the
    folder's gate is neutral, so the first sequence's frames get GO, the second's NO-GO)."""
    model = tmp_path / "mixed_model"
    shutil.copytree(tiny_export.out_dir, model)
    metadata = json.loads((model / "model.json").read_text())
    metadata["contract"]["positive_threshold"] = 0.495
    (model / "model.json").write_text(json.dumps(metadata))
    return model


def test_replay_evaluate_and_fit_share_one_failure_definition(bag, mixed_model, tmp_path) -> None:
    """The same frames scored by actiseg-bag replay, actiseg-evaluate and the gate fit (at the folder's gate):
    the same p-IoUs, failures and verdicts, and the same gate figures with their counts."""
    model = mixed_model
    replayed = replay(bag, tmp_path / "replay", model, progress=False, print_frames=False)
    assert evaluate_main(["--data", str(FIXTURE), "--split", "val", "--checkpoint", str(model), "--out",
                          str(tmp_path / "eval"), "--no-progress", "--overlays", "0"]) == 0
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    gate_fit = benchmark_module("gate_fit")
    segmenter = Segmenter.load(model)
    config = segmenter.contract.gate_config()
    split = gate_fit.measure_split(segmenter, FIXTURE, "val", config)
    verdicts = gate_fit.gate_verdicts(split, config)

    def frames(report: dict) -> list[tuple]:
        return [(f["p_iou"], f["failure"], f["go"]) for f in report["frames_detail"]]

    fit_frames = [(f.as_json()["p_iou"], f.failure, bool(go)) for f, go in zip(split.frames, verdicts, strict=True)]
    assert frames(replayed) == frames(evaluated) == fit_frames
    assert [go for _, _, go in fit_frames] == [True, True, False, False]
    assert replayed["gate"] == evaluated["gate"] == gate_fit.gate_figures(split, config).as_json()
    assert replayed["gate"]["no_go_precision"]["of"] == 2 and replayed["gate"]["unsafe_go_rate"]["of"] == 2
    assert asdict(config) == evaluated["gate_config"] == replayed["gate_config"]
    # the walk's vectorised verdicts are the gate's own at the same thresholds
    walk_go = ~gate_fit.flags(split, {name: gate_fit._off(direction) for name, (_, direction) in
                                      gate_fit.CHECKS.items()})
    assert walk_go.tolist() == verdicts.tolist()


def test_the_fitted_gate_is_written_to_the_model_folder_and_replayed(bag, mixed_model, tmp_path) -> None:
    """gate_fit --write-model: the walk must stop the two failing GO frames, the chosen thresholds and how they were
    fitted land in the folder's contract, and the replay of that folder then says NO-GO where the fit did."""
    gate_fit = benchmark_module("gate_fit")
    out = tmp_path / "fit"
    gate_fit.main(["--model", str(mixed_model), "--data", str(FIXTURE), "--fit-split", "val", "--report-split", "val",
                   "--out", str(out), "--write-model"])
    report = json.loads((out / "gate_fit.json").read_text())
    assert report["results"]["val"]["go"] == 0 and report["results"]["val"]["no_go_recall"]["rate"] == 1.0
    assert (out / "gate_fit.md").read_text().count("unsafe-GO") >= 1 and (out / "gate_fit.png").stat().st_size
    contract = Segmenter.load(mixed_model).contract
    fitted = contract.gate.fitted
    assert fitted["fit_split"] == "val" and fitted["data_hash"] == {"val": report["results"]["val"]["data_hash"]}
    assert fitted["results"] == report["results"] and fitted["segmenter_sha256"]
    assert fitted["target_recall"] == 0.9 and fitted["min_precision"] == 0.6 and fitted["commit"]
    assert fitted["failure"] == "frame p-IoU < 0.5"
    assert {k: v for k, v in asdict(contract.gate_config()).items() if k in report["gate_config"]} == \
        report["gate_config"]
    assert report["gate_config"] != gate_fit.config_fields({name: gate_fit._off(direction) for name, (_, direction)
                                                            in gate_fit.CHECKS.items()})  # some check was fitted
    replayed = replay(bag, tmp_path / "replay", mixed_model, progress=False, print_frames=False)
    assert replayed["gate"]["go"] == 0 and replayed["gate_config"] == asdict(contract.gate_config())


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


def test_cli_replay_prints_the_gate_figures(bag, tiny_export, tmp_path, capsys) -> None:
    assert main(["replay", "--bag", str(bag), "--model", str(tiny_export.out_dir), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if line.split()[1] in ("GO", "NO-GO")]) == 4  # one line per frame
    assert "unsafe-GO rate" in out[-1] and "GO availability" in out[-1] and "frame p-IoU < 0.5" in out[-1]
