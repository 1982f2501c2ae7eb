"""ActiSeg-NL: our benchmark's tables beside paper 003's, and its five findings checked by rules on the data.

    python -m benchmarks.nl.report --results runs/actiseg_nl/results.json --out benchmarks/results

Reads the ``results.json`` that ``actiseg-benchmark`` (:mod:`benchmarks.nl.runner`) writes and rebuilds its summary
from the cells (:func:`benchmarks.nl.runner.aggregate`). For each of the paper's tables (I, II, III a-f, V) it puts our
table (mean ± std over seeds) next to the paper's (``paper003_tables``), with the noise severity of the labels our
cells trained on. Each of the paper's five findings gets a verdict computed by a stated rule, from our numbers and,
as a check of the rule, from the paper's: "reproduces", "does not reproduce", or "not run yet" when a cell the
rule needs is missing. The combined recipe (``pmhm_select``) is checked against its acceptance bar: at least +3
gIoU over ``baseline`` under Name-60 + Mask-21, averaged over at least 2 seeds. Partial results are fine: whatever
is missing reads "not run yet".

Where the cells carry the positive head's summary (``positive_head``), a table of it follows the paper's tables.

Writes ``actiseg_nl.md``, ``actiseg_nl.json`` and ``actiseg_nl_findings.png`` to ``--out``. A hand-written
``benchmarks/actiseg_nl_analysis.md``, where it exists, is copied into the Markdown under "Analysis".
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from actiseg_core.atomic import atomic_write_bytes, atomic_write_json
from actiseg_core.cli_util import OneLineParser, run_command
from actiseg_core.data.layout import read_json
from actiseg_core.errors import DataError
from actiseg_core.learners import learner_names
from actiseg_core.metrics import HIGHER_IS_BETTER, METRIC_COLUMNS
from benchmarks.nl import paper003_tables as paper
from benchmarks.nl.objects import positive_head_table
from benchmarks.nl.runner import (
    CONDITION_BY_KEY,
    CONDITIONS,
    MASK_ONLY_METHODS,
    PROTOCOLS,
    SWEEPS,
    aggregate,
    best_value,
    cell_text,
    noise_line,
    png_bytes,
)

PROG = "benchmarks.nl.report"
BENCHMARKS = Path(__file__).resolve().parents[1]
REPO = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
ANALYSIS = BENCHMARKS / "actiseg_nl_analysis.md"
STEM = "actiseg_nl"
REPRODUCES, NOT_REPRODUCED, NOT_RUN = "reproduces", "does not reproduce", "not run yet"
MET, NOT_MET = "met", "not met"
BASELINE, RECIPE, MIXED = "baseline", "pmhm_select", "name60+mask21"
ABLATION = "query_select"  # the recipe's query selection without PMHM
#: The paper's robust learners of Table III (PMHM aside), in registry order: the field F3 and F4 compare against.
PAPER_LEARNERS = tuple(m for m in learner_names() if m in paper.PAPER_NAMES and m not in (BASELINE, "pmhm"))
#: F5 ranks the methods the paper has under both Name-60 and the mixed condition (PMHM has no Name-60 cell).
RANKED = (BASELINE, *PAPER_LEARNERS)
ACCEPT_GAIN, ACCEPT_SEEDS = 3.0, 2  # pmhm_select's bar: >= +3 gIoU over baseline, mean of >= 2 seeds
Table = dict[str, dict[str, dict[str, Any]]]  # condition -> method -> {metric: value, ...}


# ---- reading --------------------------------------------------------------------------------------------------------

def load_results(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(protocol, cells) of an ``actiseg-benchmark`` results.json; a one-line DataError if it is not one."""
    try:
        data = read_json(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise DataError(f"{path}: no 'cells' list; not a results.json written by actiseg-benchmark")
    cells = []
    for index, cell in enumerate(data["cells"]):
        missing = [key for key in ("condition", "method", "seed", "metrics") if not isinstance(cell, dict)
                   or key not in cell]
        if missing or not isinstance(cell["metrics"], dict):
            raise DataError(f"{path}: cell {index} lacks {', '.join(missing) or 'a metrics object'}")
        metrics = {**cell["metrics"], **{m: cell["metrics"].get(m) for m in METRIC_COLUMNS}}  # absent -> None
        cells.append({**cell, "metrics": metrics, "noise": cell.get("noise")})
    protocol = data.get("protocol")
    return (protocol if isinstance(protocol, dict) else {}), cells


def value(table: Table, condition: str, method: str, metric: str) -> float | None:
    """One number of a table, None when the cell is missing or the metric undefined (None / NaN)."""
    number = table.get(condition, {}).get(method, {}).get(metric)
    return None if number is None or (isinstance(number, float) and math.isnan(number)) else float(number)


def missing_cells(table: Table, needs: Sequence[tuple[str, str]], metrics: Sequence[str]) -> list[str]:
    """The needed (condition, method) cells that are absent or lack one of ``metrics``, as "condition/method"."""
    return [f"{condition}/{method}" for condition, method in needs
            if any(value(table, condition, method, metric) is None for metric in metrics)]


def expected_methods(condition: str) -> list[str]:
    """The methods ``actiseg-benchmark`` runs under a condition, in registry order (PMHM only with noisy masks)."""
    return [m for m in learner_names() if m not in MASK_ONLY_METHODS or CONDITION_BY_KEY[condition].noisy_masks]


@functools.cache
def paper_table() -> Table:
    """The paper's numbers in ``aggregate``'s shape (no seeds, std 0), so rules and tables read both alike; built
    once (callers only read it)."""
    return {condition: {method: {**metrics, **{f"{m}_std": 0.0 for m in metrics}, "seeds": []}
                        for method, metrics in rows.items()}
            for condition, rows in paper.by_condition().items()}


# ---- statistics -----------------------------------------------------------------------------------------------------

def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of paired values (ties as in ``scipy.stats.kendalltau``); None when it is undefined
    (fewer than two pairs, or every pair tied on one side)."""
    if len(x) != len(y):
        raise ValueError(f"kendall_tau: {len(x)} x values but {len(y)} y values")
    pairs = concordant = discordant = tied_x = tied_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            pairs += 1
            dx, dy = x[i] - x[j], y[i] - y[j]
            tied_x += dx == 0
            tied_y += dy == 0
            concordant += dx * dy > 0
            discordant += dx * dy < 0
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return (concordant - discordant) / denominator if denominator > 0 else None


def ranking(table: Table, condition: str, methods: Sequence[str], metric: str) -> list[tuple[str, float]]:
    """(method, value) from best to worst on ``metric``; ties keep registry order."""
    scores = [(method, value(table, condition, method, metric)) for method in methods]
    return sorted(scores, key=lambda item: -item[1] if HIGHER_IS_BETTER[metric] else item[1])


def rank_of(method: str, ranked: list[tuple[str, float]], metric: str) -> int:
    """1-based competition rank ("1224"): one plus the number of methods strictly better on ``metric``."""
    score = dict(ranked)[method]
    return 1 + sum((other > score) if HIGHER_IS_BETTER[metric] else (other < score) for _, other in ranked)


def combine(parts: dict[str, str]) -> str:
    """A finding made of parts holds when every part does; one failed part fails it even if others are not run."""
    if NOT_REPRODUCED in parts.values():
        return NOT_REPRODUCED
    return NOT_RUN if NOT_RUN in parts.values() or not parts else REPRODUCES


# ---- the five findings ----------------------------------------------------------------------------------------------

@dataclass
class Verdict:
    """A rule's outcome on one table: the verdict, the numbers it used (as text) and, per part, sub-verdicts."""

    verdict: str
    evidence: list[str]
    parts: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)


def not_run(missing: list[str]) -> Verdict:
    return Verdict(NOT_RUN, [f"missing: {', '.join(missing)}"])


def f1_text_noise(table: Table) -> Verdict:
    """F1: baseline at name60 vs clean: p-mIoU lower AND n-mIoU lower."""
    missing = missing_cells(table, [("clean", BASELINE), ("name60", BASELINE)], ["p-mIoU", "n-mIoU"])
    if missing:
        return not_run(missing)
    numbers = {m: {c: value(table, c, BASELINE, m) for c in ("clean", "name60")} for m in ("p-mIoU", "n-mIoU")}
    lower = {m: pair["name60"] < pair["clean"] for m, pair in numbers.items()}
    evidence = [f"baseline {m}: clean {pair['clean']:.1f} -> name60 {pair['name60']:.1f} "
                f"({'lower' if lower[m] else 'not lower'})" for m, pair in numbers.items()]
    return Verdict(REPRODUCES if all(lower.values()) else NOT_REPRODUCED, evidence, numbers=numbers)


def f2_mask_vs_text(table: Table) -> Verdict:
    """F2: baseline gIoU at mask21 below baseline gIoU at name60."""
    missing = missing_cells(table, [("mask21", BASELINE), ("name60", BASELINE)], ["gIoU"])
    if missing:
        return not_run(missing)
    mask, text = value(table, "mask21", BASELINE, "gIoU"), value(table, "name60", BASELINE, "gIoU")
    evidence = [f"baseline gIoU: mask21 {mask:.1f} vs name60 {text:.1f} ({mask - text:+.1f})"]
    return Verdict(REPRODUCES if mask < text else NOT_REPRODUCED, evidence,
                   numbers={"mask21": mask, "name60": text})


def f3_part(table: Table, condition: str) -> tuple[str, str, dict[str, Any]]:
    """F3 at one text-noise condition: (sub-verdict, evidence line, numbers)."""
    needs = [(condition, m) for m in (BASELINE, *PAPER_LEARNERS)]
    missing = missing_cells(table, needs, ["gIoU", "p-mIoU"])
    if missing:
        return NOT_RUN, f"{condition}: missing {', '.join(missing)}", {}
    rivals = ranking(table, condition, [m for m in PAPER_LEARNERS if m != "coteaching"], "gIoU")
    giou, p_miou = value(table, condition, "coteaching", "gIoU"), value(table, condition, "coteaching", "p-mIoU")
    base_p = value(table, condition, BASELINE, "p-mIoU")
    by_p = ranking(table, condition, PAPER_LEARNERS, "p-mIoU")
    holds = giou >= rivals[0][1] and p_miou > base_p
    line = (f"{condition}: coteaching gIoU {giou:.1f} vs best other learner {rivals[0][0]} {rivals[0][1]:.1f}; "
            f"p-mIoU {p_miou:.1f} vs baseline {base_p:.1f} (not in the rule: its p-mIoU rank among the learners "
            f"is {rank_of('coteaching', by_p, 'p-mIoU')} of {len(by_p)}, best {by_p[0][0]} {by_p[0][1]:.1f})")
    numbers = {"coteaching_gIoU": giou, "best_other": list(rivals[0]), "coteaching_p-mIoU": p_miou,
               "baseline_p-mIoU": base_p, "p-mIoU_rank": rank_of("coteaching", by_p, "p-mIoU")}
    return (REPRODUCES if holds else NOT_REPRODUCED), line, numbers


def f3_coteaching(table: Table) -> Verdict:
    """F3: at name40 and name60, Co-teaching has the best gIoU of the paper's learners and a p-mIoU above the
    baseline's."""
    return per_condition(table, f3_part, ("name40", "name60"))


def f4_part(table: Table, condition: str) -> tuple[str, str, dict[str, Any]]:
    """F4 at one mask-noise condition: (sub-verdict, evidence line, numbers)."""
    missing = missing_cells(table, [(condition, m) for m in ("pmhm", *PAPER_LEARNERS)], ["gIoU"])
    if missing:
        return NOT_RUN, f"{condition}: missing {', '.join(missing)}", {}
    pmhm, rivals = value(table, condition, "pmhm", "gIoU"), ranking(table, condition, PAPER_LEARNERS, "gIoU")
    base = value(table, condition, BASELINE, "gIoU")
    line = (f"{condition}: pmhm gIoU {pmhm:.1f} vs best other learner {rivals[0][0]} {rivals[0][1]:.1f} "
            f"({pmhm - rivals[0][1]:+.1f})" + (f"; baseline {base:.1f} (not in the rule)" if base is not None else ""))
    numbers = {"pmhm_gIoU": pmhm, "best_other": list(rivals[0]), "baseline_gIoU": base}
    return (REPRODUCES if pmhm >= rivals[0][1] else NOT_REPRODUCED), line, numbers


def f4_pmhm(table: Table) -> Verdict:
    """F4: at mask9, mask15 and mask21, PMHM's gIoU >= every other paper learner's (per k, and all k together)."""
    return per_condition(table, f4_part, ("mask9", "mask15", "mask21"))


def per_condition(table: Table, part: Callable[[Table, str], tuple[str, str, dict[str, Any]]],
                  conditions: Sequence[str]) -> Verdict:
    """A finding judged condition by condition: each part's sub-verdict, evidence line and numbers, combined."""
    results = {condition: part(table, condition) for condition in conditions}
    parts = {condition: result[0] for condition, result in results.items()}
    return Verdict(combine(parts), [result[1] for result in results.values()], parts,
                   {condition: result[2] for condition, result in results.items()})


def f5_non_transitive(table: Table) -> Verdict:
    """F5: the gIoU leader(s) under name60 are not leaders under name60+mask21; Kendall tau-b of the two rankings
    is reported beside it."""
    missing = missing_cells(table, [(c, m) for c in ("name60", MIXED) for m in RANKED], ["gIoU"])
    if missing:
        return not_run(missing)
    text, mixed = ranking(table, "name60", RANKED, "gIoU"), ranking(table, MIXED, RANKED, "gIoU")
    tau = kendall_tau([value(table, "name60", m, "gIoU") for m in RANKED],
                      [value(table, MIXED, m, "gIoU") for m in RANKED])
    leaders = [m for m, score in text if score == text[0][1]]
    mixed_ranks = [rank_of(m, mixed, "gIoU") for m in leaders]
    changed = all(rank > 1 for rank in mixed_ranks)
    evidence = [
        "name60 gIoU ranking: " + " > ".join(f"{m} {s:.1f}" for m, s in text),
        f"{MIXED} gIoU ranking: " + " > ".join(f"{m} {s:.1f}" for m, s in mixed),
        f"name60 leader {', '.join(leaders)} -> rank {', '.join(map(str, mixed_ranks))} of "
        f"{len(mixed)} under {MIXED}; Kendall tau-b between the rankings "
        + ("undefined" if tau is None else f"{tau:.2f}"),
    ]
    numbers = {"name60": text, MIXED: mixed, "kendall_tau_b": tau, "leaders": leaders, "top_changed": changed}
    return Verdict(REPRODUCES if changed else NOT_REPRODUCED, evidence, numbers=numbers)


@dataclass(frozen=True)
class Finding:
    """One of the paper's findings and the rule that checks it."""

    key: str
    claim: str
    where: str
    rule: str
    check: Callable[[Table], Verdict]


FINDINGS = (
    Finding("F1", "Text noise lowers p-mIoU and n-mIoU.", "Sec. V-C, Table I",
            "baseline at name60 vs clean: p-mIoU lower AND n-mIoU lower.", f1_text_noise),
    Finding("F2", "Mask noise hurts more than text noise at matched severity.", "Sec. V-D, Tables I-II",
            "baseline gIoU at mask21 < baseline gIoU at name60.", f2_mask_vs_text),
    Finding("F3", "Co-teaching prevails and keeps the foreground under text noise.", "Observation 1, Table III (b)-(c)",
            f"at name40 AND name60: coteaching's gIoU >= that of every other paper learner "
            f"({', '.join(m for m in PAPER_LEARNERS if m != 'coteaching')}) AND coteaching's p-mIoU > baseline's.",
            f3_coteaching),
    Finding("F4", "PMHM has the best gIoU under mask-only noise.", "Sec. V-F, Table III (d)-(f)",
            f"at each of mask9, mask15, mask21: pmhm's gIoU >= that of every other paper learner "
            f"({', '.join(PAPER_LEARNERS)}); the finding holds when it holds at all three.", f4_pmhm),
    Finding("F5", "The ranking is non-transitive under mixed noise.", "Observation 1, Tables III (c) and V",
            f"gIoU rankings of {', '.join(RANKED)} under name60 and under {MIXED}: the name60 leader(s) are not "
            f"leaders under {MIXED} (Kendall tau-b of the two rankings reported, not part of the verdict).",
            f5_non_transitive),
)


def check_findings(ours: Table, theirs: Table) -> list[dict[str, Any]]:
    """Each finding's rule applied to our table and, as a sanity check of the rule, to the paper's."""
    return [{"key": f.key, "claim": f.claim, "where": f.where, "rule": f.rule, "ours": asdict(f.check(ours)),
             "paper": asdict(f.check(theirs))} for f in FINDINGS]


# ---- the combined recipe --------------------------------------------------------------------------------------------

def per_seed(cells: list[dict[str, Any]], condition: str, method: str) -> dict[int, dict[str, float | None]]:
    """seed -> metrics of one (condition, method) (a later duplicate cell replaces an earlier one)."""
    return {cell["seed"]: {m: cell["metrics"].get(m) for m in METRIC_COLUMNS}
            for cell in cells if cell["condition"] == condition and cell["method"] == method}


def recipe_comparison(cells: list[dict[str, Any]], condition: str, method: str = RECIPE) -> dict[str, Any]:
    """``method`` (pmhm_select unless given) vs baseline under a condition: per seed, the seeds both ran, and the
    mean gIoU gain over them."""
    base, recipe = per_seed(cells, condition, BASELINE), per_seed(cells, condition, method)
    paired = sorted(s for s in set(base) & set(recipe)
                    if base[s]["gIoU"] is not None and recipe[s]["gIoU"] is not None)
    gains = {s: recipe[s]["gIoU"] - base[s]["gIoU"] for s in paired}
    return {"condition": condition, "method": method, BASELINE: base, method: recipe, "paired_seeds": paired,
            "gIoU_gain": gains, "mean_gIoU_gain": statistics.fmean(gains.values()) if gains else None}


def acceptance(comparison: dict[str, Any]) -> dict[str, Any]:
    """The bar: mean gIoU gain >= ACCEPT_GAIN over >= ACCEPT_SEEDS paired seeds: met / not met / not run yet."""
    seeds, gain = len(comparison["paired_seeds"]), comparison["mean_gIoU_gain"]
    bar = f"bar: >= {ACCEPT_GAIN:+.1f} gIoU over >= {ACCEPT_SEEDS} seeds"
    if seeds < ACCEPT_SEEDS:
        provisional = f", provisional gain {gain:+.2f} gIoU" if gain is not None else ""
        return {"verdict": NOT_RUN, "shortfall": None,
                "text": f"{NOT_RUN}: {seeds} paired seed(s) of the {ACCEPT_SEEDS} needed{provisional} ({bar})"}
    if gain >= ACCEPT_GAIN:
        return {"verdict": MET, "shortfall": 0.0, "text": f"{MET}: {gain:+.2f} gIoU over {seeds} seeds ({bar})"}
    shortfall = ACCEPT_GAIN - gain
    return {"verdict": NOT_MET, "shortfall": shortfall,
            "text": f"{NOT_MET}: {gain:+.2f} gIoU over {seeds} seeds, {shortfall:.2f} gIoU short ({bar})"}


# ---- Markdown -------------------------------------------------------------------------------------------------------

def headers() -> list[str]:
    return [f"{m}{'↑' if HIGHER_IS_BETTER[m] else '↓'}" for m in METRIC_COLUMNS]


def metric_table(first: str, rows: list[tuple[str, dict[str, Any] | None]], seeds: bool, bold: bool) -> list[str]:
    """A Markdown table, one row per (label, aggregate-shaped row); None rows read "not run yet"."""
    present = {label: row for label, row in rows if row is not None}
    best = {m: best_value(present, m) if bold and len(present) > 1 else None for m in METRIC_COLUMNS}
    lines = [f"| {first} | " + " | ".join(headers()) + (" | seeds |" if seeds else " |"),
             "|---" * (len(METRIC_COLUMNS) + 1 + seeds) + "|"]
    for label, row in rows:
        if row is None:
            cells = [NOT_RUN] + [""] * (len(METRIC_COLUMNS) - 1) + ([""] if seeds else [])
        else:
            cells = [cell_text(row, m, best[m]) for m in METRIC_COLUMNS]
            cells += [",".join(map(str, row["seeds"]))] if seeds else []
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def noise_text(cells: list[dict[str, Any]], key: str) -> str:
    """The noise severity of the labels our cells of a condition trained on ("not run yet" without any cell)."""
    ran = [cell for cell in cells if cell["condition"] == key]
    return noise_line(ran, CONDITION_BY_KEY[key]).removeprefix("Training labels: ") if ran else f"{NOT_RUN}."


def sweep_section(title: str, source: str, levels: dict[int, str], level_name: str, ours: Table,
                  cells: list[dict[str, Any]]) -> list[str]:
    """Table I or II: the baseline across one noise sweep, ours then the paper's."""
    ours_rows = [(f"{level} ({key})", ours.get(key, {}).get(BASELINE)) for level, key in levels.items()]
    theirs = [(f"{level} ({key})", paper_table()[key][BASELINE]) for level, key in levels.items()]
    return [f"## {title}", "", f"Paper: {source}.", "", "**Ours** (baseline)", "",
            *metric_table(level_name, ours_rows, seeds=True, bold=False), "", "**Paper** (FLac)", "",
            *metric_table(level_name, theirs, seeds=False, bold=False), "",
            "Our training labels:", "", *[f"- {key}: {noise_text(cells, key)}" for key in levels.values()], ""]


def condition_section(title: str, source: str, key: str, ours: Table, theirs: Table,
                      cells: list[dict[str, Any]]) -> list[str]:
    """Table III (a)-(f), V or clean: every method under one condition, ours then the paper's."""
    lines = [f"## {title}", "", f"Paper: {source}.", "", f"Our training labels: {noise_text(cells, key)}", "",
             "**Ours**", ""]
    if key in ours:
        lines += metric_table("Method", [(m, ours[key].get(m)) for m in expected_methods(key)], True, True)
    else:
        lines.append(f"{NOT_RUN}.")
    rows = [(f"{m} ({paper.PAPER_NAMES[m]})", theirs[key][m]) for m in learner_names() if m in theirs.get(key, {})]
    return lines + ["", "**Paper**", "", *metric_table("Method", rows, False, True), ""]


def tables_markdown(ours: Table, cells: list[dict[str, Any]]) -> list[str]:
    """Every paper table beside ours: I, II, clean, III (a)-(f), V."""
    theirs = paper_table()
    lines = sweep_section("Table I: text-noise sweep of the baseline", _where("I"), paper.TABLE_I_CONDITIONS,
                          "Names changed (%)", ours, cells)
    lines += sweep_section("Table II: mask-noise sweep of the baseline", _where("II"), paper.TABLE_II_CONDITIONS,
                           "Kernel k", ours, cells)
    lines += condition_section("Clean labels, every method", "FLac only, row 0 of Tables I / II", "clean", ours,
                               theirs, cells)
    for letter, key in paper.TABLE_III_CONDITIONS.items():
        sweep = "I" if CONDITION_BY_KEY[key].text_rate else "II"
        source = f"Table III ({letter}), {_where('III').removeprefix('Table III, ')}; the FLac row is Table {sweep}'s"
        lines += condition_section(f"Table III ({letter}): {CONDITION_BY_KEY[key].title}", source, key, ours,
                                   theirs, cells)
    lines += condition_section(f"Table V: {CONDITION_BY_KEY[MIXED].title}", _where("V"), MIXED, ours, theirs, cells)
    return lines


def _where(table: str) -> str:
    first, last = paper.TABLE_LINES[table]
    return f"Table {table}, reference text lines {first}-{last}"


def findings_markdown(findings: list[dict[str, Any]]) -> list[str]:
    """The Findings section: a summary table, then each finding's rule, numbers and verdicts."""
    lines = ["## Findings", "",
             "Each verdict is computed from the numbers by the stated rule; the same rule is applied to the paper's "
             "numbers as a check that it encodes the finding.", "",
             "| Finding | Ours | Paper's numbers |", "|---|---|---|"]
    lines += [f"| {f['key']}: {f['claim']} | {_verdict_text(f['ours'])} | {_verdict_text(f['paper'])} |"
              for f in findings]
    for f in findings:
        lines += ["", f"### {f['key']}: {f['claim']}", "", f"Paper: {f['where']}. Rule: {f['rule']}", ""]
        for side, label in (("ours", "Ours"), ("paper", "Paper")):
            lines.append(f"- **{label}: {_verdict_text(f[side])}**")
            lines += [f"  - {line}" for line in f[side]["evidence"]]
    return lines + [""]


def _verdict_text(verdict: dict[str, Any]) -> str:
    parts = verdict["parts"]
    detail = f" ({'; '.join(f'{k}: {v}' for k, v in parts.items())})" if parts else ""
    return verdict["verdict"] + detail


def recipe_markdown(recipes: dict[str, dict[str, Any]], ablation: dict[str, Any]) -> list[str]:
    """The combined recipe's section: per seed and mean, pmhm_select vs baseline, the acceptance check, and the
    ablation without PMHM under mixed noise."""
    mixed = recipes[MIXED]
    theirs = paper_table()
    pmhm, flac = value(theirs, MIXED, "pmhm", "gIoU"), value(theirs, MIXED, BASELINE, "gIoU")
    best = ranking(theirs, MIXED, RANKED, "gIoU")[0]
    context = (f"For context, the paper's PMHM under the same condition: gIoU {pmhm:.1f} vs FLac {flac:.1f} "
               f"({pmhm - flac:+.1f}); its best learner there: {best[0]} {best[1]:.1f} ({best[1] - flac:+.1f}; "
               "Table V).")
    lines = ["## Combined recipe (pmhm_select) under mixed noise", "",
             f"Acceptance check under {MIXED}: **{mixed['acceptance']['text']}**.", "", context, ""]
    for key, comparison in recipes.items():
        lines += [f"### {CONDITION_BY_KEY[key].title}", "", *recipe_table(comparison), ""]
    lines += [f"### Ablation under {CONDITION_BY_KEY[MIXED].title}: {ABLATION} (the same query selection, no PMHM)",
              "", f"The bar applied to the ablation: {ablation['acceptance']['text']}.", "", *recipe_table(ablation),
              ""]
    return lines


def recipe_table(comparison: dict[str, Any]) -> list[str]:
    """Per-seed rows of baseline and the compared method, their difference, and means over the paired seeds."""
    method = comparison["method"]
    base, recipe, paired = comparison[BASELINE], comparison[method], comparison["paired_seeds"]
    if not base and not recipe:
        return [f"{NOT_RUN}."]
    rows: list[tuple[str, dict[str, Any] | None]] = []
    for seed in sorted(set(base) | set(recipe)):
        rows += [(f"seed {seed}: {m}", _row(runs.get(seed))) for m, runs in ((BASELINE, base), (method, recipe))]
        if seed in paired:
            rows.append((f"seed {seed}: difference", _row(_difference(recipe[seed], base[seed]))))
    if paired:
        means = {m: _mean([runs[s] for s in paired]) for m, runs in ((BASELINE, base), (method, recipe))}
        rows += [(f"mean of seeds {','.join(map(str, paired))}: {m}", _row(means[m])) for m in (BASELINE, method)]
        rows.append(("mean difference", _row(_difference(means[method], means[BASELINE]))))
    gain = comparison["mean_gIoU_gain"]
    summary = "no seed has both" if gain is None else f"mean gIoU gain {gain:+.2f} over {len(paired)} seed(s)"
    return [f"{method} − baseline (difference rows; ↓ metrics: negative is better); {summary}.", "",
            *metric_table("Cell", rows, seeds=False, bold=False)]


def _row(metrics: dict[str, float | None] | None) -> dict[str, Any] | None:
    return None if metrics is None else {**metrics, "seeds": []}


def _difference(a: dict[str, float | None], b: dict[str, float | None]) -> dict[str, float | None]:
    return {m: None if a[m] is None or b[m] is None else a[m] - b[m] for m in METRIC_COLUMNS}


def _mean(runs: list[dict[str, float | None]]) -> dict[str, float | None]:
    values = {m: [run[m] for run in runs if run[m] is not None] for m in METRIC_COLUMNS}
    return {m: statistics.fmean(v) if v else None for m, v in values.items()}


def header_markdown(report: dict[str, Any], command: str) -> list[str]:
    """Title, provenance (protocol, cells, seeds, commits) and how the numbers are regenerated."""
    seeds = report["seeds"]
    seed_text = "; ".join(f"{c.key} {','.join(map(str, seeds[c.key])) if c.key in seeds else NOT_RUN}"
                          for c in CONDITIONS)
    commits = ", ".join(f"{commit} ({count} cell{'s' if count > 1 else ''})"
                        for commit, count in report["commits"].items()) or "none"
    lines = ["# ActiSeg-NL: our benchmark vs paper 003", "",
             f"Numbers come from `actiseg-benchmark` (`{report['results']}`) and are regenerated by this script: "
             f"`{command}`. Do not edit them by hand.", "",
             f"- Protocol: {protocol_text(report['protocol'])}",
             f"- Cells: {report['cells']}; evaluated on the clean val split; ours are mean ± population std over "
             "seeds where there are several (best value per column in bold in the per-condition tables).",
             f"- Seeds per condition: {seed_text}.",
             f"- Commits: {commits}.",
             f"- Paper numbers: `benchmarks/nl/paper003_tables.py` (transcribed from {paper.REFERENCE})."]
    if report["duplicates"]:
        lines.append(f"- Warning: several cells for {', '.join(report['duplicates'])}; they are averaged.")
    return lines + [""]


def protocol_text(protocol: dict[str, Any]) -> str:
    """The protocol's settings, and which named protocol of ``actiseg-benchmark`` they are."""
    if not protocol:
        return "not recorded in results.json."
    settings = ", ".join(f"{k} {'x'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in protocol.items())
    named = [name for name, p in PROTOCOLS.items() if json.loads(json.dumps(asdict(p))) == protocol]
    return settings + (f" (the `{named[0]}` protocol)." if named else " (custom settings).")


def report_markdown(report: dict[str, Any], cells: list[dict[str, Any]], analysis: str | None,
                    command: str) -> str:
    """The whole Markdown report."""
    lines = header_markdown(report, command)
    lines += tables_markdown(report["summary"], cells)
    lines += positive_head_table(cells)  # only where cells carry the summary (ours only: the paper has none)
    lines += findings_markdown(report["findings"])
    lines += recipe_markdown(report["combined_recipe"], report["ablation"])
    if analysis is not None:
        lines += ["## Analysis", "", analysis.rstrip(), ""]
    return "\n".join(lines)


# ---- plot -----------------------------------------------------------------------------------------------------------

def findings_plot(ours: Table) -> bytes:
    """The baseline's two noise sweeps (p-mIoU, n-mIoU, gIoU; ours solid, paper dashed) and every method's gIoU
    under the mixed condition (ours vs paper bars)."""
    theirs = paper_table()
    figure = Figure(figsize=(15.0, 4.5), layout="constrained")
    axes = figure.subplots(1, 3)
    for ax, (label, x_label, points) in zip(axes[:2], SWEEPS, strict=True):
        for colour, metric in zip(("C0", "C3", "C2"), ("p-mIoU", "n-mIoU", "gIoU"), strict=True):
            for table, style, face, who in ((ours, "-", colour, "ours"), (theirs, "--", "white", "paper")):
                line = [(x, value(table, key, BASELINE, metric)) for x, key in points]
                line = [(x, y) for x, y in line if y is not None]
                if line:
                    ax.plot(*zip(*line, strict=True), linestyle=style, marker="o", color=colour,
                            markerfacecolor=face, label=f"{metric} {who}")
        ran = any(value(ours, key, BASELINE, "gIoU") is not None for _, key in points)
        ax.set_title(f"baseline under {label}" + ("" if ran else f" (ours: {NOT_RUN})"), fontsize=10)
        ax.set_xlabel(x_label)
        ax.set_xticks([x for x, _ in points])
        ax.set_ylabel("%")
        ax.legend(fontsize=7)
    methods, width = list(learner_names()), 0.4
    for offset, (table, who, colour) in ((-width / 2, (ours, "ours", "C0")), (width / 2, (theirs, "paper", "C7"))):
        bars = [(i + offset, value(table, MIXED, m, "gIoU")) for i, m in enumerate(methods)]
        bars = [(x, y) for x, y in bars if y is not None]
        if bars:
            axes[2].bar(*zip(*bars, strict=True), width=width, color=colour, label=who)
    for i, method in enumerate(methods):
        if value(ours, MIXED, method, "gIoU") is None:
            axes[2].text(i - width / 2, 1, NOT_RUN, rotation=90, fontsize=7, ha="center", va="bottom")
    axes[2].set_xticks(range(len(methods)), methods, rotation=45, ha="right")
    axes[2].set_ylabel("gIoU ↑ (%)")
    axes[2].set_title(f"gIoU under {MIXED}", fontsize=10)
    axes[2].set_ylim(0, 1.2 * max([50.0, *[bar.get_height() for bar in axes[2].patches]]))
    axes[2].legend(fontsize=7, ncol=2, loc="upper right")
    figure.suptitle("ActiSeg-NL: ours (clean val split) vs paper 003", fontsize=11)
    return png_bytes(figure)


# ---- the command ----------------------------------------------------------------------------------------------------

def build_report(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Everything the outputs show, as one JSON-ready dict, and the cells it was computed from."""
    protocol, cells = load_results(path)
    ours = aggregate(cells)
    keys = Counter((c["condition"], c["method"], c["seed"]) for c in cells)
    recipes = {key: recipe_comparison(cells, key) for key in (MIXED, "clean")}
    ablation = recipe_comparison(cells, MIXED, ABLATION)
    for comparison in (*recipes.values(), ablation):
        comparison["acceptance"] = acceptance(comparison)
    report = {
        "results": shown(path), "protocol": protocol, "cells": len(cells),
        "seeds": {c: sorted({cell["seed"] for cell in cells if cell["condition"] == c})
                  for c in CONDITION_BY_KEY if any(cell["condition"] == c for cell in cells)},
        "commits": dict(Counter(str(cell.get("commit", "unknown")) for cell in cells).most_common()),
        "duplicates": [f"{c}/{m}/seed {s}" for (c, m, s), n in keys.items() if n > 1],
        "summary": ours, "paper": paper.by_condition(), "findings": check_findings(ours, paper_table()),
        "combined_recipe": recipes, "ablation": ablation,
    }
    return report, cells


def shown(path: Path) -> str:
    """A path as the report prints it: relative to the repository root when inside it, so outputs do not
    depend on where the checkout lives."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def write_report(results: Path, out: Path, analysis: Path) -> dict[str, Any]:
    """Write actiseg_nl.{md,json} and actiseg_nl_findings.png to ``out``; returns the report."""
    report, cells = build_report(results)
    text = analysis.read_text(encoding="utf-8") if analysis.is_file() else None
    command = f"python -m {PROG} --results {shown(results)} --out {shown(out)}"
    atomic_write_bytes(out / f"{STEM}.md", report_markdown(report, cells, text, command).encode("utf-8"))
    atomic_write_json(out / f"{STEM}.json", report)
    atomic_write_bytes(out / f"{STEM}_findings.png", findings_plot(report["summary"]))
    return report


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0],
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("runs/actiseg_nl/results.json"),
                        help="results.json written by actiseg-benchmark")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for actiseg_nl.{md,json} and the plot")
    parser.add_argument("--analysis", type=Path, default=ANALYSIS,
                        help="hand-written commentary copied under 'Analysis' when the file exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def handler() -> None:
        report = write_report(args.results, args.out, args.analysis)
        verdicts = ", ".join(f"{f['key']} {f['ours']['verdict']}" for f in report["findings"])
        print(f"{PROG}: {report['cells']} cells; {verdicts}; pmhm_select "
              f"{report['combined_recipe'][MIXED]['acceptance']['verdict']}; {STEM}.md, {STEM}.json and "
              f"{STEM}_findings.png written to {args.out}")

    return run_command(PROG, handler)


if __name__ == "__main__":
    sys.exit(main())
