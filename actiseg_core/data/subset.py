"""A split of an ActionVOS-layout root cut in two by sequence: the part a model trains on and a held-out part.

The ActiSeg-NL protocol chooses its decision threshold tau* on a **noisy held-out subset of train** (issue 15):
labels as noisy as the training labels, sequences the model never saw, and never the clean evaluation data. Both
parts are self-contained roots the ordinary loader reads unchanged: ``ImageSets/<split>.json`` lists the part's
sequences, and every per-sequence folder of the source (frames, annotations, robot-part masks, depth) is a symbolic
link to the source's, so a part costs no copy and sees exactly the source's (possibly noisy) files.

Which sequences are held out depends only on their folder names (the smallest ``share`` of their SHA-256 digests),
so every condition's view of one training split holds out the same sequences, whatever its noise.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from actiseg_core.data.classes import class_map_path
from actiseg_core.data.layout import (
    IMAGE_SETS_DIR,
    Sequence,
    atomic_write_json,
    read_image_set,
    read_json,
    write_image_set,
)
from actiseg_core.errors import ActiSegError

PARTS_FILE = "parts.json"  # written last: a part root without it is unfinished and is rebuilt


def held_out_folders(sequences: list[Sequence], share: float) -> frozenset[str]:
    """The folders of the ``share`` of ``sequences`` (at least one, never all) held out from training."""
    if not 0.0 < share < 1.0:
        raise ActiSegError(f"held-out share must lie in (0, 1), got {share!r}")
    if len(sequences) < 2:
        raise ActiSegError(f"cannot hold out part of {len(sequences)} sequence(s)")
    count = min(len(sequences) - 1, max(1, round(share * len(sequences))))
    ranked = sorted(sequences, key=lambda seq: hashlib.sha256(seq.folder.encode()).hexdigest())
    return frozenset(seq.folder for seq in ranked[:count])


def write_part(source: Path, split: str, sequences: list[Sequence], out: Path) -> Path:
    """Write a root at ``out`` whose ``split`` holds ``sequences`` of ``source`` (links, not copies); returns ``out``.

    Top-level files of the source (a noisy view's ``noise.json``) and its class map (``ImageSets/classes.json``,
    without which a part would derive one from its names, and ActiSeg-Sim's gripper would not be a hand class) are
    linked too. Reuses ``out`` when it already holds exactly these sequences of this source.
    """
    source, out = Path(source).resolve(), Path(out)
    classes = class_map_path(source)
    wanted = {"source": str(source), "split": split, "folders": sorted(seq.folder for seq in sequences),
              "class_map": classes.is_file()}
    if (out / PARTS_FILE).is_file() and read_json(out / PARTS_FILE) == wanted:
        return out
    (out / PARTS_FILE).unlink(missing_ok=True)
    for entry in source.iterdir():
        if entry.name == IMAGE_SETS_DIR:
            continue
        if entry.is_file():
            _link(entry, out / entry.name)
        elif (entry / split).is_dir():
            for seq in sequences:
                folder = entry / split / seq.folder
                if folder.is_dir():
                    _link(folder, out / entry.name / split / seq.folder)
    write_image_set(out, split, sequences)
    if classes.is_file():
        _link(classes, class_map_path(out))
    atomic_write_json(out / PARTS_FILE, wanted)
    return out


FIT_PART, HELD_OUT_PART = "fit", "held_out"


def split_parts(source: Path, split: str, share: float, out: Path) -> tuple[Path, Path]:
    """``out/fit`` (the sequences trained on) and ``out/held_out`` (the rest) of ``source``'s ``split``."""
    sequences = read_image_set(source, split)
    held = held_out_folders(sequences, share)
    fit = write_part(source, split, [s for s in sequences if s.folder not in held], out / FIT_PART)
    return fit, write_part(source, split, [s for s in sequences if s.folder in held], out / HELD_OUT_PART)


def _link(target: Path, link: Path) -> None:
    """``link`` -> ``target`` as a symbolic link, replacing whatever ``link`` was (never writing through it)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target, target_is_directory=target.is_dir())
    os.replace(tmp, link)

