"""The evaluator (actiseg_core.evaluation): the failure definition and the gate figures on hand-made frames, and
actiseg-evaluate on the VISOR-layout fixture with a freshly trained tiny checkpoint: outputs, references, gate
figures, consistency of the written label maps with the reported metrics, and one-line errors for bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actiseg_core.data.layout import read_label_png
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.evaluation import (
    FAILURE_P_IOU,
    Answer,
    FrameTruth,
    GateFigures,
    Rate,
    Scorer,
    frame_p_iou,
    palette_labels,
)
from actiseg_core.evaluation.cli import main as evaluate_main
from actiseg_core.metrics import METRIC_COLUMNS, ActionVOSMetrics
from training.train import main as train_main

FIXTURE = Path(__file__).parent / "fixtures" / "visor_mini"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny checkpoint (resnet_small, 64x96) trained for a few steps on the fixture, validated on a copy of it
    given as a separate root (as a noisy training view is validated on the clean data)."""
    tmp = tmp_path_factory.mktemp("evaluate")
    shutil.copytree(FIXTURE, tmp / "clean")
    out = tmp / "run"
    args = ["--data", str(FIXTURE), "--split", "val", "--val-data", str(tmp / "clean"), "--out", str(out),
            "--steps", "6",
            "--image-encoder", "resnet_small", "--input-size", "64x96", "--batch-frames", "2", "--warmup-steps", "1",
            "--no-progress", "--threads", "1"]
    assert train_main(args) == 0
    assert json.loads((out / "run.json").read_text())["frames"] == {"train": 4, "val": 4}
    return out / "last.pt"


@pytest.fixture(scope="module")
def evaluated(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("evaluate") / "eval"
    assert evaluate_main(["--data", str(FIXTURE), "--split", "val", "--checkpoint", str(trained), "--out", str(out),
                          "--no-progress", "--device", "cpu"]) == 0
    return out


def test_evaluate_writes_metrics_for_the_model_and_the_references(evaluated: Path,
                                                                   trained: Path) -> None:
    out = evaluated
    report = json.loads((out / "metrics.json").read_text())
    assert set(report["results"]) == {"model", "empty", "gripper-only"}
    assert report["thresholds"] == {"pixel": 0.5, "positive": 0.75} and report["frames"] == 4
    assert report["model_info"]["kind"].startswith("torch checkpoint") and report["data_hash"]
    assert report["model_info"]["checkpoint_sha256"] == hashlib.sha256(trained.read_bytes()).hexdigest()
    assert report["model_info"]["step"] == 6 and report["model_info"]["learner"] == "baseline"
    for result in report["results"].values():
        assert list(result)[:6] == list(METRIC_COLUMNS) and result["entries"] == 16  # 4 frames x 4 objects
    empty, hands = report["results"]["empty"], report["results"]["gripper-only"]
    # fixture: 3 of 8 objects per frame pair inactive; empty predicts nothing -> every visible active object is a FN
    assert empty["p-mIoU"] == 0 and empty["TP"] == 0 and empty["FP"] == 0
    assert hands["n-mIoU"] == 0 and hands["p-mIoU"] > 0 and hands["TP"] == 6  # 6 hand instances, all exact
    assert hands["gIoU"] > empty["gIoU"]


def test_written_label_maps_are_what_was_scored(evaluated: Path) -> None:
    out = evaluated
    dataset = ActionVOSDataset(FIXTURE, "val")
    metrics = ActionVOSMetrics(keep_records=False)
    for ref in dataset.frames:
        path = out / "Annotations_Sparse" / "val" / ref.sequence.folder / ref.frame.replace(".jpg", ".png")
        with Image.open(path) as image:
            assert image.mode == "P" and image.size == (854, 480)  # palette PNG at the annotation resolution
        pred = read_label_png(path)
        metrics.update(dataset.load_labels(ref), pred, {k: o.positive for k, o in ref.sequence.objects.items()})
    report = json.loads((out / "metrics.json").read_text())["results"]["model"]
    for name, value in metrics.result().as_row().items():
        assert (value if np.isfinite(value) else None) == pytest.approx(report[name])


def test_per_object_csv_and_overlays(evaluated: Path) -> None:
    out = evaluated
    with open(out / "objects.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16 and {row["category"] for row in rows} <= {"TP", "TN", "FP", "FN"}
    assert {row["object_name"] for row in rows} >= {"fridge", "right hand", "cupboard"}
    with Image.open(out / "overlays.png") as grid:
        assert grid.size == (3 * 320, 4 * 180)  # 4 frames of 854x480 at width 320: image | prediction | GT


def test_the_paper_table_is_printed(trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = evaluate_main(["--data", str(FIXTURE), "--checkpoint", str(trained), "--out", str(tmp_path),
                          "--no-progress", "--overlays", "0"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and not (tmp_path / "overlays.png").exists()
    assert lines[0].split() == ["p-mIoU↑", "n-mIoU↓", "p-cIoU↑", "n-cIoU↓", "gIoU↑", "Acc↑"]
    assert [line.split()[0] for line in lines[1:4]] == ["model", "empty", "gripper-only"]
    assert lines[4].startswith("gate: GO ") and "unsafe-GO rate" in lines[4] and "GO availability" in lines[4]


def test_gate_figures_are_those_of_the_frames(evaluated: Path) -> None:
    """metrics.json's gate figures are counted from its own per-frame verdicts and p-IoUs (every frame of the
    fixture has active objects, so every frame is in the figures)."""
    report = json.loads((evaluated / "metrics.json").read_text())
    frames, gate = report["frames_detail"], report["gate"]
    assert len(frames) == 4 and all(f["answered"] and f["go"] is not None for f in frames)
    assert all((f["p_iou"] < FAILURE_P_IOU) == f["failure"] for f in frames)
    assert all(f["go"] == (not f["reasons"]) for f in frames)
    failing_go = sum(f["go"] and f["failure"] for f in frames)
    assert gate["unsafe_go_rate"]["count"] == failing_go and gate["unsafe_go_rate"]["of"] == gate["go"]
    assert gate["go_availability"]["of"] == sum(not f["failure"] for f in frames) == gate["good_frames"]
    assert gate["no_go_recall"]["of"] == gate["true_failures"] == sum(f["failure"] for f in frames)
    assert gate["go"] + gate["no_go"] == 4 and gate["without_target"] == {"frames": 0, "go": 0}
    assert report["gate_config"]["max_narration_age_s"] > 0  # the gate that decided is recorded


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    try:
        code = evaluate_main(argv)
    except SystemExit as exc:
        code = int(exc.code)
    return code, capsys.readouterr().err.strip().splitlines()


def test_bad_input_is_one_line_and_a_non_zero_exit(trained: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(trained.read_bytes()[:1000])
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(1)}, foreign)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"onnx")
    no_objects = tmp_path / "no_objects"
    shutil.copytree(FIXTURE, no_objects)
    records = json.loads((no_objects / "ImageSets" / "val.json").read_text())
    records[1]["object_classes"] = {}
    (no_objects / "ImageSets" / "val.json").write_text(json.dumps(records))
    cases = [
        (tmp_path / "missing.pt", FIXTURE, "checkpoint not found"),
        (corrupt, FIXTURE, "corrupt or unreadable checkpoint"),
        (foreign, FIXTURE, "not an actiseg-train checkpoint"),
        (onnx, FIXTURE, "unsupported model file"),
        (tmp_path / "no_folder", FIXTURE, "checkpoint not found"),
        (trained, tmp_path, "not an ActionVOS-layout root"),
        (trained, no_objects, "has no object_classes"),
    ]
    for model, data, message in cases:
        code, stderr = _cli(["--data", str(data), "--checkpoint", str(model), "--out", str(tmp_path / "out"),
                             "--no-progress"], capsys)
        assert code == 1 and len(stderr) == 1 and message in stderr[0], (message, stderr)
    code, stderr = _cli(["--data", str(FIXTURE), "--checkpoint", str(trained), "--out", "x", "--overlays", "-1"],
                        capsys)
    assert code == 2 and len(stderr) == 1 and "non-negative" in stderr[0]


def test_released_model_is_smaller_and_scores_the_same(trained: Path, evaluated: Path, tmp_path: Path) -> None:
    from training.release import main as release_main

    released = tmp_path / "model.pt"
    assert release_main([str(trained), str(released)]) == 0
    assert released.stat().st_size < trained.stat().st_size / 2  # no AdamW moments, RNG or learner state
    assert "optimizer" not in torch.load(released, weights_only=True)
    out = tmp_path / "eval"
    assert evaluate_main(["--data", str(FIXTURE), "--split", "val", "--checkpoint", str(released), "--out", str(out),
                          "--no-progress", "--device", "cpu"]) == 0
    results = json.loads((out / "metrics.json").read_text())["results"]
    assert results == json.loads((evaluated / "metrics.json").read_text())["results"]


def test_release_of_a_missing_checkpoint_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.release import main as release_main

    assert release_main([str(tmp_path / "nothing.pt"), str(tmp_path / "out.pt")]) == 1
    assert capsys.readouterr().err.strip().endswith("checkpoint not found")


def test_exported_model_folder_scores_like_its_checkpoint(trained: Path, evaluated: Path, tmp_path: Path) -> None:
    """actiseg-evaluate on the ONNX folder (onnxruntime backend) reproduces the checkpoint's label maps (both go
    through Segmenter: the same pre/post graphs and text encoder, only the segmenter graph's runtime differs)."""
    from actiseg_core.export import export_segmenter

    folder = export_segmenter(trained, tmp_path / "onnx").out_dir
    out = tmp_path / "eval"
    assert evaluate_main(["--data", str(FIXTURE), "--split", "val", "--checkpoint", str(folder), "--out", str(out),
                          "--no-progress", "--backend", "onnxruntime"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["model_info"]["kind"].startswith("model folder, onnxruntime")
    ours = sorted((out / "Annotations_Sparse").rglob("*.png"))
    theirs = sorted((evaluated / "Annotations_Sparse").rglob("*.png"))
    assert [p.relative_to(out) for p in ours] == [p.relative_to(evaluated) for p in theirs] and ours
    differing = sum(int((read_label_png(a) != read_label_png(b)).sum()) for a, b in zip(ours, theirs, strict=True))
    pixels = sum(read_label_png(a).size for a in ours)
    assert differing / pixels < 1e-3  # float noise at the 0.5 threshold only


# --- the failure definition and the gate figures, on hand-made frames ------------------------------------------
def _truth(labels: np.ndarray, positives: dict[int, bool]) -> FrameTruth:
    return FrameTruth(sequence="s", frame="f", labels=labels, object_ids=tuple(sorted(positives)),
                      positives=positives)


def test_frame_p_iou_is_the_mean_over_the_truly_active_objects() -> None:
    gt = np.zeros((4, 4), np.uint8)
    gt[:2, :2] = 1  # active, 4 pixels
    gt[2:, 2:] = 2  # active, 4 pixels
    gt[0, 3] = 3  # inactive
    pred = np.zeros_like(gt)
    pred[:2, :2] = 1  # object 1 exact
    pred[2:, 2] = 2  # object 2: 2 of 4 pixels, nothing extra -> IoU 0.5
    pred[0, 3] = 3  # an inactive object segmented: not in the p-IoU
    assert frame_p_iou(gt, pred, {1: True, 2: True, 3: False}) == pytest.approx(0.75)
    # an active object neither visible nor predicted agrees (1); predicted where it is not visible: 0
    assert frame_p_iou(gt, pred, {1: True, 4: True}) == pytest.approx(1.0)
    pred[3, 0] = 4
    assert frame_p_iou(gt, pred, {1: True, 4: True}) == pytest.approx(0.5)
    # no truly active object: undefined, never a failure
    assert math.isnan(frame_p_iou(gt, pred, {3: False}))


def test_runtime_labels_become_palette_indices_at_the_annotation_resolution() -> None:
    runtime = np.array([[0, 1], [2, 3]], np.uint8)  # candidate k painted k + 1
    assert palette_labels(runtime, (4, 2, 7), (2, 2)).tolist() == [[0, 4], [2, 7]]
    assert palette_labels(runtime, (4, 2, 7), (4, 4)).tolist() == [[0, 0, 4, 4], [0, 0, 4, 4], [2, 2, 7, 7],
                                                                    [2, 2, 7, 7]]
    assert palette_labels(None, (4,), (3, 5)).shape == (3, 5) and not palette_labels(None, (4,), (3, 5)).any()


def test_unsafe_go_and_availability_on_hand_made_frames() -> None:
    """Six frames: a good GO, a failing GO (unsafe), a good NO-GO (availability lost), a failing NO-GO (caught),
    a frame without an active object that got GO (counted apart), and an unanswered failing frame (no verdict)."""
    gt = np.zeros((2, 4), np.uint8)
    gt[:, :2] = 1  # the active object, 4 pixels
    gt[:, 2:] = 2  # inactive
    right = np.where(gt == 1, 1, 0).astype(np.uint8)  # runtime labels: candidate 0 (palette 1) -> 1
    wrong = np.where(gt == 2, 1, 0).astype(np.uint8)  # candidate 0 painted on the other object: IoU 0
    scorer = Scorer(references=False)
    active = {1: True, 2: False}
    cases = [(active, right, True), (active, wrong, True), (active, right, False), (active, wrong, False),
             ({1: False, 2: False}, right, True)]
    for positives, label_map, go in cases:
        scorer.add(_truth(gt, positives), Answer(label_map=label_map, go=go, reasons=() if go else ("x",)))
    unanswered, _ = scorer.add(_truth(gt, active), None)
    assert [f.p_iou for f in scorer.frames[:4]] == [1.0, 0.0, 1.0, 0.0] and math.isnan(scorer.frames[4].p_iou)
    assert [f.failure for f in scorer.frames] == [False, True, False, True, False, True]
    assert not scorer.frames[4].good and not unanswered.answered and unanswered.reasons == ("unanswered",)
    figures = scorer.gate()
    assert (figures.verdicts, figures.go, figures.no_go, figures.failures, figures.good) == (5, 3, 2, 2, 2)
    assert (figures.without_target, figures.without_target_go) == (1, 1)
    assert (figures.unsafe_go.count, figures.unsafe_go.of, figures.unsafe_go.value) == (1, 2, 0.5)
    assert (figures.availability.count, figures.availability.of) == (1, 2)
    assert (figures.no_go_precision.count, figures.no_go_precision.of) == (1, 2)
    assert (figures.no_go_recall.count, figures.no_go_recall.of) == (1, 2)
    json_figures = figures.as_json()
    assert json_figures["unsafe_go_rate"] == {"rate": 0.5, "count": 1, "of": 2, "ci95": [0.0126, 0.9874],
                                              "upper95": 0.9747}
    assert json_figures["failure"] == "frame p-IoU < 0.5"
    # the ActionVOS metrics saw every frame, the unanswered one as an empty prediction
    assert scorer.results()["model"].n_entries == 12


def test_rates_carry_exact_clopper_pearson_bounds() -> None:
    """No failure in n GO frames promises an unsafe-GO rate below 1 - 0.05^(1/n), not 0 (the rule of three)."""
    none_of_287 = Rate(0, 287)
    assert none_of_287.upper_bound() == pytest.approx(1 - 0.05 ** (1 / 287)) and none_of_287.interval()[0] == 0.0
    assert Rate(5, 5).upper_bound() == 1.0 and Rate(5, 5).interval() == pytest.approx((0.025 ** (1 / 5), 1.0))
    lower, upper = Rate(12, 300).interval()
    assert lower < 12 / 300 < Rate(12, 300).upper_bound() < upper  # one-sided is tighter than two-sided
    assert Rate(0, 0).interval() is None and Rate(0, 0).upper_bound() == 1.0


def test_the_clip_rate_counts_a_clip_once_however_many_of_its_go_frames_fail() -> None:
    go = [True, True, True, False, True]
    p_iou = [0.1, 0.2, 0.9, 0.1, math.nan]  # clip a: two unsafe GOs; b: a good GO; c: a NO-GO; d: GO, no target
    figures = GateFigures.from_arrays(go, p_iou, ["a", "a", "b", "c", "d"])
    assert (figures.unsafe_go.count, figures.unsafe_go.of) == (2, 3)
    assert (figures.unsafe_go_clips.count, figures.unsafe_go_clips.of) == (1, 2)
    assert figures.as_json()["unsafe_go_clips"]["upper95"] == round(figures.unsafe_go_clips.upper_bound(), 4)
    assert "by clip, unsafe GO 0.500 (1/2)" in figures.summary()
    assert GateFigures.from_arrays(go, p_iou).unsafe_go_clips is None
    with pytest.raises(ValueError):
        GateFigures.from_arrays(go, p_iou, ["a"])


def test_rates_without_a_population_are_undefined_not_zero() -> None:
    figures = GateFigures.from_arrays([False, False], [0.9, math.nan])  # no GO at all, no failure
    assert figures.unsafe_go.value is None and figures.unsafe_go.of == 0
    assert figures.no_go_recall.value is None and figures.availability.value == 0.0
    assert figures.as_json()["unsafe_go_rate"]["rate"] is None
    with pytest.raises(ValueError):
        GateFigures.from_arrays([True], [0.1, 0.2])
