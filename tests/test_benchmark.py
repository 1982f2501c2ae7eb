"""The ActiSeg-NL runner end to end on a micro protocol (2 conditions x 2 methods, 4 steps of a tiny model on the
VISOR-layout fixture): outputs, per-object records, cache hits on a second run, resume of an interrupted cell,
one-line errors."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from test_learners_train import STOP_AT, StopAfter  # the same simulated Ctrl-C as the trainer's resume tests

from actiseg_core.data.split_info import load_split, split_hash
from actiseg_core.evaluation import calibration
from actiseg_core.learners import ELRLearner
from actiseg_core.noise import text as noise_text
from benchmarks.nl import objects, runner
from benchmarks.nl.runner import CONDITION_BY_KEY, Cell, Protocol, main, plan
from training import train as train_module

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "visor_mini"
STEPS = 4
MICRO = ["--steps", str(STEPS), "--batch-frames", "2", "--input-size", "64x96", "--image-encoder", "resnet_small",
         "--ckpt-every", "2", "--threads", "1", "--no-progress", "--methods", "baseline", "elr",
         "--conditions", "clean", "mask9"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture with its val split copied as the train and test splits (the protocol corrupts train, scores val
    and, with --test, test)."""
    data = tmp_path_factory.mktemp("benchmark") / "data"
    shutil.copytree(FIXTURE, data)
    for split in ("train", "test"):
        for folder in ("JPEGImages_Sparse", "Annotations_Sparse"):
            shutil.copytree(data / folder / "val", data / folder / split)
        shutil.copy(data / "ImageSets" / "val.json", data / "ImageSets" / f"{split}.json")
    return data


@pytest.fixture(scope="module")
def first_run(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("benchmark") / "out"
    assert main(["--data", str(root), "--out", str(out), *MICRO]) == 0
    return out


def _results(out: Path) -> list[dict]:
    return sorted((json.loads(path.read_text()) for path in out.glob("cells/*/*/*/result.json")),
                  key=lambda r: (r["condition"], r["method"]))


def test_every_cell_is_trained_on_its_view_and_scored_on_clean_val(first_run: Path) -> None:
    results = _results(first_run)
    assert [(r["condition"], r["method"]) for r in results] == [("clean", "baseline"), ("clean", "elr"),
                                                                ("mask9", "baseline"), ("mask9", "elr")]
    clean_hash = results[0]["clean_data_hash"]
    for result in results:
        assert result["seed"] == 0 and result["steps"] == STEPS and result["wall_s"] > 0 and result["commit"]
        assert result["data_hash"]["val"] == clean_hash["val"]  # always scored on the clean val split
        # trained on the fit part of the condition's view of train: the clean root's own for the clean condition
        view = "clean" if result["condition"] == "clean" else f"{result['condition']}-noise0"
        parts = first_run / "parts" / f"{view}-{clean_hash['train'][:8]}"
        assert result["data_hash"]["train"] == split_hash(load_split(parts / "fit", "train"))
        assert set(runner.METRIC_COLUMNS) <= result["metrics"].keys()
    noisy = results[2]["noise"]
    assert noisy["names_changed"] == 0 and noisy["mask_severity"]["all"]["mIoU"] < 1.0
    (view,) = first_run.glob(f"views/mask9-noise0-{clean_hash['train'][:8]}")
    manifest = json.loads((view / "noise.json").read_text())
    assert manifest["mask_kernel"] == 9 and manifest["text_rate"] == 0.0


def test_tau_star_is_chosen_on_held_out_training_sequences_with_noisy_labels(root: Path, first_run: Path) -> None:
    train = {seq.folder for seq in load_split(root, "train").sequences}
    for result in _results(first_run):
        folder = first_run / result["folder"]
        view = "clean" if result["condition"] == "clean" else f"{result['condition']}-noise0"
        parts = first_run / "parts" / f"{view}-{result['clean_data_hash']['train'][:8]}"
        fit, held = ({seq.folder for seq in load_split(parts / part, "train").sequences}
                     for part in ("fit", "held_out"))
        assert fit and held and not fit & held and fit | held == train  # a partition of train by sequence
        records = json.loads((folder / objects.HELD_OUT_OBJECTS).read_text())
        assert {r["sequence"] for r in records} == held
        assert result["tau_star"] == calibration.tau_star(objects.as_scores(records))[0]
        assert result["positive_head"]["tau_star"] == result["tau_star"]
    # the held-out part of a noisy condition is the view's: its masks are the dilated ones
    clean_part, noisy_part = (sorted(first_run.glob(f"parts/{view}-*/held_out"))[0] for view in ("clean", "mask9"))
    masks = sorted(clean_part.glob("Annotations_Sparse/train/*/*.png"))
    assert masks and any(mask.read_bytes() != (noisy_part / mask.relative_to(clean_part)).read_bytes()
                         for mask in masks)


def test_test_scores_are_added_to_cached_cells_without_training(root: Path, first_run: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached cell was trained again")

    monkeypatch.setattr(runner, "train", no_training)
    assert main(["--data", str(root), "--out", str(first_run), *MICRO, "--test"]) == 0
    for result in _results(first_run):
        assert set(runner.METRIC_COLUMNS) <= result["test"]["metrics"].keys()
        assert result["test"]["positive_head"]["tau_star"] == result["tau_star"]
        assert result["test"]["positive_head"]["tau_star_consistent"] == result["tau_star_consistent"]
        assert (first_run / result["folder"] / objects.TEST_OBJECTS).is_file()
    tables = (first_run / "tables_test.md").read_text()
    assert "evaluated on the clean test split" in tables and "## Paired gIoU differences (test split" in tables
    differences = json.loads((first_run / "results.json").read_text())["differences"]
    same = [row for row in differences["test"] if row["method"] == "baseline" and row["rule"] == "tau*"
            and row["reference"] == "baseline" and row["reference_rule"] == "0.75"]
    assert len(same) == 2 and all(row["seeds"] == 1 for row in same)  # clean and mask9
    assert {row["rule"] for row in differences["test"]} == {"0.75", "tau*", "tau*n"}


def test_a_selecting_learners_picks_are_scored_against_the_recorded_flips(root: Path, tmp_path: Path) -> None:
    args = ["--data", str(root), "--out", str(tmp_path), *MICRO[:-6], "--methods", "coteaching", "baseline",
            "--conditions", "name60"]
    assert main(args) == 0
    (result,) = [r for r in _results(tmp_path) if r["method"] == "coteaching"]
    fit = next(tmp_path.glob("parts/name60-*/fit"))
    queries = load_split(fit, "train").queries
    flipped = sum(noise_text.was_flipped(q.frame.sequence, q.obj) for q in queries)
    selection = result["selection"]
    assert selection["flipped_queries"] == flipped > 0
    assert selection["visits"] == STEPS * len(queries)  # each step is the fit part's 2 frames, every query
    assert selection["picks"] >= 1 and 0.0 <= selection["precision"] <= 1.0
    assert "## Selected queries against the recorded flips" in (tmp_path / "tables.md").read_text()
    assert next(r for r in _results(tmp_path) if r["method"] == "baseline")["selection"] is None
    # tau*_n leaves out the held-out records their narration contradicts: on this fixture, only renamed objects
    assert not any(objects.narration_contradictions(root, "train").values())
    view = next(tmp_path.glob("views/name60-*"))
    in_view = objects.narration_contradictions(view, "train")
    renamed = {(q.frame.sequence.folder, q.obj.index) for q in load_split(view, "train").queries
               if noise_text.was_flipped(q.frame.sequence, q.obj)}
    assert any(in_view.values()) and {key for key, flag in in_view.items() if flag} <= renamed
    held = next(tmp_path.glob("parts/name60-*/held_out"))
    contradicted = objects.narration_contradictions(held, "train")
    records = json.loads((tmp_path / result["folder"] / objects.HELD_OUT_OBJECTS).read_text())
    assert result["tau_star_consistent"] == objects.consistent_tau_star(records, contradicted)
    assert result["positive_head"]["tau_star_consistent"] == result["tau_star_consistent"]


def test_the_narration_consistent_tau_star_ignores_the_records_the_narration_contradicts() -> None:
    def record(sequence: str, index: int, score: float, positive: bool) -> dict:
        return {"sequence": sequence, "object_index": index, "score": score, "positive": positive,
                "gt_area": 100, "pred_area": 100, "intersection": 100 if positive else 50}

    # an active object at 0.6, an inactive one at 0.3, and an active object whose label was flipped to inactive
    # (the narration still names it) that the model rightly scores 0.7: keeping it costs a "false positive"
    records = [record("a", 1, 0.6, True), record("a", 2, 0.3, False), record("a", 3, 0.7, False)]
    flags = {("a", 1): False, ("a", 2): False, ("a", 3): True}
    assert calibration.tau_star(objects.as_scores(records))[0] == 0.95  # pulled above the flipped record
    assert objects.consistent_tau_star(records, flags) == 0.6  # keeps the active object, drops the inactive one
    assert math.isnan(objects.consistent_tau_star(records[2:], flags))
    summary = objects.record_summary(records, tau=0.95, tau_consistent=0.6)
    assert summary["giou_at_tau_star_consistent"] == calibration.giou_at(objects.as_scores(records), 0.6)
    assert "tau_star_consistent" not in objects.record_summary(records, tau=0.95)


def test_tables_csv_json_and_plots_are_written(first_run: Path) -> None:
    tables = (first_run / "tables.md").read_text()
    assert "## Clean" in tables and "## Mask-9 (clean names)" in tables and "masks vs clean: mIoU" in tables
    assert "| Method | p-mIoU↑ | n-mIoU↓ | p-cIoU↑ | n-cIoU↓ | gIoU↑ | Acc↑ | seeds |" in tables
    with open(first_run / "tables.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["condition"], r["method"]) for r in rows] == [("clean", "baseline"), ("clean", "elr"),
                                                             ("mask9", "baseline"), ("mask9", "elr")]
    summary = json.loads((first_run / "results.json").read_text())
    assert len(summary["cells"]) == 4 and summary["protocol"]["steps"] == STEPS
    assert summary["summary"]["mask9"]["elr"]["seeds"] == [0]
    for plot in ("noise_sweeps.png", "tradeoff.png"):
        assert (first_run / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_cell_records_its_objects_and_the_positive_head_summary(root: Path, first_run: Path) -> None:
    val = load_split(root, "val")
    queries = sorted((q.frame.sequence.folder, q.frame.frame, q.obj.index, q.positive) for q in val.queries)
    for folder in sorted(first_run.glob("cells/*/*/*")):
        result = json.loads((folder / "result.json").read_text())
        records = json.loads((folder / objects.OBJECTS).read_text())
        assert sorted((r["sequence"], r["frame"], r["object_index"], r["positive"]) for r in records) == queries
        head = result["positive_head"]
        assert head["objects"] == len(queries) and head["active"] == sum(r["positive"] for r in records)
        if 0 < head["active"] < head["objects"]:
            assert 0.0 <= head["auroc"] <= 1.0
        else:
            assert head["auroc"] is None  # one class missing: undefined (NaN, written as null)
        # The bypassed label map lets every candidate compete for a pixel, the evaluated one only those >= 0.75, so
        # an object's bypassed mask can lose pixels to an object the gate drops: the two gIoUs may differ slightly.
        assert head["giou_at_0.75"] == pytest.approx(result["metrics"]["gIoU"], abs=1.0)
    assert "## Positive head (gate bypassed, clean val split)" in (first_run / "tables.md").read_text()
    chosen_elsewhere = objects.record_summary(records, tau=0.123)  # a threshold from other records is kept as given
    assert chosen_elsewhere["tau_star"] == 0.123 and chosen_elsewhere["tau_star_on_val"] == head["tau_star_on_val"]
    assert chosen_elsewhere["giou_at_tau_star"] == calibration.giou_at(objects.as_scores(records), 0.123)
    cached_before = {"condition": "clean", "method": "elr", "seed": 0, "metrics": {}}  # a result without the summary
    assert objects.positive_head_table([cached_before]) == []


def test_a_second_run_reads_every_cell_from_the_cache(root: Path, first_run: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    before = _results(first_run)

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached cell was trained again")

    monkeypatch.setattr(runner, "train", no_training)
    stale = next(first_run.glob("cells/clean/baseline/*/result.json"))  # a summary made by older code
    older = {key: value for key, value in json.loads(stale.read_text()).items() if key != "tau_star_consistent"}
    stale.write_text(json.dumps({**older, "positive_head": {"auroc": -1.0}}))  # made before tau*_n existed
    assert main(["--data", str(root), "--out", str(first_run), *MICRO]) == 0
    assert _results(first_run) == before  # summaries (and tau*_n) are recomputed from the saved records
    # --cached-only tabulates the finished cells among those asked for and trains none (seed 1 never ran)
    assert main(["--data", str(root), "--out", str(first_run), *MICRO, "--seeds", "0", "1", "--cached-only"]) == 0
    tabulated = json.loads((first_run / "results.json").read_text())["cells"]
    assert sorted((r["condition"], r["method"], r["seed"]) for r in tabulated) == sorted(
        (r["condition"], r["method"], 0) for r in before)


def test_an_interrupted_cell_resumes_from_its_last_checkpoint(root: Path, first_run: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--data", str(root), "--out", str(tmp_path), *MICRO[:-4], "--methods", "elr", "--conditions", "mask9"]
    with monkeypatch.context() as patch:
        patch.setattr(train_module, "StopRequest", StopAfter)
        assert main(args) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
    (cell,) = tmp_path.glob("cells/mask9/elr/seed0-*")
    assert not (cell / "result.json").exists()
    assert torch.load(cell / "run" / "last.pt", weights_only=True)["step"] == STOP_AT
    assert main(args) == 0
    (resumed,) = _results(tmp_path)
    assert resumed["resumed_at_step"] == STOP_AT and resumed["steps"] == STEPS
    reference = next(r for r in _results(first_run) if (r["condition"], r["method"]) == ("mask9", "elr"))
    assert resumed["config_hash"] == reference["config_hash"]
    assert resumed["metrics"] == reference["metrics"]  # the resumed cell computed what the uninterrupted one did


def test_pmhm_runs_only_under_mask_noise_and_settings_make_new_cells() -> None:
    cells = plan(["clean", "name20", "mask9", "name60+mask21"], ["baseline", "pmhm"], [0, 1])
    assert [(c.condition.key, c.method) for c in cells if c.seed == 0] == [
        ("clean", "baseline"), ("name20", "baseline"), ("mask9", "baseline"), ("mask9", "pmhm"),
        ("name60+mask21", "baseline"), ("name60+mask21", "pmhm")]
    cell = Cell(CONDITION_BY_KEY["mask9"], "baseline", 0)
    hashes = {runner.identity_hash(runner.cell_identity(
        cell, runner.train_config(cell, protocol, Path(), Path(), 0, "cpu", False), 0, {"train": "a"}))
        for protocol in (Protocol(steps=10), Protocol(steps=20), Protocol(steps=10, batch_frames=4))}
    assert len(hashes) == 3


def test_a_revised_or_tuned_learner_makes_new_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    cell = Cell(CONDITION_BY_KEY["mask9"], "elr", 0)

    def identity() -> dict:
        config = runner.train_config(cell, Protocol(steps=10), Path(), Path(), 0, "cpu", False)
        return runner.cell_identity(cell, config, 0, {"train": "a"})

    revised = identity()
    assert revised["learner_revision"] == ELRLearner.revision >= 1
    tuned = runner.cell_identity(cell, runner.train_config(cell, Protocol(steps=10), Path(), Path(), 0, "cpu",
                                                                 False, {"beta": 0.7}), 0, {"train": "a"})
    assert runner.identity_hash(tuned) != runner.identity_hash(revised)  # hyper-parameters are identity too
    monkeypatch.setattr(ELRLearner, "revision", 0)
    unrevised = identity()
    assert "learner_revision" not in unrevised  # never-revised learners keep their pre-revision hashes
    assert runner.identity_hash(revised) != runner.identity_hash(unrevised)


@pytest.mark.parametrize(("change", "code", "message"), [
    (["--conditions", "name90"], 2, "invalid choice: 'name90'"),
    (["--methods", "pmhm", "--conditions", "clean"], 1, "no cells to run: PMHM runs only under mask noise"),
    (["--data", "{tmp}/missing"], 1, "data root not found"),
    (["--seeds", "-1"], 2, "expected a non-negative integer"),
    (["--cached-only"], 1, "no finished cells under"),
    (["--learner-arg", "q=0.5"], 1, "learner 'baseline' has no parameter q"),
    (["--learner-arg", "novalue"], 2, "expected KEY=VALUE"),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   change: list[str], code: int, message: str) -> None:
    argv = ["--data", str(root), "--out", str(tmp_path / "out"), *MICRO, *[c.format(tmp=tmp_path) for c in change]]
    try:
        returned = main(argv)
    except SystemExit as exc:  # argparse errors
        returned = int(exc.code)
    stderr = capsys.readouterr().err.strip().splitlines()
    assert returned == code and len(stderr) == 1 and message in stderr[0], stderr
