"""``actiseg-train``: train the active-object segmenter with a registered learner (``python -m training.train``).

    actiseg-train --data data/actiseg_sim --out runs/baseline --epochs 20
    torchrun --nproc_per_node 2 -m training.train --data data/actiseg_sim --out runs/baseline_ddp

The run folder gets ``log.csv`` (one row per ``--log-every`` steps: loss terms, lr, throughput, validation
metrics when evaluated), ``run.json`` (configuration, data hashes, environment), ``last.pt`` / ``best.pt`` (best
validation gIoU) and ``prompts.pt`` (the prompt-embedding cache). Rerunning the same command resumes from
``last.pt``; the data order is a function of (seed, epoch) and the RNG states are checkpointed, so a run killed and
resumed ends with the same weights as one that never stopped. Ctrl-C (or SIGTERM) finishes the current step,
saves ``last.pt`` and exits. TensorBoard event files are not written: the ``tensorboard`` package is not
installed here and ``torch.utils.tensorboard`` needs it; ``log.csv`` is the log.

The loop is :func:`train`; everything it needs is built by :func:`setup_run`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import random
import re
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from actiseg_core.cli_util import (
    OneLineParser,
    non_negative_int,
    positive_float,
    positive_int,
    run_command,
    seed_int,
    unit_float,
)
from actiseg_core.data.layout import atomic_write_bytes, atomic_write_json
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.data.split_info import hand_class_ids, load_split, split_hash
from actiseg_core.errors import ActiSegError
from actiseg_core.learners import Learner, LearnerContext, QueryBatch, StepInfo, get_learner, learner_names
from actiseg_core.learners.registry import learner_type
from actiseg_core.metrics import METRIC_COLUMNS
from actiseg_core.model import ModelConfig, build_segmenter
from actiseg_core.model.checkpoint import load_checkpoint
from actiseg_core.model.config import IMAGE_ENCODERS
from actiseg_core.prompts import normalise_text
from training import distributed
from training.augment import AugmentConfig, Augmenter, load_photos
from training.checkpoint import capture_rng, restore_rng, save_checkpoint
from training.data import FrameDataset, PromptTable, collate, split_prompts
from training.distributed import DistInfo
from training.inference import TorchPredictor, evaluate_split

PROG = "actiseg-train"
CHECKPOINT_FORMAT = 1
#: Options that change how a run is operated but not what it computes: a resume may change them.
OPERATIONAL_OPTIONS = frozenset({"out", "workers", "threads", "resume", "eval_every", "ckpt_every", "log_every",
                                 "progress", "device"})


@dataclass
class TrainConfig:
    """Everything a run depends on; the CLI flags map one to one (``--batch-frames`` -> ``batch_frames``)."""

    data: Path
    out: Path
    split: str = "train"
    val_split: str | None = "val"  # None: no validation (and no best.pt)
    val_data: Path | None = None  # root of the validation split; None: ``data`` (a noisy view has no val split)
    learner: str = "baseline"
    learner_args: dict[str, Any] = field(default_factory=dict)
    epochs: int = 20
    steps: int | None = None  # overrides epochs when given
    batch_frames: int = 8  # frames per process per step; all K objects of each frame are queries
    lr: float = 5e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    min_lr_ratio: float = 0.01  # the cosine ends at lr * min_lr_ratio
    clip_grad: float = 1.0
    seed: int = 0
    image_encoder: str = "efficientnet_lite0"
    pretrained: bool = True  # ImageNet weights (efficientnet_lite0 only)
    input_size: tuple[int, int] = (240, 320)
    name_embedding: bool = False  # ModelConfig.name_embedding: queries also see their object's name alone
    hflip: bool = False
    augment: bool = False  # training.augment's crops, copy-paste, photo backgrounds and sensor photometrics
    workers: int = 2  # threads decoding frames into the cache
    threads: int = 0  # torch intra-op threads; 0 = torch's default (torchrun sets 1 per process)
    resume: bool = True
    eval_every: int = 500  # steps; 0 = only at the end
    ckpt_every: int = 100
    log_every: int = 10
    progress: bool = True
    device: str = "auto"

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``min_ratio`` at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class StopRequest:
    """SIGINT / SIGTERM set a flag instead of raising mid-step; the loop saves after the step and stops."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True


class CsvLog:
    """``log.csv`` of the main rank; a resumed run first drops rows written after its checkpoint."""

    def __init__(self, path: Path, columns: list[str], resume_step: int | None) -> None:
        self.path, self.columns = path, columns
        rows = []
        if resume_step is not None and path.is_file():
            with open(path, newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= resume_step]
        lines = [",".join(columns)] + [",".join(row.get(c, "") or "" for c in columns) for row in rows]
        atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, self.columns, extrasaction="raise").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


@dataclass
class Run:
    """What the loop needs, built (and restored from ``last.pt``) by :func:`setup_run`."""

    cfg: TrainConfig
    info: DistInfo
    learner: Learner
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    train_frames: FrameDataset
    val_frames: FrameDataset | None
    sampler: DistributedSampler
    model_config: ModelConfig
    data_hash: dict[str, str]
    steps_per_epoch: int
    total_steps: int
    step: int = 0
    best_giou: float = -math.inf
    elapsed_before: float = 0.0  # seconds trained before this process (resumed runs)
    log: CsvLog | None = None
    started: float = field(default_factory=time.perf_counter)
    _sums: dict[str, float] = field(default_factory=dict)
    _window: tuple[int, float] = (0, 0.0)  # (step, time) of the last log row

    def start_clock(self) -> None:
        """Time from here (after data caching): throughput and elapsed time count training only."""
        self.started = time.perf_counter()
        self._window = (self.step, self.started)

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def record(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self._sums[key] = self._sums.get(key, 0.0) + value

    def write_log(self, epoch: int, metrics: dict[str, float]) -> None:
        """Mean loss terms since the last row (over ranks), lr, throughput and any validation metrics."""
        last_step, last_time = self._window
        steps = max(1, self.step - last_step)
        means = distributed.mean_over_ranks({k: v / steps for k, v in self._sums.items()}, self.info)
        self._sums, self._window = {}, (self.step, time.perf_counter())
        if self.log is None:
            return
        row = {"step": self.step, "epoch": epoch, "lr": self.scheduler.get_last_lr()[0], **means,
               "steps_per_s": steps / max(1e-9, time.perf_counter() - last_time), "elapsed_s": self.elapsed,
               "data_hash": self.data_hash["train"]}
        self.log.write(row | {f"val_{k}": v for k, v in metrics.items()})
        if metrics:
            tqdm.write(f"step {self.step}: " + " ".join(f"{k} {v:.1f}" for k, v in metrics.items()))

    def batches(self) -> Iterator[tuple[int, QueryBatch]]:
        """(epoch, batch) from the current step on; the order of an epoch depends only on (seed, epoch)."""
        epoch, first = divmod(self.step, self.steps_per_epoch)
        size = self.cfg.batch_frames
        while True:
            self.sampler.set_epoch(epoch)
            order = list(self.sampler)
            for b in range(first, self.steps_per_epoch):
                items = [self.train_frames.item(i, epoch) for i in order[b * size:(b + 1) * size]]
                yield epoch, collate(items).to(self.info.device)
            epoch, first = epoch + 1, 0

    def validate(self) -> dict[str, float]:
        """Validation metrics of the primary network (main rank; other ranks get {})."""
        distributed.average_buffers(self.learner.models(), self.info)
        if not self.info.is_main or self.val_frames is None:
            return {}
        scores = evaluate_split(TorchPredictor(self.model, self.info.device), self.val_frames)
        self.model.train()
        return scores["model"].result().as_row()

    def save(self, epoch: int, metrics: dict[str, float]) -> None:
        """``last.pt`` (and ``best.pt`` when validation gIoU improved); collective, only the main rank writes."""
        distributed.average_buffers(self.learner.models(), self.info)
        rng = distributed.gather_objects(capture_rng(), self.info)
        if not self.info.is_main:
            return
        improved = metrics.get("gIoU", math.nan) > self.best_giou  # NaN (nothing scored) never improves
        self.best_giou = metrics["gIoU"] if improved else self.best_giou
        payload = {
            "format": CHECKPOINT_FORMAT, "model_config": self.model_config.to_dict(),
            "model": self.model.state_dict(), "learner": self.learner.state_dict(),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "step": self.step, "epoch": epoch, "rng": rng, "world_size": self.info.world_size,
            "best_giou": self.best_giou, "metrics": metrics, "data_hash": self.data_hash,
            "elapsed_s": self.elapsed, "config": self.cfg.to_json(),
        }
        save_checkpoint(self.cfg.out / "last.pt", payload)
        if improved:
            save_checkpoint(self.cfg.out / "best.pt", payload)


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train to the configured number of steps (resuming from ``out/last.pt`` when allowed); returns a summary."""
    info = distributed.setup_distributed(cfg.device)
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads or threads)
    try:
        run = setup_run(cfg, info)
        model, learner, optimizer, scheduler = run.model, run.learner, run.optimizer, run.scheduler
        params = [p for net in learner.models() for p in net.parameters()]
        batches = run.batches()
        bar = tqdm(total=run.total_steps, initial=run.step, desc=PROG, unit="step", dynamic_ncols=True,
                   disable=not (cfg.progress and info.is_main))
        with StopRequest() as stop:
            while run.step < run.total_steps:
                epoch, batch = next(batches)
                outputs = model(batch.images, batch.text_embeddings, batch.frame_index,
                                with_stages=learner.uses_stage_logits)
                step_info = StepInfo(run.step, epoch, run.steps_per_epoch, run.total_steps)
                loss, terms = learner.loss(outputs, batch, step_info)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                distributed.average_gradients(params, info)
                torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad)
                optimizer.step()
                scheduler.step()
                run.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}", refresh=False)
                run.record({"loss": loss.item(), **terms})
                end, stopping = run.step == run.total_steps, distributed.any_rank(stop.requested, info)
                evaluate = run.val_frames is not None and (end or bool(cfg.eval_every)
                                                          and run.step % cfg.eval_every == 0)
                metrics = run.validate() if evaluate else {}
                if run.step % cfg.log_every == 0 or end or evaluate:
                    run.write_log(epoch, metrics)
                if run.step % cfg.ckpt_every == 0 or end or evaluate or stopping:
                    run.save(epoch, metrics)
                if stopping:
                    raise KeyboardInterrupt
        bar.close()
        difference = distributed.check_ranks_agree(learner.models(), info)
        return {"steps": run.step, "best_giou": run.best_giou, "elapsed_s": run.elapsed,
                "world_size": info.world_size, "rank_difference": difference, "is_main": info.is_main}
    finally:
        torch.set_num_threads(threads)
        distributed.teardown_distributed()


def _check_resumable(checkpoint: dict[str, Any], cfg: TrainConfig, info: DistInfo, path: Path) -> None:
    """Refuse to continue a checkpoint made by a different command: the result would match neither run."""
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ActiSegError(f"{path}: checkpoint format {checkpoint.get('format')} is not {CHECKPOINT_FORMAT}")
    saved, current = checkpoint.get("config", {}), cfg.to_json()
    differences = [f"--{key.replace('_', '-')} ({saved.get(key)} -> {value})" for key, value in current.items()
                   if key not in OPERATIONAL_OPTIONS | {"data", "val_data"} and saved.get(key) != value]
    if checkpoint.get("world_size") != info.world_size:
        differences.append(f"process count ({checkpoint.get('world_size')} -> {info.world_size})")
    if differences:
        raise ActiSegError(f"{path} was made with different settings: {', '.join(differences)}; rerun the same "
                           "command to resume, or pass --no-resume to start over")


SIDE_WORDS = frozenset({"left", "right", "leftward", "rightward", "leftwards", "rightwards"})


def _refuse_sided_narrations(source: ActionVOSDataset) -> None:
    """A mirrored frame no longer matches a narration that names a side ("move the can to the left")."""
    sided = sorted({s.narration for s in source.sequences if SIDE_WORDS & set(normalise_text(s.narration).split())})
    if sided:
        raise ActiSegError(f"--hflip would mirror {len(sided)} narration(s) that name a side (e.g. {sided[0]!r}) "
                           "without swapping left and right in the text; train without --hflip")


def setup_run(cfg: TrainConfig, info: DistInfo) -> Run:
    """Data, learner (and its networks), optimizer and schedule; restores ``out/last.pt`` when resuming."""
    kind = learner_type(cfg.learner)
    for flag, used in (("--hflip", cfg.hflip), ("--augment", cfg.augment)):
        if used and kind.keeps_pixel_histories:
            raise ActiSegError(f"{flag} cannot be used with learner {cfg.learner!r}: it keeps per-pixel histories, "
                               "which flipped or cropped frames would misalign")
    if info.world_size > 1 and kind.keeps_pixel_histories:
        raise ActiSegError(f"learner {cfg.learner!r} keeps per-pixel histories in one process; each of the "
                           f"{info.world_size} DDP ranks would see other queries: train it with one process")
    last = cfg.out / "last.pt"
    checkpoint = load_checkpoint(last) if cfg.resume and last.is_file() else None
    if checkpoint is not None:
        _check_resumable(checkpoint, cfg, info, last)
    height, width = cfg.input_size
    try:
        model_config = ModelConfig(image_encoder=cfg.image_encoder, pretrained=cfg.pretrained, input_height=height,
                                   input_width=width, aux_head=kind.uses_aux_head,
                                   name_embedding=cfg.name_embedding)
    except ValueError as exc:
        raise ActiSegError(str(exc)) from None
    seed_everything(cfg.seed)

    train_source = load_split(cfg.data, cfg.split)
    val_root = cfg.val_data or cfg.data
    same = (Path(val_root).resolve(), cfg.val_split) == (Path(cfg.data).resolve(), cfg.split)
    val_source = None if cfg.val_split is None else train_source if same else load_split(val_root, cfg.val_split)
    if cfg.hflip:
        _refuse_sided_narrations(train_source)
    data_hash = {"train": split_hash(train_source)} | ({"val": split_hash(val_source)} if val_source else {})
    if checkpoint is not None and checkpoint.get("data_hash") != data_hash:
        raise ActiSegError(f"{last} was trained on different data ({checkpoint.get('data_hash')} vs {data_hash}); "
                           "pass --no-resume to start over on this data")
    frames_per_rank = len(train_source.frames) // info.world_size  # DistributedSampler with drop_last
    steps_per_epoch = frames_per_rank // cfg.batch_frames
    if steps_per_epoch == 0:
        raise ActiSegError(f"--batch-frames {cfg.batch_frames} is more than the {frames_per_rank} frames of split "
                           f"{cfg.split!r} each of the {info.world_size} process(es) gets")
    total_steps = cfg.steps if cfg.steps is not None else cfg.epochs * steps_per_epoch
    cfg.out.mkdir(parents=True, exist_ok=True)
    all_prompts = split_prompts(train_source, cfg.name_embedding) + (
        split_prompts(val_source, cfg.name_embedding) if val_source else [])
    if not info.is_main:
        distributed.barrier(info)  # the main rank embeds the prompts and writes the cache first
    prompts = PromptTable.build(all_prompts, cfg.out / "prompts.pt")
    if info.is_main:
        distributed.barrier(info)
    augmenter = Augmenter(AugmentConfig(), load_photos()) if cfg.augment else None
    train_frames = FrameDataset(train_source, cfg.input_size, prompts, hand_class_ids(train_source),
                                hflip=cfg.hflip, seed=cfg.seed, strong_view=kind.uses_strong_view, augment=augmenter,
                                name_embedding=cfg.name_embedding)
    val_frames = None if val_source is None else train_frames if val_source is train_source else FrameDataset(
        val_source, cfg.input_size, prompts, hand_class_ids(val_source), name_embedding=cfg.name_embedding)
    sampler = DistributedSampler(train_frames, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                 seed=cfg.seed, drop_last=True)

    context = LearnerContext(build_model=lambda: build_segmenter(model_config).to(info.device),
                             num_queries=len(train_source.queries), input_size=cfg.input_size)
    learner = get_learner(cfg.learner, context, **cfg.learner_args)
    networks = learner.models()
    for network in networks:
        network.train()
    distributed.broadcast_modules(networks, info)
    params = [p for network in networks for p in network.parameters()]
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
                                   {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}], lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(
        lr_factor, warmup=cfg.warmup_steps, total=total_steps, min_ratio=cfg.min_lr_ratio))
    run = Run(cfg, info, learner, networks[0], optimizer, scheduler, train_frames, val_frames, sampler, model_config,
              data_hash, steps_per_epoch, total_steps)
    finished = checkpoint is not None and checkpoint["step"] >= total_steps
    if not finished:  # a finished run has nothing to train or validate: decoding the splits would be minutes lost
        for dataset in {id(f): f for f in (train_frames, val_frames) if f is not None}.values():
            dataset.preload(cfg.workers, progress=cfg.progress and info.is_main)
    if checkpoint is not None:
        run.model.load_state_dict(checkpoint["model"])
        learner.load_state_dict(checkpoint["learner"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        run.step, run.best_giou = checkpoint["step"], checkpoint["best_giou"]
        run.elapsed_before = checkpoint["elapsed_s"]
        restore_rng(checkpoint["rng"][info.rank])  # last: everything above may have drawn random numbers
    run.start_clock()
    if info.is_main:
        if checkpoint is None:  # starting over: checkpoints of an earlier run in this folder must not be resumed
            (cfg.out / "last.pt").unlink(missing_ok=True)
            (cfg.out / "best.pt").unlink(missing_ok=True)
        columns = ["step", "epoch", "lr", "loss", *learner.terms, "steps_per_s", "elapsed_s", "data_hash",
                   *[f"val_{name}" for name in METRIC_COLUMNS]]
        run.log = CsvLog(cfg.out / "log.csv", columns, run.step if checkpoint is not None else None)
        atomic_write_json(cfg.out / "run.json", {
            "config": cfg.to_json(), "model_config": model_config.to_dict(), "data_hash": data_hash,
            "frames": {"train": len(train_frames), "val": len(val_frames) if val_frames else 0},
            "steps_per_epoch": steps_per_epoch,
            "total_steps": total_steps, "world_size": info.world_size, "device": str(info.device),
            "torch": torch.__version__, "resumed_at_step": run.step if checkpoint is not None else None,
        })
    return run


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and python: model initialisation and dropout are then functions of the seed."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---- command line ---------------------------------------------------------------------------------------------------

def input_size(text: str) -> tuple[int, int]:
    """argparse type: ``HxW``, both multiples of 16 (the encoder's strides must tile the image) and >= 32."""
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 240x320, got {text!r}")
    height, width = int(match.group(1)), int(match.group(2))
    if height % 16 or width % 16 or min(height, width) < 32:
        raise argparse.ArgumentTypeError(f"height and width must be multiples of 16 and at least 32, got {text}")
    return height, width


def learner_arg(text: str) -> tuple[str, Any]:
    """argparse type: ``KEY=VALUE``; the value is parsed as JSON (numbers, true/false), else kept as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> OneLineParser:
    defaults = TrainConfig(data=Path(), out=Path())
    parser = OneLineParser(prog=PROG, description="Train the active-object segmenter (resumes from OUT/last.pt).",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="ActionVOS-layout root")
    parser.add_argument("--split", default=defaults.split, help="training split")
    parser.add_argument("--val-split", default=defaults.val_split,
                        help="validation split, or 'none'")
    parser.add_argument("--val-data", type=Path, help="root of the validation split when not --data (a noisy "
                        "training view has no clean val split)")
    parser.add_argument("--out", type=Path, required=True, help="run folder: log, checkpoints")
    parser.add_argument("--learner", default=defaults.learner, help=f"one of {', '.join(learner_names())}")
    parser.add_argument("--learner-arg", type=learner_arg, action="append", default=[], metavar="KEY=VALUE",
                        help="learner hyper-parameter, repeatable (e.g. dice_coef=5)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive_int, default=defaults.epochs, help="passes over the split")
    length.add_argument("--steps", type=positive_int, help="optimizer steps (instead of --epochs)")
    parser.add_argument("--batch-frames", type=positive_int, default=defaults.batch_frames,
                        help="frames per process per step; every object of a frame is a query")
    parser.add_argument("--lr", type=positive_float, default=defaults.lr, help="AdamW peak learning rate")
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay,
                        help="AdamW decay of weight matrices / kernels (not biases, norms)")
    parser.add_argument("--warmup-steps", type=non_negative_int, default=defaults.warmup_steps,
                        help="linear warm-up before the cosine decay")
    parser.add_argument("--min-lr-ratio", type=unit_float, default=defaults.min_lr_ratio,
                        help="the cosine schedule ends at lr * this")
    parser.add_argument("--clip-grad", type=positive_float, default=defaults.clip_grad, help="gradient norm clip")
    parser.add_argument("--seed", type=seed_int, default=defaults.seed,
                        help="seeds init, dropout and the per-epoch data order")
    parser.add_argument("--image-encoder", choices=IMAGE_ENCODERS, default=defaults.image_encoder,
                        help="image backbone")
    parser.add_argument("--no-pretrained", action="store_true",
                        help="random encoder init (resnet_small never has ImageNet weights)")
    parser.add_argument("--input-size", type=input_size, default="x".join(map(str, defaults.input_size)), metavar="HxW",
                        help="model input, multiples of 16")
    parser.add_argument("--name-embedding", action="store_true",
                        help="each query also sees its object's name embedded alone, beside the prompt")
    parser.add_argument("--hflip", action="store_true", help="random horizontal flips (not with ELR / NPN)")
    parser.add_argument("--augment", action="store_true",
                        help="crops, copy-paste, real-photo backgrounds, sensor photometrics (training.augment; "
                        "installs the wallpapers asset pack on first use)")
    parser.add_argument("--workers", type=positive_int, default=defaults.workers,
                        help="threads decoding frames into the in-memory cache")
    parser.add_argument("--threads", type=non_negative_int, default=defaults.threads,
                        help="torch CPU threads (0: torch's default); use 1 on a busy shared machine")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=defaults.resume,
                        help="continue from OUT/last.pt if it exists")
    parser.add_argument("--eval-every", type=non_negative_int, default=defaults.eval_every,
                        help="validate every N steps (0: only at the end)")
    parser.add_argument("--ckpt-every", type=positive_int, default=defaults.ckpt_every,
                        help="write OUT/last.pt every N steps (and at every validation and the end)")
    parser.add_argument("--log-every", type=positive_int, default=defaults.log_every,
                        help="one log.csv row per N steps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--device", default=defaults.device, help="auto (cuda:LOCAL_RANK if available), cpu, cuda:N")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        data=args.data, out=args.out, split=args.split,
        val_split=None if args.val_split.lower() == "none" else args.val_split, val_data=args.val_data,
        learner=args.learner, learner_args=dict(args.learner_arg), epochs=args.epochs, steps=args.steps,
        batch_frames=args.batch_frames, lr=args.lr, weight_decay=args.weight_decay, warmup_steps=args.warmup_steps,
        min_lr_ratio=args.min_lr_ratio,
        clip_grad=args.clip_grad, seed=args.seed, image_encoder=args.image_encoder,
        pretrained=args.image_encoder == "efficientnet_lite0" and not args.no_pretrained,
        input_size=args.input_size, name_embedding=args.name_embedding, hflip=args.hflip, augment=args.augment,
        workers=args.workers,
        threads=args.threads, resume=args.resume,
        eval_every=args.eval_every, ckpt_every=args.ckpt_every, log_every=args.log_every,
        progress=not args.no_progress, device=args.device,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def handler() -> None:
        summary = train(config_from_args(args))
        if summary["is_main"]:
            best = f"best val gIoU {summary['best_giou']:.1f}" if math.isfinite(summary["best_giou"]) else "no val"
            agree = (f"; {summary['world_size']} ranks agree on parameters (max |diff| "
                     f"{summary['rank_difference']:.1g})" if summary["world_size"] > 1 else "")
            print(f"{PROG}: {summary['steps']} steps done in {summary['elapsed_s']:.0f} s, {best}{agree} -> "
                  f"{args.out}/last.pt")

    return run_command(PROG, handler)


if __name__ == "__main__":
    sys.exit(main())
