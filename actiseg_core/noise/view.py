"""A noisy view of one split: a self-contained ActionVOS-layout root the ordinary loader reads unchanged.

Frames (and ActiSeg-Sim's robot-part masks) are hard links to the clean files, so a view costs little disk;
annotations are the Alg. 2 label maps, ``ImageSets/<split>.json`` carries the Alg. 1 names, and ``noise.json``
records how the view was made (rate, kernel, seed and both modes) and how severe its noise is. Noise is for
training labels only (DESIGN §5), so splits other than ``train`` are refused unless a caller (a test, a severity
study) asks for them explicitly.

Every file is replaced through a temporary name and a rename, never written in place: a linked frame is the
source's own inode, and writing into it would corrupt the clean data. ``noise.json`` is removed first and written
last, so an interrupted view has no manifest and re-running into the same ``out`` completes it.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from actiseg_core.data.classes import class_map_path, load_class_map, write_class_map
from actiseg_core.data.layout import (
    Sequence,
    annotation_path,
    atomic_write_json,
    frame_path,
    read_image_set,
    read_label_png,
    robot_parts_path,
    write_image_set,
    write_label_png,
)
from actiseg_core.data.split_info import hand_names
from actiseg_core.errors import ActiSegError, DataError
from actiseg_core.noise.mask import SeverityStats, dilate_label_map, validate_kernel
from actiseg_core.noise.modes import (
    DEFAULT_MASK_NOISE_MODE,
    DEFAULT_TEXT_NOISE_MODE,
    validate_mask_mode,
    validate_text_mode,
)
from actiseg_core.noise.text import corrupt_names, count_flips, flip_census, narration_census, validate_rate

MANIFEST = "noise.json"
TRAIN_SPLIT = "train"
# link() failures that mean "this file system cannot link here", where a copy is the answer
_NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP)


def _check_target(root: Path, out: Path) -> None:
    source, target = root.resolve(), out.resolve()
    if target == source or source in target.parents:
        raise ActiSegError(f"refusing to write a noisy view into the source root {root}: choose an output outside it")


def _check_kernel(mask_kernel: int | None) -> int:
    """0 or None means clean masks; anything else must be a valid Alg. 2 kernel."""
    return 0 if mask_kernel in (None, 0) else validate_kernel(mask_kernel)


def link_or_copy(source: Path, target: Path) -> None:
    """Make ``target`` the same file as ``source``: a hard link, or a copy where links are impossible.

    The new entry is made under a temporary name and renamed over ``target``, so an existing target (perhaps a link
    to the source itself) is replaced, never written into.
    """
    if not source.is_file():
        raise DataError(f"{source}: file not found")
    if target.exists() and os.path.samefile(source, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            os.link(source, tmp)
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
            shutil.copy2(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_noisy_view(
    root: Path,
    split: str,
    out: Path,
    text_rate: float,
    mask_kernel: int | None,
    seed: int,
    progress: bool = True,
    *,
    allow_eval_split: bool = False,
    text_mode: str = DEFAULT_TEXT_NOISE_MODE,
    mask_mode: str = DEFAULT_MASK_NOISE_MODE,
) -> Path:
    """Write the noisy view of ``root``'s ``split`` at ``out`` (Alg. 1 names, Alg. 2 masks); returns ``out``.

    ``text_rate`` 0 keeps the clean names, ``mask_kernel`` 0 or None keeps the clean masks. ``text_mode`` and
    ``mask_mode`` pick the variant of Alg. 1 and Alg. 2 (the released generators' by default; see
    :mod:`actiseg_core.noise.text` and :mod:`actiseg_core.noise.mask`). Deterministic for ``seed``.
    ``out/noise.json`` records the source, the parameters (both modes included), the flip counts and the mask
    severity.
    """
    root, out = Path(root), Path(out)
    text_rate = validate_rate(text_rate)
    kernel = _check_kernel(mask_kernel)
    text_mode = validate_text_mode(text_mode)
    mask_mode = validate_mask_mode(mask_mode)
    if split != TRAIN_SPLIT and not allow_eval_split:
        raise ActiSegError(f"noise is for training labels only: refusing split {split!r} (evaluation stays clean)")
    _check_target(root, out)
    sequences = read_image_set(root, split)
    class_map = load_class_map(root, sequences)
    noisy = corrupt_names(sequences, class_map, text_rate, seed, text_mode)

    (out / MANIFEST).unlink(missing_ok=True)
    severity, resolutions = _write_frames(root, out, split, sequences, kernel, mask_mode, progress)
    write_image_set(out, split, noisy)
    if class_map_path(root).is_file():
        link_or_copy(class_map_path(root), class_map_path(out))
    else:
        write_class_map(out, class_map)
    objects, renamed, flipped = count_flips(noisy)
    atomic_write_json(
        out / MANIFEST,
        {
            "source_root": str(root.resolve()),
            "split": split,
            "text_rate": text_rate,
            "text_noise_mode": text_mode,
            "mask_kernel": kernel,
            "mask_noise_mode": mask_mode,
            "seed": seed,
            "sequences": len(sequences),
            "frames": sum(resolutions.values()),
            "label_map_resolutions": {f"{w}x{h}": n for (w, h), n in sorted(resolutions.items())},
            "objects": objects,
            "names_changed": renamed,
            "classes_flipped": flipped,
            "flip_census": flip_census(noisy),
            "narration_census": narration_census(noisy, hand_names(class_map)),
            "mask_severity": severity.to_json(),
        },
    )
    return out


def _write_frames(
    root: Path, out: Path, split: str, sequences: list[Sequence], kernel: int, mask_mode: str, progress: bool
) -> tuple[SeverityStats, Counter[tuple[int, int]]]:
    """Link every frame, write every (dilated) annotation; returns the severity and the label-map sizes seen."""
    severity = SeverityStats()
    resolutions: Counter[tuple[int, int]] = Counter()
    total = sum(len(seq.sparse_frames) for seq in sequences)
    with tqdm(total=total, desc=f"noisy view {split}", unit="frame", disable=not progress) as bar:
        for seq in sequences:
            order = sorted(seq.objects)
            positive = {index: seq.objects[index].positive for index in order}
            active = [index for index in order if positive[index]]
            for frame in seq.sparse_frames:
                link_or_copy(frame_path(root, split, seq, frame), frame_path(out, split, seq, frame))
                parts = robot_parts_path(root, split, seq, frame)
                if parts.is_file():
                    link_or_copy(parts, robot_parts_path(out, split, seq, frame))
                clean_path = annotation_path(root, split, seq, frame)
                clean = read_label_png(clean_path)
                if kernel:
                    noisy = dilate_label_map(clean, order, kernel, active=active, mode=mask_mode)
                    write_label_png(annotation_path(out, split, seq, frame), noisy)
                else:
                    noisy = clean
                    link_or_copy(clean_path, annotation_path(out, split, seq, frame))
                severity.add_frame(clean, noisy, positive)
                resolutions[(clean.shape[1], clean.shape[0])] += 1
                bar.update()
    return severity, resolutions
