"""Paper 003's (ActiSeg-NL) reported numbers, transcribed by hand as plain data (nothing is parsed at run time).

Source: the paper's reference text ``/work/shared/reference/003_4e4c376955fd6f61.txt`` (not in the repository):

- Table I (text-noise sweep of the baseline FLac, rates 0/20/40/60 %): lines 150-156.
- Table II (mask-noise sweep of FLac, dilation kernel k = 0/9/15/21): lines 182-188.
- Table III (a)-(f) (single-noise benchmark of the robust learners; no FLac row, PMHM only under mask noise):
  lines 218-247, two subtables side by side per line: (a) Name-20 | (b) Name-40 at 222-227, (c) Name-60 |
  (d) Mask-9 at 231-237, (e) Mask-15 | (f) Mask-21 at 241-247.
- Table V (mixed: Name-60 + Mask-21, FLac and every learner): lines 265-275.
- The findings these tables support are discussed at lines 257-300 (Secs. V-C to V-F).

Every row is (p-mIoU, n-mIoU, p-cIoU, n-cIoU, gIoU, Acc) in percent, ``COLUMNS``' order (= ``METRIC_COLUMNS``).
Method names are ours (``actiseg_core.learners``): FLac -> ``baseline``, Co-teaching -> ``coteaching``, SCE ->
``sce``, GCE -> ``gce``, APL -> ``apl``, ELR -> ``elr``, NPN -> ``npn``, PMHM -> ``pmhm``. Conditions are
:mod:`benchmarks.nl.runner`'s keys. Rows keep the paper's order; tables are re-ordered for display by the report.
"""

from __future__ import annotations

REFERENCE = "/work/shared/reference/003_4e4c376955fd6f61.txt"
COLUMNS = ("p-mIoU", "n-mIoU", "p-cIoU", "n-cIoU", "gIoU", "Acc")
#: Our learner name -> the paper's row label (citation numbers as in the paper).
PAPER_NAMES = {"baseline": "FLac [6]", "coteaching": "Co-teaching [19]", "sce": "SCE [20]", "gce": "GCE [16]",
               "apl": "APL [21]", "elr": "ELR [13]", "npn": "NPN [12]", "pmhm": "PMHM"}
#: Paper table -> (first, last) line of the table in ``REFERENCE``.
TABLE_LINES = {"I": (150, 156), "II": (182, 188), "III": (218, 247), "V": (265, 275)}

Row = tuple[float, float, float, float, float, float]

#: Table I: FLac trained with text (name) noise at rate % (clean masks). Rate 0 is the clean model.
TABLE_I: dict[int, Row] = {
    0: (65.0, 19.7, 71.8, 34.1, 70.7, 81.7),
    20: (57.2, 13.3, 64.4, 16.6, 69.6, 79.3),
    40: (51.2, 11.0, 57.9, 14.2, 67.6, 75.3),
    60: (49.0, 10.0, 57.4, 12.7, 67.1, 73.1),
}
TABLE_I_CONDITIONS = {0: "clean", 20: "name20", 40: "name40", 60: "name60"}

#: Table II: FLac trained with k x k dilated masks (clean names). k = 0 is the clean model (same row as Table I).
TABLE_II: dict[int, Row] = {
    0: (65.0, 19.7, 71.8, 34.1, 70.7, 81.7),
    9: (55.7, 13.7, 64.8, 20.3, 68.2, 80.4),
    15: (49.1, 13.3, 61.1, 19.7, 63.7, 80.0),
    21: (44.8, 13.9, 57.4, 29.9, 60.3, 79.2),
}
TABLE_II_CONDITIONS = {0: "clean", 9: "mask9", 15: "mask15", 21: "mask21"}

#: Table III (a)-(f): subtable letter -> condition, then method -> row. FLac is not in Table III.
TABLE_III_CONDITIONS = {"a": "name20", "b": "name40", "c": "name60", "d": "mask9", "e": "mask15", "f": "mask21"}
TABLE_III: dict[str, dict[str, Row]] = {
    "name20": {  # (a) Name-20 (mask clean)
        "coteaching": (63.2, 18.5, 71.1, 35.2, 70.3, 80.9),
        "sce": (63.8, 25.3, 67.3, 36.9, 50.4, 67.4),
        "gce": (59.1, 24.1, 66.8, 37.2, 46.9, 66.3),
        "apl": (62.4, 25.7, 67.0, 39.0, 49.1, 66.8),
        "elr": (56.2, 12.2, 60.6, 12.3, 69.3, 79.0),
        "npn": (56.1, 12.4, 60.5, 13.8, 69.1, 78.7),
    },
    "name40": {  # (b) Name-40 (mask clean)
        "coteaching": (63.0, 17.4, 70.7, 29.1, 70.6, 81.2),
        "sce": (63.7, 25.7, 67.7, 36.9, 47.5, 64.7),
        "gce": (61.3, 25.1, 65.4, 36.9, 44.9, 63.6),
        "apl": (62.7, 23.8, 65.6, 35.4, 47.2, 65.3),
        "elr": (54.7, 10.1, 59.0, 7.4, 69.5, 78.9),
        "npn": (53.6, 10.4, 56.9, 8.8, 68.8, 76.9),
    },
    "name60": {  # (c) Name-60 (mask clean)
        "coteaching": (60.2, 13.8, 68.8, 23.0, 71.2, 80.9),
        "sce": (58.3, 12.8, 67.1, 18.7, 70.7, 80.1),
        "gce": (56.7, 11.5, 65.3, 15.0, 70.0, 81.1),
        "apl": (57.8, 11.6, 66.3, 15.8, 70.9, 80.3),
        "elr": (48.5, 9.8, 51.8, 11.8, 66.7, 72.2),
        "npn": (47.6, 9.2, 51.6, 7.9, 66.3, 71.8),
    },
    "mask9": {  # (d) Mask-k=9 (name clean)
        "coteaching": (60.6, 23.4, 69.8, 51.1, 65.1, 80.1),
        "sce": (58.7, 18.5, 67.4, 33.1, 67.0, 81.7),
        "gce": (58.8, 18.5, 67.5, 34.2, 67.1, 81.6),
        "apl": (58.8, 18.7, 68.4, 33.9, 67.0, 81.3),
        "elr": (57.1, 18.8, 66.0, 32.3, 64.6, 78.0),
        "npn": (58.8, 20.6, 67.5, 37.1, 65.4, 78.6),
        "pmhm": (55.6, 13.6, 64.3, 21.5, 67.8, 81.1),
    },
    "mask15": {  # (e) Mask-k=15 (name clean)
        "coteaching": (53.4, 21.3, 65.4, 47.0, 60.9, 79.5),
        "sce": (51.4, 14.7, 63.4, 28.4, 64.2, 82.4),
        "gce": (51.5, 13.9, 62.1, 28.4, 64.6, 82.1),
        "apl": (51.6, 13.6, 61.5, 24.0, 64.7, 82.5),
        "elr": (51.2, 17.4, 62.0, 30.2, 62.0, 79.1),
        "npn": (52.2, 18.2, 62.2, 34.9, 61.9, 78.6),
        "pmhm": (48.7, 11.8, 59.5, 19.2, 64.6, 81.2),
    },
    "mask21": {  # (f) Mask-k=21 (name clean)
        "coteaching": (46.7, 18.7, 59.5, 45.2, 58.1, 79.5),
        "sce": (44.1, 12.3, 55.8, 24.8, 60.6, 80.0),
        "gce": (44.7, 12.5, 57.6, 22.1, 60.9, 79.9),
        "apl": (45.7, 14.3, 58.4, 30.3, 60.8, 82.0),
        "elr": (45.2, 16.3, 57.4, 34.2, 58.4, 78.0),
        "npn": (46.2, 17.2, 58.5, 37.0, 58.9, 78.0),
        "pmhm": (43.8, 11.0, 56.6, 20.9, 61.7, 80.1),
    },
}

#: Table V: Name-60 + Mask-21 (mixed), every method including FLac and PMHM.
TABLE_V_CONDITION = "name60+mask21"
TABLE_V: dict[str, Row] = {
    "baseline": (37.8, 7.6, 49.7, 11.2, 60.5, 76.6),
    "coteaching": (36.2, 10.9, 48.7, 24.3, 57.9, 70.4),
    "sce": (36.4, 6.5, 47.8, 6.0, 60.9, 72.9),
    "gce": (38.7, 7.9, 49.7, 11.8, 61.1, 75.4),
    "apl": (36.5, 7.1, 48.1, 9.9, 60.5, 73.6),
    "elr": (41.5, 15.9, 51.2, 33.3, 48.8, 72.4),
    "npn": (37.6, 8.0, 49.7, 14.0, 60.2, 75.2),
    "pmhm": (36.8, 8.4, 47.1, 14.6, 59.9, 74.1),
}


def as_metrics(row: Row) -> dict[str, float]:
    """A row as {metric: value} in ``COLUMNS``' order."""
    return dict(zip(COLUMNS, row, strict=True))


def by_condition() -> dict[str, dict[str, dict[str, float]]]:
    """Every paper number as condition -> method -> {metric: value}: FLac from Tables I / II (and V), the robust
    learners from Tables III / V. Clean has FLac only."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for sweep, conditions in ((TABLE_I, TABLE_I_CONDITIONS), (TABLE_II, TABLE_II_CONDITIONS)):
        for level, row in sweep.items():
            table.setdefault(conditions[level], {})["baseline"] = as_metrics(row)
    for condition, rows in TABLE_III.items():
        table[condition].update({method: as_metrics(row) for method, row in rows.items()})
    table[TABLE_V_CONDITION] = {method: as_metrics(row) for method, row in TABLE_V.items()}
    return table
