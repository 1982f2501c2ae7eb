"""``actiseg-benchmark``: the ActiSeg-NL protocol runner (DESIGN §7; paper 003 Tables I-III and V).

    actiseg-benchmark --data data/actiseg_sim --out runs/actiseg_nl --protocol mini --seeds 0
    actiseg-benchmark --data data/actiseg_sim --out runs/actiseg_nl --protocol full --seeds 0 1 \\
        --methods baseline pmhm --conditions mask21 name60+mask21

A cell is (condition, method, seed): the condition's noisy view of the ``train`` split (Alg. 1 names, Alg. 2
masks; :func:`actiseg_core.noise.view.make_noisy_view`, noise seed ``--noise-seed`` for every method and seed, so
methods are compared on the same labels; Alg. 1 / Alg. 2 modes ``--text-noise-mode`` / ``--mask-noise-mode``, the
released generators' by default), trained by :func:`training.train.train` exactly as ``actiseg-train``
would, then its last checkpoint scored on the CLEAN ``val`` split by :func:`actiseg_core.evaluation.cli.evaluate`. No
validation runs during training, so no model is selected on the split that is reported.

Conditions: clean; Name-20/40/60 (clean masks); Mask-9/15/21 (clean names); Name-60 + Mask-21. Methods: every
registered learner; PMHM only where masks are noisy (the paper evaluates it there only). Layout under ``--out``::

    views/<condition>[-<non-default mode>]-noise<seed>-<clean train hash>/   noisy training roots + noise.json
    cells/<condition>/<method>/seed<seed>-<hash>/{run/, eval/, objects.json, result.json}
    tables.md  tables.csv  results.json  noise_sweeps.png  tradeoff.png

``<hash>`` is a hash of everything the cell computes from (training settings, condition, seeds, the clean data's
hashes), so changing a setting makes new cells instead of mixing results. ``result.json`` is written atomically and
last: a cell that has it is cached and skipped; a cell without it (killed, Ctrl-C) resumes from ``run/last.pt``
when the command is rerun. Each result records seed, data hashes, noise modes, commit and wall time, and under
``positive_head`` the positive head's ranking / calibration on val from the per-object records of ``objects.json``
(:mod:`benchmarks.nl.objects`; cells made before those existed lack both). Tables and plots are rebuilt from the
requested cells at the end of every invocation.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import torch
from matplotlib.figure import Figure
from tqdm import tqdm

from actiseg_core.cli_util import OneLineParser, non_negative_int, positive_int, run_command, seed_int
from actiseg_core.data.layout import atomic_write_bytes, atomic_write_json, read_json
from actiseg_core.data.split_info import load_split, split_hash
from actiseg_core.data.subset import HELD_OUT_PART, split_parts
from actiseg_core.errors import ActiSegError
from actiseg_core.evaluation.calibration import tau_star
from actiseg_core.evaluation.cli import evaluate
from actiseg_core.learners import check_learner_args, learner_names, learner_type
from actiseg_core.metrics import HIGHER_IS_BETTER, METRIC_COLUMNS
from actiseg_core.model.config import IMAGE_ENCODERS
from actiseg_core.noise.modes import (
    ALL_OBJECTS,
    DEFAULT_MASK_NOISE_MODE,
    DEFAULT_TEXT_NOISE_MODE,
    FLIP_OR_SYNONYM,
    MASK_NOISE_MODES,
    TEXT_NOISE_MODES,
)
from actiseg_core.noise.view import MANIFEST, make_noisy_view
from benchmarks.nl.acceptance import acceptance_lines
from benchmarks.nl.comparisons import difference_lines, paired_differences
from benchmarks.nl.objects import (
    HELD_OUT_OBJECTS,
    OBJECTS,
    TEST_OBJECTS,
    as_scores,
    consistent_tau_star,
    narration_contradictions,
    object_scores,
    positive_head_table,
    record_summary,
)
from benchmarks.nl.selection import selection_lines, selection_summary
from training.train import OPERATIONAL_OPTIONS, TrainConfig, input_size, learner_arg, train

PROG = "actiseg-benchmark"
REPO = Path(__file__).resolve().parents[2]
TRAIN_SPLIT, VAL_SPLIT, TEST_SPLIT = "train", "val", "test"
#: Share of the training sequences held out, with the condition's noisy labels, to choose each cell's threshold tau*
#: (issue 15: on noisy held-out data, never on clean data); the cell trains on the rest.
HELD_OUT_SHARE = 0.1
#: How the fit / held-out parts are made, in every cell's identity: 2 = they link the source's class map (before, a
#: part derived one from its names, so ActiSeg-Sim's gripper was no hand class in training's action weights).
PARTS_LAYOUT = 2
RESULT = "result.json"
MASK_ONLY_METHODS = frozenset({"pmhm"})  # paper 003 evaluates PMHM under mask and mixed noise only
#: One colour per method in every plot (tab20: more learners than matplotlib's 10 default colours).
METHOD_COLOURS = {method: matplotlib.colormaps["tab20"](i % 20) for i, method in enumerate(learner_names())}
#: The modes every cell was made with before modes existed: cells of these keep their hashes (see cell_identity).
LEGACY_TEXT_MODE, LEGACY_MASK_MODE = FLIP_OR_SYNONYM, ALL_OBJECTS


@dataclass(frozen=True)
class Condition:
    """One noise setting of the training labels; ``key`` names it on the command line and on disk."""

    key: str
    title: str
    text_rate: float
    mask_kernel: int

    @property
    def noisy_masks(self) -> bool:
        return self.mask_kernel > 0

    def noise_modes(self, text_mode: str, mask_mode: str) -> dict[str, str]:
        """The modes that make a difference here: Alg. 1's where names are noisy, Alg. 2's where masks are."""
        modes = {"text_noise_mode": text_mode} if self.text_rate else {}
        return {**modes, "mask_noise_mode": mask_mode} if self.noisy_masks else modes


CONDITIONS: tuple[Condition, ...] = (
    Condition("clean", "Clean", 0.0, 0),
    Condition("name20", "Name-20 (clean masks)", 0.2, 0),
    Condition("name40", "Name-40 (clean masks)", 0.4, 0),
    Condition("name60", "Name-60 (clean masks)", 0.6, 0),
    Condition("mask9", "Mask-9 (clean names)", 0.0, 9),
    Condition("mask15", "Mask-15 (clean names)", 0.0, 15),
    Condition("mask21", "Mask-21 (clean names)", 0.0, 21),
    Condition("name60+mask21", "Name-60 + Mask-21 (mixed)", 0.6, 21),
)
CONDITION_BY_KEY = {condition.key: condition for condition in CONDITIONS}
#: The two sweeps of the noise plot: (label, x-axis, [(x, condition key)]), each starting from clean labels.
SWEEPS = (("text noise", "class-flip rate rho of Alg. 1 (%)",
           [(0, "clean"), (20, "name20"), (40, "name40"), (60, "name60")]),
          ("mask noise", "dilation kernel k", [(0, "clean"), (9, "mask9"), (15, "mask15"), (21, "mask21")]))


@dataclass(frozen=True)
class Protocol:
    """Training settings shared by every cell (the rest are ``TrainConfig``'s defaults)."""

    steps: int
    batch_frames: int = 8
    input_size: tuple[int, int] = (256, 448)
    image_encoder: str = "efficientnet_lite0"
    lr: float = 5e-4
    ckpt_every: int = 50

    @property
    def pretrained(self) -> bool:
        """ImageNet weights whenever the encoder has them (only EfficientNet-Lite0 does)."""
        return self.image_encoder == "efficientnet_lite0"

    @property
    def warmup_steps(self) -> int:
        """The default model's 100 warm-up steps, or a tenth of a shorter run."""
        return min(100, self.steps // 10)


#: ``full`` is the shipped default model's recipe (scripts/train_default.sh: 1800 steps of 8 frames, ~9.6 epochs
#: of ActiSeg-Sim train, close to the paper's 6-10 epochs). ``mini`` is sized for a 2-core CPU: 200 steps (1.1
#: epochs) at a quarter of the pixels, with a 4x peak learning rate so that the positive head is learnt at all in
#: that time (at the default rate no object passes the positive threshold so early). It is a short-training regime,
#: where networks still fit mostly the clean labels (the early-learning phase), so noise effects are smaller there
#: than in ``full``, and absolute numbers are far below the default model's. Cell times:
#: benchmarks/results/design_measurements.md.
#: ``mid`` is the protocol conclusions are drawn from on a CPU: 2100 steps of 8 frames, 3.1 epochs of ActiSeg-Sim v2
#: train's 5,400 fit frames (90% of 6,000, the rest held out for tau*), at mini's input size and the default model's
#: learning rate; ~30 min a cell on one core of an AMD EPYC with a second cell beside it (benchmarks/results/
#: actiseg_nl_mid_pilot/).
PROTOCOLS = {"full": Protocol(steps=1800), "mid": Protocol(steps=2100, input_size=(128, 224)),
             "mini": Protocol(steps=200, input_size=(128, 224), lr=2e-3)}


@dataclass(frozen=True)
class Cell:
    """One entry of the protocol's grid: a training run and its evaluation."""

    condition: Condition
    method: str
    seed: int


def plan(conditions: list[str], methods: list[str], seeds: list[int]) -> list[Cell]:
    """The requested cells in protocol order (seed, condition, method); PMHM is left out of text-only conditions."""
    return [Cell(CONDITION_BY_KEY[c], m, s) for s in seeds for c in conditions for m in methods
            if m not in MASK_ONLY_METHODS or CONDITION_BY_KEY[c].noisy_masks]


# ---- one cell -------------------------------------------------------------------------------------------------------

def git_commit() -> str:
    """The repository's commit, with ``-dirty`` when tracked files differ from it ("unknown" outside a checkout)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit}-dirty" if commit != "unknown" and git("status", "--porcelain", "--untracked-files=no") else commit


def noisy_view(data: Path, out: Path, condition: Condition, noise_seed: int, clean_train_hash: str,
               progress: bool, text_mode: str = DEFAULT_TEXT_NOISE_MODE,
               mask_mode: str = DEFAULT_MASK_NOISE_MODE) -> Path:
    """The training root of ``condition``: ``data`` itself when clean, else its noisy view (made once, reused).

    The view's folder names the clean split's hash: its frames are hard links to the files it was made from, so a
    re-rendered source needs a new view, not the old one. It also names each mode that matters to the condition
    and is not the default, so views of different modes never overwrite each other.
    """
    if condition.text_rate == 0 and not condition.noisy_masks:
        return data
    modes = condition.noise_modes(text_mode, mask_mode)
    view = view_path(out, condition, noise_seed, clean_train_hash, text_mode, mask_mode)
    manifest = view / MANIFEST
    wanted = {"source_root": str(data.resolve()), "text_rate": condition.text_rate,
              "mask_kernel": condition.mask_kernel, "seed": noise_seed, **modes}
    if manifest.is_file() and all(read_json(manifest).get(key) == value for key, value in wanted.items()):
        return view
    return make_noisy_view(data, TRAIN_SPLIT, view, condition.text_rate, condition.mask_kernel, noise_seed, progress,
                           text_mode=text_mode, mask_mode=mask_mode)


def view_path(out: Path, condition: Condition, noise_seed: int, clean_train_hash: str,
              text_mode: str = DEFAULT_TEXT_NOISE_MODE, mask_mode: str = DEFAULT_MASK_NOISE_MODE) -> Path:
    """Where :func:`noisy_view` keeps ``condition``'s noisy view (made or not)."""
    modes = condition.noise_modes(text_mode, mask_mode)
    tags = "".join(f"-{mode}" for mode in modes.values() if mode not in (DEFAULT_TEXT_NOISE_MODE,
                                                                          DEFAULT_MASK_NOISE_MODE))
    return out / "views" / f"{condition.key}{tags}-noise{noise_seed}-{clean_train_hash[:8]}"


def parts_path(settings: Settings, condition: Condition, clean_hash: dict[str, str]) -> Path:
    """The folder of the fit / held-out parts of ``condition``'s training root (made or not)."""
    clean = condition.text_rate == 0 and not condition.noisy_masks
    name = (f"clean-{clean_hash[TRAIN_SPLIT][:8]}" if clean else
            view_path(settings.out, condition, settings.noise_seed, clean_hash[TRAIN_SPLIT], settings.text_noise_mode,
                      settings.mask_noise_mode).name)
    return settings.out / "parts" / name


def train_config(cell: Cell, protocol: Protocol, data: Path, run: Path, threads: int, device: str,
                 progress: bool, learner_args: dict[str, Any] | None = None) -> TrainConfig:
    """The ``actiseg-train`` configuration of a cell: the protocol's settings, no validation during training."""
    return TrainConfig(data=data, out=run, split=TRAIN_SPLIT, val_split=None, learner=cell.method,
                       learner_args=dict(learner_args or {}),
                       steps=protocol.steps, batch_frames=protocol.batch_frames, lr=protocol.lr,
                       warmup_steps=protocol.warmup_steps, seed=cell.seed, image_encoder=protocol.image_encoder,
                       pretrained=protocol.pretrained, input_size=protocol.input_size, threads=threads,
                       eval_every=0, ckpt_every=protocol.ckpt_every, log_every=protocol.ckpt_every,
                       progress=progress, device=device)


def cell_identity(cell: Cell, config: TrainConfig, noise_seed: int, clean_hash: dict[str, str], *,
                  text_mode: str = DEFAULT_TEXT_NOISE_MODE, mask_mode: str = DEFAULT_MASK_NOISE_MODE) -> dict[str, Any]:
    """Everything a cell's numbers depend on (not where files live or how the run is operated).

    The learner's ``revision`` is included only once raised above 0, so cells of learners never revised keep the
    hashes they had before revisions were tracked. Likewise a noise mode is included only where the condition's
    noise uses it and it is not the legacy mode every cell was made with before modes existed (flip_or_synonym,
    all_objects): cells made then stay cached under those modes, and the default (official) modes make new cells.
    """
    settings = {k: v for k, v in config.to_json().items() if k not in OPERATIONAL_OPTIONS | {"data", "val_data"}}
    modes = {key: mode for key, mode in cell.condition.noise_modes(text_mode, mask_mode).items()
             if mode not in (LEGACY_TEXT_MODE, LEGACY_MASK_MODE)}
    identity = {"condition": cell.condition.key, "text_rate": cell.condition.text_rate,
                "mask_kernel": cell.condition.mask_kernel, **modes, "noise_seed": noise_seed, "method": cell.method,
                "seed": cell.seed, "train": settings, "held_out_share": HELD_OUT_SHARE, "parts": PARTS_LAYOUT,
                "clean_data_hash": clean_hash}
    revision = learner_type(cell.method).revision
    return {**identity, "learner_revision": revision} if revision else identity


def identity_hash(identity: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Settings:
    """One benchmark invocation: where the data and outputs are, and how the cells are run."""

    data: Path
    out: Path
    protocol: Protocol
    noise_seed: int = 0
    threads: int = 0
    device: str = "auto"
    progress: bool = True
    cached_only: bool = False  # tables from finished cells only; nothing is trained
    test: bool = False  # also score every cell on the test split (the final table, once the design is fixed)
    learner_args: dict[str, Any] = dataclasses.field(default_factory=dict)  # hyper-parameters for every method
    text_noise_mode: str = DEFAULT_TEXT_NOISE_MODE  # Alg. 1: flip_only (released generator) or flip_or_synonym
    mask_noise_mode: str = DEFAULT_MASK_NOISE_MODE  # Alg. 2: official (released generator) or all_objects


def cell_dir(settings: Settings, cell: Cell, digest: str) -> Path:
    return settings.out / "cells" / cell.condition.key / cell.method / f"seed{cell.seed}-{digest}"


def run_cell(settings: Settings, cell: Cell, clean_hash: dict[str, str]) -> tuple[dict[str, Any] | None, bool]:
    """The cell's result, from its ``result.json`` when cached, else trained (or resumed) and evaluated now, or
    None when it is not cached and ``settings.cached_only`` forbids training.

    The cell trains on the condition's noisy view of train minus its held-out sequences (:data:`HELD_OUT_SHARE`),
    is scored on the clean val split, and its threshold tau* is chosen on the held-out sequences with their noisy
    labels. With ``settings.test`` it is also scored on the test split; a cached cell without test scores gets them
    from its last checkpoint, without retraining. Returns (result, cached).
    """
    started = time.perf_counter()
    probe = train_config(cell, settings.protocol, settings.data, Path(), settings.threads, settings.device, False,
                         settings.learner_args)
    identity = cell_identity(cell, probe, settings.noise_seed, clean_hash, text_mode=settings.text_noise_mode,
                             mask_mode=settings.mask_noise_mode)
    digest = identity_hash(identity)
    folder = cell_dir(settings, cell, digest)
    parts = parts_path(settings, cell.condition, clean_hash)
    if (folder / RESULT).is_file():
        result = refreshed(folder, read_json(folder / RESULT), parts / HELD_OUT_PART)
        if settings.test and "test" not in result and not settings.cached_only:
            result = {**result, "test": score_test(settings, folder, result)}
            atomic_write_json(folder / RESULT, result)
        return result, True
    if settings.cached_only:
        return None, False
    data = noisy_view(settings.data, settings.out, cell.condition, settings.noise_seed, clean_hash[TRAIN_SPLIT],
                      settings.progress, settings.text_noise_mode, settings.mask_noise_mode)
    fit, held_out = split_parts(data, TRAIN_SPLIT, HELD_OUT_SHARE, parts)
    config = dataclasses.replace(probe, data=fit, out=folder / "run", progress=settings.progress)
    summary = train(config)
    evaluated = time.perf_counter()
    checkpoint = folder / "run" / "last.pt"
    held_records = object_scores(checkpoint, held_out, TRAIN_SPLIT, settings.device)
    atomic_write_json(folder / HELD_OUT_OBJECTS, held_records)
    tau, _ = tau_star(as_scores(held_records))
    tau_consistent = consistent_tau_star(held_records, narration_contradictions(held_out, TRAIN_SPLIT))
    selection = selection_summary(checkpoint, fit, TRAIN_SPLIT)
    report, records = score_split(settings, folder, VAL_SPLIT, OBJECTS)
    run_info = read_json(folder / "run" / "run.json")
    result = {
        **identity, **cell.condition.noise_modes(settings.text_noise_mode, settings.mask_noise_mode),
        "config_hash": digest, "folder": str(folder.relative_to(settings.out)), "metrics": report["results"]["model"],
        "tau_star": tau, "tau_star_consistent": _defined(tau_consistent),
        "positive_head": record_summary(records, tau, tau_consistent), "selection": selection,
        "data_hash": {"train": run_info["data_hash"]["train"], "val": report["data_hash"]},
        "noise": _noise_summary(data), "commit": git_commit(), "torch": torch.__version__,
        "device": run_info["device"], "threads": torch.get_num_threads(), "steps": summary["steps"],
        "resumed_at_step": run_info["resumed_at_step"], "train_s": summary["elapsed_s"],
    }
    if settings.test:
        result["test"] = score_test(settings, folder, result)
    finished = time.perf_counter()
    result.update(eval_s=finished - evaluated, wall_s=finished - started)  # train_s spans resumes; wall_s this run
    atomic_write_json(folder / RESULT, result)
    return result, False


def refreshed(folder: Path, result: dict[str, Any], held_out: Path) -> dict[str, Any]:
    """A cached result whose positive-head summaries are recomputed from its saved per-object records (cheap), so a
    change to how they are summarised reaches every cell without retraining; rewritten when they changed. A result
    made before the narration-consistent tau* gets it from its held-out records and ``held_out`` (the part they
    were scored on) when that part is still there."""
    if "tau_star" not in result:
        return result  # made before records and tau* existed
    fresh = dict(result)
    if "tau_star_consistent" not in fresh and (folder / HELD_OUT_OBJECTS).is_file() and held_out.is_dir():
        fresh["tau_star_consistent"] = _defined(consistent_tau_star(read_json(folder / HELD_OUT_OBJECTS),
                                                                    narration_contradictions(held_out, TRAIN_SPLIT)))

    def summary(records_file: str) -> dict[str, Any]:
        return record_summary(read_json(folder / records_file), fresh["tau_star"], fresh.get("tau_star_consistent"))

    if (folder / OBJECTS).is_file():
        fresh["positive_head"] = summary(OBJECTS)
    if "test" in fresh and (folder / TEST_OBJECTS).is_file():
        fresh["test"] = {**fresh["test"], "positive_head": summary(TEST_OBJECTS)}
    if fresh != result:
        atomic_write_json(folder / RESULT, fresh)
    return fresh


def score_split(settings: Settings, folder: Path, split: str, records_file: str) -> tuple[dict[str, Any], list]:
    """The cell's checkpoint on the clean ``split``: the evaluator's report (under ``folder/eval[_<split>]``) and
    the per-object records, written to ``folder/records_file``."""
    checkpoint, out = folder / "run" / "last.pt", folder / ("eval" if split == VAL_SPLIT else f"eval_{split}")
    with contextlib.redirect_stdout(io.StringIO()):  # evaluate() prints its table; the benchmark writes its own
        report = evaluate(settings.data, split, checkpoint, out, settings.device, overlays=0, progress=False)
    records = object_scores(checkpoint, settings.data, split, settings.device)
    atomic_write_json(folder / records_file, records)
    return report, records


def score_test(settings: Settings, folder: Path, result: dict[str, Any]) -> dict[str, Any]:
    """The test split's metrics and positive-head summary (at the thresholds of the cell's ``result``)."""
    report, records = score_split(settings, folder, TEST_SPLIT, TEST_OBJECTS)
    summary = record_summary(records, result["tau_star"], result.get("tau_star_consistent"))
    return {"metrics": report["results"]["model"], "positive_head": summary,
            "data_hash": report["data_hash"], "commit": git_commit()}


def _defined(value: float) -> float | None:
    """``value``, or None for NaN (JSON has no NaN)."""
    return None if math.isnan(value) else value


def _noise_summary(root: Path) -> dict[str, Any] | None:
    """What the training labels' noise did (flips, mask severity vs clean), from the view's manifest."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        return None
    noise = read_json(manifest)
    summary = {key: noise[key] for key in ("objects", "names_changed", "classes_flipped", "mask_severity")}
    extras = ("text_noise_mode", "mask_noise_mode", "flip_census", "narration_census")
    return {**summary, **{key: noise[key] for key in extras if key in noise}}


# ---- tables and plots -----------------------------------------------------------------------------------------------

def aggregate(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """condition -> method -> {metric: mean, metric_std: std over seeds (0 for one seed), seeds: [...]}."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["condition"], result["method"]), []).append(result)
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for (condition, method), members in groups.items():
        row: dict[str, Any] = {"seeds": sorted(r["seed"] for r in members)}
        for metric in METRIC_COLUMNS:
            values = [r["metrics"][metric] for r in members if r["metrics"][metric] is not None]
            row[metric] = statistics.fmean(values) if values else None
            row[f"{metric}_std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
        table.setdefault(condition, {})[method] = row
    return table


def ordered(table: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[Condition, dict[str, dict[str, Any]]]]:
    """The table's conditions in protocol order, each with its method rows in registry order."""
    return [(condition, {m: table[condition.key][m] for m in learner_names() if m in table[condition.key]})
            for condition in CONDITIONS if condition.key in table]


def best_value(rows: dict[str, dict[str, Any]], metric: str) -> float | None:
    values = [row[metric] for row in rows.values() if row[metric] is not None]
    if not values:
        return None
    return max(values) if HIGHER_IS_BETTER[metric] else min(values)


def cell_text(row: dict[str, Any], metric: str, best: float | None) -> str:
    value = row[metric]
    if value is None:
        return "n/a"
    text = f"{value:.1f}" + (f" ± {row[metric + '_std']:.1f}" if len(row["seeds"]) > 1 else "")
    return f"**{text}**" if best is not None and math.isclose(value, best) else text


def noise_line(results: list[dict[str, Any]], condition: Condition) -> str:
    """The labels the condition trained on, so a table is read against its noise severity (DESIGN §5)."""
    noise = next((r["noise"] for r in results if r["condition"] == condition.key and r["noise"]), None)
    if noise is None:
        return "Training labels: clean."
    def mode(key: str) -> str:  # results made before modes were recorded have none
        return f" ({noise[key]})" if key in noise else ""

    names = (f"{noise['names_changed']} of {noise['objects']} object names changed ({noise['classes_flipped']} "
             f"to another class){mode('text_noise_mode')}" if condition.text_rate else "names clean")
    severity = noise["mask_severity"]["all"]
    masks = (f"masks vs clean: mIoU {100 * severity['mIoU']:.1f}, cIoU {100 * severity['cIoU']:.1f}"
             f"{mode('mask_noise_mode')}" if condition.noisy_masks and severity["mIoU"] is not None else "masks clean")
    return f"Training labels: {names}; {masks}."


def markdown_tables(table: dict[str, dict[str, dict[str, Any]]], results: list[dict[str, Any]],
                    protocol: Protocol, split: str = VAL_SPLIT, differences: Sequence[dict[str, Any]] = ()) -> str:
    """One paper-style table per condition (columns in the paper's order, best value in bold), then the positive
    head's table where the cells have its summary, then the paired differences."""
    headers = [f"{name}{'↑' if HIGHER_IS_BETTER[name] else '↓'}" for name in METRIC_COLUMNS]
    lines = ["# ActiSeg-NL benchmark", "",
             f"Protocol: {protocol.steps} steps x {protocol.batch_frames} frames at "
             f"{protocol.input_size[0]}x{protocol.input_size[1]}, {protocol.image_encoder}; trained on train minus "
             f"its held-out {HELD_OUT_SHARE:.0%} of sequences, evaluated on the clean {split} split (mean ± population "
             "std over seeds where there are several).", ""]
    for condition, rows in ordered(table):
        lines += [f"## {condition.title}", "", noise_line(results, condition), "",
                  "| Method | " + " | ".join(headers) + " | seeds |", "|---" * (len(headers) + 2) + "|"]
        best = {metric: best_value(rows, metric) for metric in METRIC_COLUMNS}
        for method, row in rows.items():
            cells = [cell_text(row, metric, best[metric]) for metric in METRIC_COLUMNS]
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {','.join(map(str, row['seeds']))} |")
        lines.append("")
    return "\n".join(lines + positive_head_table(results, split) + selection_lines(results)
                     + difference_lines(list(differences), split) + acceptance_lines({split: list(differences)}))


def csv_table(table: dict[str, dict[str, dict[str, Any]]]) -> str:
    columns = ["condition", "method", "seeds", *[c for m in METRIC_COLUMNS for c in (m, f"{m}_std")]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for condition, rows in ordered(table):
        for method, row in rows.items():
            values = {k: ("" if v is None else f"{v:.4f}") for k, v in row.items() if k != "seeds"}
            writer.writerow({"condition": condition.key, "method": method,
                             "seeds": " ".join(map(str, row["seeds"])), **values})
    return buffer.getvalue()


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def sweep_plot(table: dict[str, dict[str, dict[str, Any]]]) -> bytes:
    """Each metric against the noise level, text sweep (top) and mask sweep (bottom), one line per method."""
    figure = Figure(figsize=(3.2 * len(METRIC_COLUMNS), 6.5), layout="constrained")
    grid = figure.subplots(len(SWEEPS), len(METRIC_COLUMNS), squeeze=False)
    for axes_row, (label, x_label, points) in zip(grid, SWEEPS, strict=True):
        for axes, metric in zip(axes_row, METRIC_COLUMNS, strict=True):
            for method in learner_names():
                line = [(x, table[key][method][metric]) for x, key in points
                        if method in table.get(key, {}) and table[key][method][metric] is not None]
                if line:
                    axes.plot(*zip(*line, strict=True), marker="o", label=method, color=METHOD_COLOURS[method])
            axes.set_title(f"{metric}{'↑' if HIGHER_IS_BETTER[metric] else '↓'} ({label})", fontsize=9)
            axes.set_xlabel(x_label, fontsize=8)
            axes.set_xticks([x for x, _ in points])
    legend = {label: handle for axes in grid.flat for handle, label in zip(*axes.get_legend_handles_labels(),
                                                                            strict=True)}
    figure.legend(legend.values(), legend.keys(), loc="outside lower center", ncol=max(1, len(legend)), fontsize=8)
    figure.suptitle("ActiSeg-NL: metric vs noise level (clean val split)", fontsize=10)
    return png_bytes(figure)


def tradeoff_plot(table: dict[str, dict[str, dict[str, Any]]]) -> bytes:
    """p-mIoU (up is better) against n-mIoU (left is better): one colour per method, one marker per condition."""
    figure = Figure(figsize=(7.0, 5.0), layout="constrained")
    axes = figure.subplots()
    markers = dict(zip([c.key for c in CONDITIONS], "osD^v<>P", strict=True))
    shown: dict[str, set[str]] = {"methods": set(), "conditions": set()}
    for condition, rows in ordered(table):
        for method, row in rows.items():
            if row["p-mIoU"] is not None and row["n-mIoU"] is not None:
                axes.scatter(row["n-mIoU"], row["p-mIoU"], color=METHOD_COLOURS[method],
                             marker=markers[condition.key], alpha=0.8)
                shown["methods"].add(method)
                shown["conditions"].add(condition.key)
    for method, colour in METHOD_COLOURS.items():  # legend: colour = method, shape (in black) = condition
        if method in shown["methods"]:
            axes.scatter([], [], color=colour, marker="o", label=method)
    for condition in CONDITIONS:
        if condition.key in shown["conditions"]:
            axes.scatter([], [], color="black", marker=markers[condition.key], label=condition.key)
    axes.set_xlabel("n-mIoU ↓")
    axes.set_ylabel("p-mIoU ↑")
    axes.legend(fontsize=7, ncol=2, loc="best")
    axes.set_title("p-mIoU vs n-mIoU trade-off (clean val split)", fontsize=10)
    return png_bytes(figure)


def on_test(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results that have test scores, with those in place of the val ones (so one table code serves both)."""
    return [{**r, "metrics": r["test"]["metrics"], "positive_head": r["test"]["positive_head"]}
            for r in results if "test" in r]


def write_outputs(out: Path, results: list[dict[str, Any]], protocol: Protocol) -> None:
    """tables.md, tables.csv, results.json and the two plots, from the results of this invocation's cells, and
    tables_test.md where cells have test scores."""
    table = aggregate(results)
    differences = {VAL_SPLIT: paired_differences(out, results, OBJECTS)}
    atomic_write_bytes(out / "tables.md", markdown_tables(table, results, protocol, VAL_SPLIT,
                                                          differences[VAL_SPLIT]).encode())
    tested = on_test(results)
    if tested:
        differences[TEST_SPLIT] = paired_differences(out, results, TEST_OBJECTS)
        atomic_write_bytes(out / "tables_test.md", markdown_tables(aggregate(tested), tested, protocol, TEST_SPLIT,
                                                                   differences[TEST_SPLIT]).encode())
    atomic_write_bytes(out / "tables.csv", csv_table(table).encode())
    atomic_write_json(out / "results.json", {"protocol": dataclasses.asdict(protocol), "summary": table,
                                             "differences": differences, "cells": results})
    atomic_write_bytes(out / "noise_sweeps.png", sweep_plot(table))
    atomic_write_bytes(out / "tradeoff.png", tradeoff_plot(table))


# ---- the protocol ---------------------------------------------------------------------------------------------------

def run_benchmark(settings: Settings, cells: list[Cell]) -> list[dict[str, Any]]:
    """Run (or read back) every cell, then write tables and plots; returns the cells' results.

    With ``settings.cached_only`` unfinished cells are skipped (and counted), so one invocation can tabulate cells
    that several invocations ran, e.g. seed 0's whole grid beside seed 1's mixed condition.
    """
    clean_hash = {split: split_hash(load_split(settings.data, split)) for split in (TRAIN_SPLIT, VAL_SPLIT)}
    results, missing = [], 0
    with tqdm(cells, desc=PROG, unit="cell", disable=not settings.progress) as bar:
        for cell in bar:
            bar.set_postfix_str(f"{cell.condition.key} {cell.method} seed {cell.seed}")
            result, cached = run_cell(settings, cell, clean_hash)
            if result is None:
                missing += 1
                continue
            results.append(result)
            metrics = " ".join(f"{k} {v:.1f}" for k, v in result["metrics"].items()
                               if k in METRIC_COLUMNS and v is not None)
            timing = "cached" if cached else f"{result['wall_s']:.0f} s"
            tqdm.write(f"{cell.condition.key:>14} {cell.method:>10} seed {cell.seed}: {metrics} ({timing})")
    if missing:
        print(f"{PROG}: {missing} of {len(cells)} cells not run yet (--cached-only): left out of the tables")
    if not results:
        raise ActiSegError(f"no finished cells under {settings.out} for this protocol; run without --cached-only")
    write_outputs(settings.out, results, settings.protocol)
    return results


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description="Run the ActiSeg-NL protocol: noisy training views x learners, "
                           "each cell scored on the clean val split; cached and resumable.",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="clean ActionVOS-layout root with train and val")
    parser.add_argument("--out", type=Path, required=True, help="benchmark folder: views, cells, tables, plots")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="mini",
                        help="mini: 200 steps at 128x224 (a smoke test of the grid); mid: 2100 steps (3 epochs of "
                        "v2 train) at 128x224, the one conclusions are drawn from on a CPU; full: the default "
                        "model's recipe (a GPU's)")
    parser.add_argument("--seeds", type=seed_int, nargs="+", default=[0], help="training seeds")
    parser.add_argument("--methods", nargs="+", choices=learner_names(), default=list(learner_names()),
                        metavar="METHOD", help=f"learners, of {', '.join(learner_names())}")
    parser.add_argument("--conditions", nargs="+", choices=[c.key for c in CONDITIONS],
                        default=[c.key for c in CONDITIONS], metavar="CONDITION",
                        help=f"noise conditions, of {', '.join(c.key for c in CONDITIONS)}")
    parser.add_argument("--noise-seed", type=seed_int, default=0, help="seed of the noisy views (all cells)")
    parser.add_argument("--text-noise-mode", choices=TEXT_NOISE_MODES, default=DEFAULT_TEXT_NOISE_MODE,
                        help="Alg. 1: flip_only (the released generator) or flip_or_synonym (also renames within "
                        "the class)")
    parser.add_argument("--mask-noise-mode", choices=MASK_NOISE_MODES, default=DEFAULT_MASK_NOISE_MODE,
                        help="Alg. 2: official (dilate active objects only, the released generator) or all_objects")
    parser.add_argument("--steps", type=positive_int, help="override the protocol's training steps")
    parser.add_argument("--batch-frames", type=positive_int, help="override the protocol's frames per step")
    parser.add_argument("--input-size", type=input_size, metavar="HxW", help="override the protocol's input size")
    parser.add_argument("--image-encoder", choices=IMAGE_ENCODERS, help="override the protocol's image encoder")
    parser.add_argument("--ckpt-every", type=positive_int, help="override how often a cell's last.pt is written")
    parser.add_argument("--threads", type=non_negative_int, default=0,
                        help="torch CPU threads (0: torch's default); use 1 on a busy shared machine")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda:N")
    parser.add_argument("--learner-arg", type=learner_arg, action="append", default=[], metavar="KEY=VALUE",
                        help="learner hyper-parameter for every method run (repeatable; part of each cell's "
                        "identity, so use its own --out to keep the tables apart)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--test", action="store_true",
                        help="also score every cell on the test split (tables_test.md): the final table, once the "
                        "design is fixed on val; cached cells get test scores without retraining")
    parser.add_argument("--cached-only", action="store_true",
                        help="train nothing: tables and plots from the requested cells already finished")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {key: getattr(args, key) for key in ("steps", "batch_frames", "input_size", "image_encoder",
                                                      "ckpt_every") if getattr(args, key) is not None}
    protocol = dataclasses.replace(PROTOCOLS[args.protocol], **overrides)
    return Settings(data=args.data, out=args.out, protocol=protocol, noise_seed=args.noise_seed,
                    text_noise_mode=args.text_noise_mode, mask_noise_mode=args.mask_noise_mode,
                    threads=args.threads, device=args.device, progress=not args.no_progress,
                    cached_only=args.cached_only, test=args.test, learner_args=dict(args.learner_arg))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def handler() -> None:
        cells = plan(list(dict.fromkeys(args.conditions)), list(dict.fromkeys(args.methods)),
                     list(dict.fromkeys(args.seeds)))
        if not cells:
            raise ActiSegError("no cells to run: PMHM runs only under mask noise; add a mask or mixed condition")
        settings = settings_from_args(args)
        for method in dict.fromkeys(cell.method for cell in cells):
            check_learner_args(method, settings.learner_args)
        threads = torch.get_num_threads()
        torch.set_num_threads(settings.threads or threads)
        try:
            results = run_benchmark(settings, cells)
        finally:
            torch.set_num_threads(threads)
        print(f"{PROG}: {len(results)} cells; tables.md, tables.csv, results.json, noise_sweeps.png and "
              f"tradeoff.png written to {args.out}")

    return run_command(PROG, handler)


if __name__ == "__main__":
    sys.exit(main())
