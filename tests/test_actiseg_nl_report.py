"""benchmarks.nl.report: the findings' rules, the acceptance check, Kendall tau and the CLI, on synthetic results
(nothing is trained); benchmarks.nl.paper003_tables: the transcription of paper 003's tables."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from actiseg_core.learners import learner_names
from actiseg_core.metrics import METRIC_COLUMNS
from benchmarks.nl import paper003_tables as paper
from benchmarks.nl import report

REPO = Path(__file__).resolve().parents[1]

R, NR, NOT_RUN = report.REPRODUCES, report.NOT_REPRODUCED, report.NOT_RUN
LEARNERS = ("coteaching", "gce", "sce", "apl", "elr", "npn")


def cell(condition: str, method: str, seed: int = 0, **metrics: float) -> dict:
    """A result.json-shaped cell: every metric 50 unless given (keys with '_' for '-': p_mIoU -> p-mIoU)."""
    values = {m: 50.0 for m in METRIC_COLUMNS} | {k.replace("_", "-"): v for k, v in metrics.items()}
    return {"condition": condition, "method": method, "seed": seed, "metrics": values, "noise": None,
            "commit": "abc1234"}


def table(*cells: dict) -> dict:
    return report.aggregate(list(cells))


def drop(tab: dict, condition: str, method: str) -> dict:
    tab = copy.deepcopy(tab)
    del tab[condition][method]
    return tab


# ---- F1-F5 on synthetic data ----------------------------------------------------------------------------------------

def test_f1_reproduces_only_when_name60_lowers_both_p_and_n_miou():
    good = table(cell("clean", "baseline", p_mIoU=60, n_mIoU=20), cell("name60", "baseline", p_mIoU=50, n_mIoU=10))
    assert report.f1_text_noise(good).verdict == R
    bad = table(cell("clean", "baseline", p_mIoU=60, n_mIoU=20), cell("name60", "baseline", p_mIoU=50, n_mIoU=25))
    verdict = report.f1_text_noise(bad)
    assert verdict.verdict == NR and any("n-mIoU: clean 20.0 -> name60 25.0 (not lower)" in e for e in verdict.evidence)
    assert report.f1_text_noise(drop(good, "clean", "baseline")).verdict == NOT_RUN


def test_f2_reproduces_only_when_mask21_gIoU_is_strictly_below_name60():
    good = table(cell("mask21", "baseline", gIoU=55), cell("name60", "baseline", gIoU=65))
    assert report.f2_mask_vs_text(good).verdict == R
    for mask in (65, 66):  # equal is not "hurts more"
        assert report.f2_mask_vs_text(table(cell("mask21", "baseline", gIoU=mask),
                                            cell("name60", "baseline", gIoU=65))).verdict == NR
    missing = report.f2_mask_vs_text(table(cell("name60", "baseline", gIoU=65)))
    assert missing.verdict == NOT_RUN and "mask21/baseline" in missing.evidence[0]


def text_noise_table(condition: str, coteaching_giou: float = 70, coteaching_p: float = 60) -> list[dict]:
    """Co-teaching best on gIoU (unless told), the others at 60 gIoU; baseline p-mIoU 50."""
    return [cell(condition, "baseline", p_mIoU=50, gIoU=65), cell(condition, "coteaching", gIoU=coteaching_giou,
                                                                 p_mIoU=coteaching_p)] + \
        [cell(condition, m, gIoU=60, p_mIoU=62) for m in LEARNERS if m != "coteaching"]


def test_f3_needs_coteaching_best_gIoU_at_name40_and_name60():
    good = table(*text_noise_table("name40"), *text_noise_table("name60"))
    verdict = report.f3_coteaching(good)
    assert verdict.verdict == R and verdict.parts == {"name40": R, "name60": R}
    # a tie on gIoU still counts as best; p-mIoU below the best learner's (62) is not part of the rule
    assert report.f3_coteaching(table(*text_noise_table("name40", coteaching_giou=60),
                                      *text_noise_table("name60"))).verdict == R
    lower_giou = report.f3_coteaching(table(*text_noise_table("name40"), *text_noise_table("name60", 59)))
    assert lower_giou.verdict == NR and lower_giou.parts == {"name40": R, "name60": NR}
    lost_foreground = report.f3_coteaching(table(*text_noise_table("name40", coteaching_p=50),
                                                 *text_noise_table("name60")))
    assert lost_foreground.parts == {"name40": NR, "name60": R} and lost_foreground.verdict == NR
    partial = report.f3_coteaching(drop(good, "name40", "npn"))
    assert partial.verdict == NOT_RUN and partial.parts == {"name40": NOT_RUN, "name60": R}
    # one part failed: the finding fails even though the other part is not run yet
    failed = report.f3_coteaching(drop(table(*text_noise_table("name40"), *text_noise_table("name60", 59)),
                                       "name40", "npn"))
    assert failed.verdict == NR


def mask_table(pmhm: dict[str, float]) -> list[dict]:
    return [c for k, g in pmhm.items() for c in
            [cell(k, "pmhm", gIoU=g), cell(k, "baseline", gIoU=99)] + [cell(k, m, gIoU=60) for m in LEARNERS]]


def test_f4_is_judged_per_kernel_and_fails_on_any_kernel():
    good = table(*mask_table({"mask9": 61, "mask15": 60, "mask21": 65}))  # a tie counts; baseline is not a rival
    verdict = report.f4_pmhm(good)
    assert verdict.verdict == R and set(verdict.parts.values()) == {R}
    bad = report.f4_pmhm(table(*mask_table({"mask9": 61, "mask15": 59.9, "mask21": 65})))
    assert bad.verdict == NR and bad.parts == {"mask9": R, "mask15": NR, "mask21": R}
    assert "(-0.1)" in bad.evidence[1]
    partial = report.f4_pmhm(table(*mask_table({"mask9": 61, "mask21": 65})))
    assert partial.verdict == NOT_RUN and partial.parts == {"mask9": R, "mask15": NOT_RUN, "mask21": R}


def ranked_cells(condition: str, scores: dict[str, float]) -> list[dict]:
    return [cell(condition, m, gIoU=g) for m, g in scores.items()]


def test_f5_reproduces_when_the_name60_leader_loses_the_lead_under_mixed():
    text = dict(zip(report.RANKED, (60, 70, 65, 64, 63, 62, 61), strict=True))  # coteaching leads
    changed = dict(text, coteaching=50)
    verdict = report.f5_non_transitive(table(*ranked_cells("name60", text), *ranked_cells("name60+mask21", changed)))
    assert verdict.verdict == R and verdict.numbers["leaders"] == ["coteaching"]
    # same ranking: no change at the top, tau 1
    same = report.f5_non_transitive(table(*ranked_cells("name60", text), *ranked_cells("name60+mask21", text)))
    assert same.verdict == NR and same.numbers["kendall_tau_b"] == pytest.approx(1.0)
    # the rest reshuffled but the leader kept: the finding does not reproduce even though tau < 1
    reshuffled = dict(text, gce=61, npn=65)
    kept = report.f5_non_transitive(table(*ranked_cells("name60", text),
                                          *ranked_cells("name60+mask21", reshuffled)))
    assert kept.verdict == NR and kept.numbers["kendall_tau_b"] < 1
    # a leader tied for first under mixed noise is still a leader
    tied = report.f5_non_transitive(table(*ranked_cells("name60", text),
                                          *ranked_cells("name60+mask21", dict(text, gce=70))))
    assert tied.verdict == NR
    missing = report.f5_non_transitive(table(*ranked_cells("name60", text)))
    assert missing.verdict == NOT_RUN


# ---- the paper's own numbers ----------------------------------------------------------------------------------------

def test_the_papers_own_numbers_give_the_expected_verdicts():
    findings = {f["key"]: f["paper"] for f in report.check_findings({}, report.paper_table())}
    assert findings["F1"]["verdict"] == R
    assert findings["F2"]["verdict"] == R
    assert findings["F2"]["numbers"] == {"mask21": 60.3, "name60": 67.1}
    assert findings["F3"]["verdict"] == R and findings["F3"]["parts"] == {"name40": R, "name60": R}
    assert findings["F4"]["verdict"] == NR
    assert findings["F4"]["parts"] == {"mask9": R, "mask15": NR, "mask21": R}  # APL 64.7 vs PMHM 64.6 at k=15
    assert findings["F4"]["numbers"]["mask15"]["best_other"] == ["apl", 64.7]
    assert findings["F5"]["verdict"] == R
    assert findings["F5"]["numbers"]["leaders"] == ["coteaching"]
    assert findings["F5"]["numbers"]["kendall_tau_b"] == pytest.approx(2 / math.sqrt(21 * 20))  # C-D=2, one tie
    assert {f["ours"]["verdict"] for f in report.check_findings({}, report.paper_table())} == {NOT_RUN}


def test_paper_tables_cover_every_condition_and_method():
    assert paper.COLUMNS == METRIC_COLUMNS
    table_ = paper.by_condition()
    assert set(table_) == {"clean", "name20", "name40", "name60", "mask9", "mask15", "mask21", "name60+mask21"}
    assert set(paper.PAPER_NAMES) <= set(learner_names())
    assert table_["clean"] == {"baseline": paper.as_metrics(paper.TABLE_I[0])} and paper.TABLE_I[0] == paper.TABLE_II[0]
    assert all("pmhm" not in table_[c] for c in ("name20", "name40", "name60"))
    assert all(set(table_[c]) == {"baseline", *LEARNERS, "pmhm"} for c in ("mask9", "mask15", "mask21"))


@pytest.mark.skipif(not Path(paper.REFERENCE).is_file(), reason="paper 003's reference text is not on this machine")
def test_paper_tables_match_reference_text():
    """Every transcribed row equals its row in the reference text (found by line number, split on tabs)."""
    lines = Path(paper.REFERENCE).read_text(encoding="utf-8").splitlines()
    names = {label: method for method, label in paper.PAPER_NAMES.items()}

    def numbers(fields: list[str]) -> tuple[float, ...]:
        return tuple(float(f) for f in fields)

    for line, level in zip(range(153, 157), paper.TABLE_I, strict=True):
        fields = lines[line - 1].split("\t")
        assert int(fields[0]) == level and numbers(fields[1:7]) == paper.TABLE_I[level]
    for line, level in zip(range(185, 189), paper.TABLE_II, strict=True):
        fields = lines[line - 1].split("\t")
        assert int(fields[0].split("×")[0]) == level and numbers(fields[1:7]) == paper.TABLE_II[level]
    checked = 0
    for first, last, left, right in ((222, 227, "name20", "name40"), (231, 237, "name60", "mask9"),
                                     (241, 247, "mask15", "mask21")):
        for line in range(first, last + 1):
            fields = lines[line - 1].split("\t")
            for offset, condition in ((0, left), (7, right)):
                if fields[offset]:
                    assert numbers(fields[offset + 1: offset + 7]) == paper.TABLE_III[condition][names[fields[offset]]]
                    checked += 1
    for line in range(268, 276):
        fields = lines[line - 1].split("\t")
        assert numbers(fields[1:7]) == paper.TABLE_V[names[fields[0]]]
        checked += 1
    assert checked == sum(map(len, paper.TABLE_III.values())) + len(paper.TABLE_V)


# ---- the combined recipe's acceptance check -------------------------------------------------------------------------

def recipe(gains: dict[int, float], condition: str = "name60+mask21") -> dict:
    cells = [c for seed, gain in gains.items() for c in (cell(condition, "baseline", seed, gIoU=50),
                                                         cell(condition, "pmhm_select", seed, gIoU=50 + gain))]
    return report.recipe_comparison(cells, condition)


def test_recipe_acceptance_needs_three_gIoU_over_two_seeds():
    met = report.acceptance(recipe({0: 4.0, 1: 3.0}))
    assert met["verdict"] == report.MET and "+3.50 gIoU over 2 seeds" in met["text"]
    assert report.acceptance(recipe({0: 3.0, 1: 3.0}))["verdict"] == report.MET  # the bar itself passes
    short = report.acceptance(recipe({0: 1.0, 1: 2.0}))
    assert short["verdict"] == report.NOT_MET and short["shortfall"] == pytest.approx(1.5)
    assert "1.50 gIoU short" in short["text"]
    one_seed = report.acceptance(recipe({0: 9.0}))
    assert one_seed["verdict"] == NOT_RUN and "provisional gain +9.00" in one_seed["text"]
    assert report.acceptance(recipe({}))["verdict"] == NOT_RUN
    # unpaired seeds are not averaged in
    unpaired = report.recipe_comparison([cell("name60+mask21", "baseline", 0, gIoU=50),
                                         cell("name60+mask21", "pmhm_select", 0, gIoU=55),
                                         cell("name60+mask21", "pmhm_select", 1, gIoU=80)], "name60+mask21")
    assert unpaired["paired_seeds"] == [0] and unpaired["mean_gIoU_gain"] == pytest.approx(5.0)


# ---- Kendall tau ----------------------------------------------------------------------------------------------------

def test_kendall_tau_hand_computed():
    assert report.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert report.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert report.kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)  # C=2, D=1
    assert report.kendall_tau([1, 2, 3], [1, 1, 2]) == pytest.approx(2 / math.sqrt(3 * 2))  # tau-b: one tie in y
    assert report.kendall_tau([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(2 / 6)  # C=4, D=2
    assert report.kendall_tau([1, 1, 1], [1, 2, 3]) is None
    assert report.kendall_tau([1], [1]) is None
    with pytest.raises(ValueError):
        report.kendall_tau([1, 2], [1])


def test_kendall_tau_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    x, y = [3, 1, 4, 1, 5, 9, 2, 6], [2, 7, 1, 8, 2, 8, 1, 8]
    assert report.kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


# ---- the command ----------------------------------------------------------------------------------------------------

def test_cli_writes_the_three_files(tmp_path, capsys):
    noise = {"objects": 100, "names_changed": 60, "classes_flipped": 40,
             "mask_severity": {"all": {"mIoU": 0.5, "cIoU": 0.55}}}
    cells = [*text_noise_table("name60"), cell("clean", "baseline", p_mIoU=60, n_mIoU=60)]
    cells += [dict(c, noise=noise) for c in (cell("name60+mask21", "baseline", 0, gIoU=50),
                                             cell("name60+mask21", "baseline", 1, gIoU=52),
                                             cell("name60+mask21", "pmhm_select", 0, gIoU=55),
                                             cell("name60+mask21", "pmhm_select", 1, gIoU=56, Acc=None),
                                             cell("name60+mask21", "query_select", 0, gIoU=51))]
    del cells[-2]["metrics"]["Acc"]  # an absent metric reads as undefined
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"protocol": {"steps": 200, "batch_frames": 8, "input_size": [128, 224],
                                                "image_encoder": "efficientnet_lite0", "lr": 0.002,
                                                "ckpt_every": 50}, "summary": {}, "cells": cells}))
    analysis = tmp_path / "analysis.md"
    analysis.write_text("Hand-written *commentary*.\n")
    out = tmp_path / "out"
    assert report.main(["--results", str(results), "--out", str(out), "--analysis", str(analysis)]) == 0
    assert "F1 reproduces" in capsys.readouterr().out
    text = (out / "actiseg_nl.md").read_text()
    assert "`mini` protocol" in text and "Cells: 13" in text and "abc1234 (13 cells)" in text
    assert "actiseg-benchmark" in text and "regenerated by this script" in text
    assert "name60+mask21 0,1" in text and "mask9 not run yet" in text
    for heading in ("Table I:", "Table II:", "Table III (a)", "Table III (f)", "Table V:", "## Findings",
                    "## Combined recipe (pmhm_select) under mixed noise", "## Analysis"):
        assert heading in text
    assert "**55.5 ± 0.5**" in text  # pmhm_select's mean gIoU (55, 56), the best under mixed noise
    assert "60 of 100 object names changed" in text and "mIoU 50.0, cIoU 55.0" in text
    assert "not met: +4.50 gIoU" not in text and f"{report.MET}: +4.50 gIoU over 2 seeds" in text
    assert "### Ablation under Name-60 + Mask-21 (mixed): query_select" in text
    assert "query_select − baseline" in text and "1 paired seed(s) of the 2 needed, provisional gain +1.00" in text
    assert text.rstrip().endswith("Hand-written *commentary*.")
    data = json.loads((out / "actiseg_nl.json").read_text())
    assert {f["key"]: f["ours"]["verdict"] for f in data["findings"]} == {"F1": R, "F2": NOT_RUN, "F3": NOT_RUN,
                                                                        "F4": NOT_RUN, "F5": NOT_RUN}
    assert data["combined_recipe"]["name60+mask21"]["acceptance"]["verdict"] == report.MET
    assert data["ablation"]["gIoU_gain"] == {"0": 1.0}
    assert data["paper"]["mask15"]["apl"]["gIoU"] == 64.7
    assert (out / "actiseg_nl_findings.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_results_file(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    assert report.main(["--results", str(corrupt), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"cells": [{"condition": "clean"}]}))
    assert report.main(["--results", str(wrong), "--out", str(tmp_path / "out")]) == 1
    assert "cell 0 lacks method, seed, metrics" in capsys.readouterr().err
    wrong.write_text(json.dumps({"cells": [dict(cell("clean", "baseline"), metrics=[1, 2])]}))
    assert report.main(["--results", str(wrong), "--out", str(tmp_path / "out")]) == 1
    assert "cell 0 lacks a metrics object" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_missing_results_file_as_a_module(tmp_path):
    """Run as documented (``python -m benchmarks.nl.report`` from the repository root): one line on stderr, exit 1."""
    missing = tmp_path / "nope.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks.nl.report", "--results", str(missing), "--out",
                          str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [f"benchmarks.nl.report: error: {missing}: file not found"]
    assert not (tmp_path / "out").exists()
