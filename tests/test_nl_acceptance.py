"""Issue 15's bar for a recipe (benchmarks.nl.acceptance) on synthetic difference rows: which references are
chosen, when the bar is met, and when it is only provisional or not run."""

from __future__ import annotations

from benchmarks.nl import acceptance

ANCHOR = ("baseline", "0.75")


def _row(condition: str, side: tuple[str, str], other: tuple[str, str], estimate: float, low: float,
         seeds: int = 3) -> dict:
    return {"condition": condition, "method": side[0], "rule": side[1], "reference": other[0],
            "reference_rule": other[1], "estimate": estimate, "low": low, "high": estimate + 2, "seeds": seeds,
            "sequences": 30}


def _rows(recipe_gain: float, low: float = 1.0, clean: float = -0.5, seeds: int = 3) -> list[dict]:
    """Mixed: baseline@tau* is +5 over baseline@0.75, the BCE head +2, SCE@tau* +4 and GCE +1; the recipe is
    ``recipe_gain`` over the best of each group. Clean: the recipe ``clean`` vs baseline@tau*."""
    mixed = acceptance.MIXED
    return [_row(mixed, ("baseline", "tau*"), ANCHOR, 5.0, 3.0),
            _row(mixed, ("baseline_bce", "0.75"), ANCHOR, 2.0, 0.5),
            _row(mixed, ("sce", "tau*"), ANCHOR, 4.0, 2.0), _row(mixed, ("gce", "0.75"), ANCHOR, 1.0, -1.0),
            _row(mixed, ("relabel", "tau*"), ("baseline", "tau*"), recipe_gain, low, seeds),
            _row(mixed, ("relabel", "tau*"), ("sce", "tau*"), recipe_gain + 1.0, low, seeds),
            _row(acceptance.CLEAN, ("baseline", "tau*"), ANCHOR, 0.5, -0.2),
            _row(acceptance.CLEAN, ("relabel", "tau*"), ("baseline", "tau*"), clean, -2.0, seeds)]


def test_the_best_references_are_chosen_and_the_bar_applied_on_test() -> None:
    met = acceptance.judge(_rows(3.5), "test", "relabel")
    assert met["references"] == {"vs recalibrated baseline": ("baseline", "tau*"),
                                 "vs best paper method": ("sce", "tau*"),
                                 "on clean labels": ("baseline", "tau*")}
    assert met["verdict"] == acceptance.MET
    assert acceptance.judge(_rows(2.9), "test", "relabel")["verdict"] == acceptance.NOT_MET  # short of +3
    assert acceptance.judge(_rows(3.5, low=-0.1), "test", "relabel")["verdict"] == acceptance.NOT_MET  # CI has 0
    assert acceptance.judge(_rows(3.5, clean=-1.5), "test", "relabel")["verdict"] == acceptance.NOT_MET  # clean


def test_val_or_few_seeds_is_provisional_and_missing_cells_not_run() -> None:
    on_val = acceptance.judge(_rows(3.5), "val", "relabel")
    assert on_val["verdict"] == acceptance.PROVISIONAL and "would pass" in on_val["text"]
    one_seed = acceptance.judge(_rows(1.0, seeds=1), "test", "relabel")
    assert one_seed["verdict"] == acceptance.PROVISIONAL and "would fail" in one_seed["text"]
    absent = acceptance.judge(_rows(3.5), "test", "pmhm_relabel")
    assert absent["verdict"] == acceptance.NOT_RUN and "vs recalibrated baseline" in absent["text"]
    lines = acceptance.acceptance_lines({"val": _rows(3.5)})
    assert any(line.startswith("- `relabel` @ tau*: provisional") for line in lines)
    assert any(line.startswith("- `relabel` @ tau*n: not run yet") for line in lines)  # no relabel@tau*n rows


def test_a_recipe_at_tau_star_n_faces_the_baseline_at_its_own_tau_star_n() -> None:
    mixed = acceptance.MIXED
    rows = [*_rows(3.5), _row(mixed, ("baseline", "tau*n"), ANCHOR, 6.0, 4.0),
            _row(mixed, ("relabel", "tau*n"), ("baseline", "tau*n"), 1.0, -1.0),
            _row(mixed, ("relabel", "tau*n"), ("sce", "tau*"), 4.0, 2.0),
            _row(acceptance.CLEAN, ("relabel", "tau*n"), ("baseline", "tau*"), 0.0, -1.0)]
    at_n = acceptance.judge(rows, "test", "relabel", "tau*n")
    assert at_n["references"]["vs recalibrated baseline"] == ("baseline", "tau*n")  # +6 beats baseline@tau*'s +5
    assert at_n["verdict"] == acceptance.NOT_MET  # only +1 over it
    assert acceptance.judge(rows, "test", "relabel")["references"]["vs recalibrated baseline"] == ("baseline", "tau*n")
