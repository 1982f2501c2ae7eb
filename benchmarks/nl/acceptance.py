"""Issue 15's bar for a robust-learning recipe, judged from a benchmark's paired differences.

Under mixed noise (Name-60 + Mask-21) a recipe, read at its own threshold tau* (and, judged apart, at its tau*n),
must beat by at least 3 gIoU, with the paired 95% interval above 0,

- the recalibrated baseline: the best of the focal baseline at its tau* or tau*n and the BCE-head baseline (at
  0.75, its tau* or its tau*n), and
- the best faithful paper method (Co-teaching, GCE, SCE, APL, ELR, NPN, PMHM, at 0.75 or its tau*),

on the test split, over at least 3 seeds; and on clean labels it may lose at most 1 gIoU to the recalibrated
baseline. "Best" is by the point gIoU on the same split. Read on val (before the test split is scored) or with
fewer seeds, the verdict is provisional. The differences come from
:func:`benchmarks.nl.comparisons.paired_differences` (``results.json`` ``differences``).
"""

from __future__ import annotations

from typing import Any

from benchmarks.nl.comparisons import RULES

MIXED, CLEAN = "name60+mask21", "clean"
RECIPES = ("relabel", "pmhm_relabel", "pmhm_select", "mention_select")  # our candidates, each read at its own tau*
RECIPE_RULES = ("tau*", "tau*n")  # the rules a recipe is judged at, each on its own line
RECALIBRATED = (("baseline", "tau*"), ("baseline", "tau*n"), ("baseline_bce", "0.75"), ("baseline_bce", "tau*"),
                ("baseline_bce", "tau*n"))
PAPER_METHODS = ("coteaching", "gce", "sce", "apl", "elr", "npn", "pmhm")
GAIN, CLEAN_LOSS, SEEDS = 3.0, 1.0, 3
MET, NOT_MET, PROVISIONAL, NOT_RUN = "met", "not met", "provisional", "not run yet"


def _row(rows: list[dict[str, Any]], condition: str, side: tuple[str, str], other: tuple[str, str]) -> dict | None:
    return next((r for r in rows if r["condition"] == condition and (r["method"], r["rule"]) == side
                 and (r["reference"], r["reference_rule"]) == other), None)


def _point(rows: list[dict[str, Any]], condition: str, side: tuple[str, str]) -> float | None:
    """The gIoU of ``side`` relative to the focal baseline at 0.75 (0 for that baseline itself, None without a
    row): the rows hold differences only, so candidates are ranked against this common anchor."""
    anchor = ("baseline", "0.75")
    if side == anchor:
        return 0.0
    row = _row(rows, condition, side, anchor)
    return None if row is None else row["estimate"]


def _best(rows: list[dict[str, Any]], condition: str, candidates: list[tuple[str, str]]) -> tuple[str, str] | None:
    scored = [(value, side) for side in candidates if (value := _point(rows, condition, side)) is not None]
    return max(scored)[1] if scored else None


def judge(rows: list[dict[str, Any]], split: str, recipe: str, rule: str = "tau*") -> dict[str, Any]:
    """The verdict for ``recipe`` read at ``rule`` from the ``split``'s difference rows: ``verdict`` (met / not met
    / provisional / not run yet), the references chosen, the three differences used and a one-line ``text``."""
    side = (recipe, rule)
    recalibrated = _best(rows, MIXED, list(RECALIBRATED))
    paper = _best(rows, MIXED, [(m, rule) for m in PAPER_METHODS for rule in RULES])
    clean_reference = _best(rows, CLEAN, list(RECALIBRATED))
    checks = {"vs recalibrated baseline": (MIXED, recalibrated), "vs best paper method": (MIXED, paper),
              "on clean labels": (CLEAN, clean_reference)}
    found = {name: None if ref is None else _row(rows, condition, side, ref)
             for name, (condition, ref) in checks.items()}
    missing = [name for name, row in found.items() if row is None]
    summary = {"recipe": recipe, "rule": rule, "split": split,
               "references": {name: ref for name, (_, ref) in checks.items()}, "differences": found}
    if missing:
        return {**summary, "verdict": NOT_RUN, "text": f"{NOT_RUN}: no cells for {', '.join(missing)}"}
    gains = [found["vs recalibrated baseline"], found["vs best paper method"]]
    passed = (all(row["estimate"] >= GAIN and row["low"] > 0 for row in gains)
              and found["on clean labels"]["estimate"] >= -CLEAN_LOSS)
    seeds = min(row["seeds"] for row in found.values())
    text = "; ".join(f"{name} ({'@'.join(checks[name][1])}): {row['estimate']:+.1f} [{row['low']:+.1f}, "
                     f"{row['high']:+.1f}]" for name, row in found.items())
    if split != "test" or seeds < SEEDS:
        verdict = PROVISIONAL
        why = f"{split} split, {seeds} seed(s); the bar is read on test with >= {SEEDS} seeds"
        text = f"{PROVISIONAL} ({'would pass' if passed else 'would fail'}; {why}): {text}"
    else:
        verdict = MET if passed else NOT_MET
        text = f"{verdict}: {text}"
    return {**summary, "verdict": verdict, "seeds": seeds, "text": text}


def acceptance_lines(differences: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Markdown lines: each candidate recipe's verdict on the test split's rows, else on val's."""
    split = "test" if differences.get("test") else "val"
    rows = differences.get(split, [])
    lines = ["## Issue 15 bar for a recipe", "",
             f"Under {MIXED}, at its own tau* (or tau*n): >= {GAIN:+.0f} gIoU over the recalibrated baseline and "
             f"over the best faithful paper method, each with the paired 95% interval above 0; on clean labels at most "
             f"{CLEAN_LOSS:.0f} gIoU below the recalibrated baseline; on the test split over >= {SEEDS} seeds.", ""]
    for recipe in RECIPES:
        for rule in RECIPE_RULES:
            lines.append(f"- `{recipe}` @ {rule}: {judge(rows, split, recipe, rule)['text']}")
    return [*lines, ""]
