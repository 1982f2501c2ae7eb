"""Render a split of ActiSeg-Sim into the ActionVOS layout: worker pool, atomic per-clip output, resume.

Each clip writes its frames, label maps and robot-part masks (every file atomically), then its ImageSets record
under ``ImageSets/.clips/<split>/`` last: that record is the clip's "done" marker. A rerun skips clips that have
one and redoes the others (a killed run leaves at most partial clips without markers), so finished clips are never
rewritten. ``ImageSets/<split>.json`` is assembled from the records at the end of every run, resumed or not.
The pool uses spawned processes, each with its own MuJoCo renderer; llvmpipe is limited to one thread per worker
(``LP_NUM_THREADS``) so that ``workers`` processes share the cores without oversubscribing them.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from actiseg_core.data.classes import write_class_map
from actiseg_core.data.geometry_layout import (
    depth_path,
    geometry_path,
    robot_links_path,
    write_depth_png,
    write_geometry,
)
from actiseg_core.data.layout import (
    IMAGE_SETS_DIR,
    Sequence,
    annotation_path,
    atomic_write_bytes,
    atomic_write_json,
    frame_path,
    parse_sequence,
    read_json,
    robot_parts_path,
    write_image_set,
    write_label_png,
)
from actiseg_core.data.sim import versions
from actiseg_core.errors import ActiSegError

MIN_FRAMES = 8
JPEG_QUALITY = 90
MARKERS_DIR = ".clips"
PARAMS_FILE = "params.json"


@dataclass(frozen=True)
class RenderSummary:
    """What a run did. ``render_ms_per_frame``: one worker's time per new frame (sampling, compiling, planning,
    rendering, encoding, writing); ``frames_per_second``: new frames per wall-clock second over all workers."""

    clips: int
    frames: int
    rendered_clips: int
    skipped_clips: int
    seconds: float
    frames_per_second: float
    render_ms_per_frame: float


def clip_marker(out: Path, split: str, index: int) -> Path:
    """The record whose presence means clip ``index`` of ``split`` is complete."""
    return Path(out) / IMAGE_SETS_DIR / MARKERS_DIR / split / f"{index:06d}.json"


def _check_arguments(
    out: Path, version: str, split: str, clips: int, seed: int, workers: int, frames_per_clip: int
) -> None:
    versions.check_split(version, split)
    if clips < 1:
        raise ActiSegError(f"clips must be at least 1, got {clips}")
    if frames_per_clip < MIN_FRAMES:
        raise ActiSegError(f"frames_per_clip must be at least {MIN_FRAMES}, got {frames_per_clip}")
    if workers < 1:
        raise ActiSegError(f"workers must be at least 1, got {workers}")
    if seed < 0:
        raise ActiSegError(f"seed must be non-negative, got {seed}")
    if out.exists() and not out.is_dir():
        raise ActiSegError(f"{out}: output path exists and is not a folder")


def _claim_parameters(out: Path, version: str, split: str, seed: int, frames_per_clip: int, sensors: bool) -> None:
    """Record the split's seed, clip length, sensors flag and version (the last two only when not v1's defaults,
    so v1's file is unchanged); a resume with other values would mix two data sets."""
    path = clip_marker(out, split, 0).parent / PARAMS_FILE
    wanted: dict[str, object] = {"seed": seed, "frames_per_clip": frames_per_clip}
    if sensors:
        wanted["sensors"] = True
    if version != "v1":
        wanted["version"] = version
    if path.is_file():
        found = read_json(path)
        if found != wanted:
            raise ActiSegError(f"{out}: split {split} was rendered with {found}, not {wanted}; use another folder")
    else:
        atomic_write_json(path, wanted)


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    buffer = BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def render_clip(
    out: Path, split: str, seed: int, index: int, frames: int, sensors: bool = False, version: str = "v1"
) -> float:
    """Render clip ``index`` and write it, its record last; returns the seconds it took.

    With ``sensors`` the clip also writes ``Depth_Sparse`` and ``RobotLinks_Sparse`` per frame and its
    ``Geometry_Sparse`` record (:mod:`geometry_layout`), all before the record that marks the clip done.
    """
    started = time.perf_counter()
    clip = versions.make_clip(version, seed, split, index, frames, sensors)
    sequence = clip.sequence
    quality = int(sequence.extra.get("photometric", {}).get("jpeg_quality", JPEG_QUALITY))
    for frame, image, labels, parts in zip(sequence.sparse_frames, clip.images, clip.labels, clip.parts, strict=True):
        atomic_write_bytes(frame_path(out, split, sequence, frame), _jpeg(image, quality))
        write_label_png(annotation_path(out, split, sequence, frame), labels)
        write_label_png(robot_parts_path(out, split, sequence, frame), parts)
    if clip.geometry is not None:
        for frame, depth, links in zip(sequence.sparse_frames, clip.depth, clip.links, strict=True):
            write_depth_png(depth_path(out, split, sequence, frame), depth)
            write_label_png(robot_links_path(out, split, sequence, frame), links)
        write_geometry(geometry_path(out, split, sequence), clip.geometry, sequence.folder)
    atomic_write_json(clip_marker(out, split, index), sequence.to_json())
    return time.perf_counter() - started


def _render_task(task: tuple[Path, str, int, int, int, bool, str]) -> float:
    return render_clip(*task)


def _init_worker() -> None:
    os.environ.setdefault("LP_NUM_THREADS", "1")


def _run(tasks: list[tuple[Path, str, int, int, int, bool]], workers: int) -> Iterator[float]:
    """Seconds per finished clip, in completion order; in this process when one worker (or one clip) suffices."""
    if workers == 1 or len(tasks) <= 1:
        yield from map(_render_task, tasks)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(workers, len(tasks)), initializer=_init_worker) as pool:
        yield from pool.imap_unordered(_render_task, tasks)


def _read_record(out: Path, split: str, index: int) -> Sequence:
    path = clip_marker(out, split, index)
    return parse_sequence(path, read_json(path))


def render_split(
    out: Path,
    split: str,
    clips: int,
    seed: int,
    workers: int = 2,
    frames_per_clip: int = 10,
    progress: bool = True,
    sensors: bool = False,
    version: str = "v1",
) -> RenderSummary:
    """Render clips ``0 .. clips-1`` of ``split`` of benchmark ``version`` into ``out`` (ActionVOS layout),
    skipping finished ones.

    ``sensors`` adds per-frame depth, robot-link maps and per-clip geometry (:mod:`geometry_layout`); v2 always
    has them. A v2 render first installs the asset packs it needs (:func:`versions.prepare`)."""
    out = Path(out)
    _check_arguments(out, version, split, clips, seed, workers, frames_per_clip)
    sensors = sensors or version != "v1"
    started = time.perf_counter()
    _claim_parameters(out, version, split, seed, frames_per_clip, sensors)
    versions.prepare(version, split, progress)
    write_class_map(out, versions.class_map(version))
    todo = [i for i in range(clips) if not clip_marker(out, split, i).is_file()]
    tasks = [(out, split, seed, index, frames_per_clip, sensors, version) for index in todo]
    worker_seconds = []
    with tqdm(
        total=clips, initial=clips - len(todo), desc=f"ActiSeg-Sim {version} {split}", unit="clip", disable=not progress
    ) as bar:
        for seconds in _run(tasks, workers):
            worker_seconds.append(seconds)
            bar.update(1)
    sequences = [_read_record(out, split, index) for index in range(clips)]
    write_image_set(out, split, sequences)
    elapsed = time.perf_counter() - started
    new_frames = len(todo) * frames_per_clip
    return RenderSummary(
        clips=clips,
        frames=sum(len(s.sparse_frames) for s in sequences),
        rendered_clips=len(todo),
        skipped_clips=clips - len(todo),
        seconds=elapsed,
        frames_per_second=new_frames / elapsed if new_frames else 0.0,
        render_ms_per_frame=1000 * sum(worker_seconds) / new_frames if new_frames else 0.0,
    )
