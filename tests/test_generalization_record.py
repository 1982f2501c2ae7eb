"""benchmarks/generalization.py: variants on several splits, paired intervals, cost measured in the same run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_support import benchmark_module

FIXTURE = Path(__file__).parent / "fixtures" / "visor_mini"


def test_a_model_against_itself_differs_by_exactly_zero(tiny_export, tmp_path) -> None:
    generalization = benchmark_module("generalization")
    folder = str(tiny_export.out_dir)
    out = tmp_path / "out"
    generalization.main(["--data", str(FIXTURE), "--split", "val", "--variant", f"a={folder}",
                         "--variant", f"b={folder}", "--recipe", "one=a", "--recipe", "other=b",
                         "--work", str(tmp_path / "work"), "--runs", "2",
                         "--threads", "1", "--out", str(out)])
    report = json.loads((out / "generalization.json").read_text())
    val = report["splits"]["val"]
    assert val["frames"] == 4 and set(val["references"]) == {"empty", "gripper-only"}
    a, b = val["variants"]["a"], val["variants"]["b"]
    assert a["gIoU"] == b["gIoU"] and b["gIoU_diff_vs_first_95"] == [0.0, 0.0]  # paired: same clips, same model
    assert a["gIoU_95"][0] <= a["gIoU"] <= a["gIoU_95"][1]
    one, other = val["recipes"]["one"], val["recipes"]["other"]
    assert one["gIoU"] == a["gIoU"] and other["gIoU_diff_vs_first_95"] == [0.0, 0.0]
    assert other["gIoU_diff_vs_first"] == 0.0 and "gIoU_diff_vs_first" not in one
    assert other["p-mIoU"] == one["p-mIoU"] == a["p-mIoU"] and "p-mIoU_diff_vs_first" not in other
    assert report["cost"]["a"]["gflop_k4"] > 0 and report["cost"]["a"]["predict_ms_p50"] > 0
    assert (out / "generalization.png").stat().st_size and "## val" in (out / "generalization.md").read_text()
    stamp = tmp_path / "work" / "a" / "val" / "segmenter.sha256"
    assert stamp.read_text() == json.loads((Path(folder) / "model.json").read_text())["sha256"]["segmenter.onnx"]


def test_a_recipe_must_name_known_variants_and_pair_its_seeds(tmp_path, capsys) -> None:
    generalization = benchmark_module("generalization")
    common = ["--variant", f"a={tmp_path}", "--variant", f"b={tmp_path}", "--out", str(tmp_path / "out")]
    for recipes, reason in ((["--recipe", "r=a,c"], "unknown variants ['c']"),
                            (["--recipe", "r=a,b", "--recipe", "s=b"], "same number of seeds")):
        with pytest.raises(SystemExit) as exit_info:
            generalization.main(common + recipes)
        assert exit_info.value.code == 2 and reason in capsys.readouterr().err
