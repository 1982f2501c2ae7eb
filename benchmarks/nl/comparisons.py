"""Paired differences between ActiSeg-NL methods, with seeds x sequences bootstrap intervals (issue 15).

Within one condition every method is compared with the references of issue 15: the ActionVOS baseline at the
ActionVOS threshold 0.75, and the recalibrated baselines, the focal baseline at its own tau* (chosen on the noisy
held-out training sequences) and the BCE-head baseline. A method is read at 0.75 and at its own tau* and tau*n
(:data:`RULES`), so e.g.
"relabel @ tau* - baseline @ tau*" separates what a learner adds from what the threshold adds. Differences are
gIoU points from the cells' per-object records (:mod:`benchmarks.nl.objects`; the gate-bypassed masks thresholded
at the score, which can differ from the evaluator's gIoU by the overlap rule, see
:func:`benchmarks.nl.objects.record_summary`), paired by seed and sequence
(:func:`benchmarks.nl.statistics.hierarchical_bootstrap`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actiseg_core.contract import POSITIVE_THRESHOLD
from actiseg_core.data.layout import read_json
from benchmarks.nl.statistics import bootstrap_totals, sequence_totals

#: Threshold rules: ActionVOS's 0.75, the cell's tau* (chosen on its noisy held-out training sequences) and its
#: tau*n (the same, on the held-out records the narration does not contradict; cells made before it lack it).
RULES = ("0.75", "tau*", "tau*n")
#: (method, threshold rule) pairs the tables show every other method against (results.json has every pair).
REFERENCES = (("baseline", "0.75"), ("baseline", "tau*"), ("baseline", "tau*n"), ("baseline_bce", "0.75"))


def _totals(out: Path, results: list[dict[str, Any]], records_file: str
            ) -> dict[tuple[str, str], dict[str, dict[int, Any]]]:
    """(condition, method) -> rule -> seed -> the cell's :func:`sequence_totals` at that rule's threshold, for the
    cells whose folder holds ``records_file``: each cell's records are read and scored once, whatever it is paired
    with."""
    found: dict[tuple[str, str], dict[str, dict[int, Any]]] = {}
    for result in results:
        path = out / result.get("folder", "") / records_file
        if "folder" in result and "tau_star" in result and path.is_file():
            records = read_json(path)
            thresholds = {"0.75": POSITIVE_THRESHOLD, "tau*": result["tau_star"],
                          "tau*n": result.get("tau_star_consistent")}
            rules = found.setdefault((result["condition"], result["method"]), {rule: {} for rule in RULES})
            for rule, threshold in thresholds.items():
                if threshold is not None:
                    rules[rule][result["seed"]] = sequence_totals(records, threshold)
    return found


def paired_differences(out: Path, results: list[dict[str, Any]], records_file: str,
                       resamples: int = 2000) -> list[dict[str, Any]]:
    """One row per (condition, method @ rule, reference @ rule), for every two methods (or one method's two rules)
    of a condition: the gIoU difference, its 95% interval, and the seeds and sequences it rests on."""
    cells = _totals(out, results, records_file)
    rows = []
    for (condition, method), mine in cells.items():
        for (other_condition, reference), theirs in cells.items():
            if other_condition != condition:
                continue
            for rule, reference_rule in ((a, b) for a in RULES for b in RULES):
                if (method, rule) == (reference, reference_rule) or not mine[rule].keys() & theirs[reference_rule]:
                    continue  # itself, or no seed where both have the rule
                difference = bootstrap_totals(mine[rule], theirs[reference_rule], resamples=resamples)
                rows.append({"condition": condition, "method": method, "rule": rule, "reference": reference,
                             "reference_rule": reference_rule, **difference})
    return rows


def difference_lines(rows: list[dict[str, Any]], split: str) -> list[str]:
    """Markdown lines of the rows of :func:`paired_differences` against :data:`REFERENCES` (none when there are
    none)."""
    rows = [row for row in rows if (row["reference"], row["reference_rule"]) in REFERENCES]
    if not rows:
        return []
    lines = [f"## Paired gIoU differences ({split} split, seeds x sequences bootstrap)", "",
             "gIoU points from the per-object records; 95% percentile interval of 2,000 resamples that draw seeds, "
             "then each seed's sequences, with replacement, paired by seed and sequence. `@ tau*`: each cell at its "
             "own threshold, chosen on its noisy held-out training sequences; `@ tau*n`: the same, chosen on the "
             "held-out records whose label agrees with the narration.", "",
             "| Condition | Method | Reference | Difference | 95% interval | seeds | sequences |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['condition']} | {row['method']} @ {row['rule']} | {row['reference']} @ "
                     f"{row['reference_rule']} | {row['estimate']:+.1f} | [{row['low']:+.1f}, {row['high']:+.1f}] | "
                     f"{row['seeds']} | {row['sequences']} |")
    return [*lines, ""]
