"""Cutting a split in two by sequence (the benchmark's fit / held-out parts): a partition that depends only on the
folder names, roots the loader reads, links instead of copies, reuse, and one-line refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from actiseg_core.data.classes import ObjectClass, class_map_path, derive_class_map, write_class_map
from actiseg_core.data.layout import read_image_set
from actiseg_core.data.split_info import hand_class_ids, load_split
from actiseg_core.data.subset import held_out_folders, split_parts
from actiseg_core.errors import ActiSegError

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "visor_mini"


def test_the_held_out_share_is_a_fixed_function_of_the_folder_names() -> None:
    sequences = read_image_set(FIXTURE, "val")
    held = held_out_folders(sequences, 0.1)
    assert len(held) == 1  # at least one, never all
    assert held_out_folders(list(reversed(sequences)), 0.1) == held  # order does not matter
    for share in (0.0, 1.0, -0.5, float("nan")):
        with pytest.raises(ActiSegError, match="held-out share"):
            held_out_folders(sequences, share)
    with pytest.raises(ActiSegError, match="cannot hold out"):
        held_out_folders(sequences[:1], 0.5)


def test_parts_are_readable_roots_that_partition_the_split(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    fit, held = split_parts(source, "val", 0.5, tmp_path / "parts")
    folders = [{seq.folder for seq in load_split(part, "val").sequences} for part in (fit, held)]
    assert not folders[0] & folders[1]
    assert folders[0] | folders[1] == {seq.folder for seq in read_image_set(source, "val")}
    frame = next(iter(load_split(held, "val").frames))
    assert frame.image_path.read_bytes() == (source / frame.image_path.relative_to(held)).read_bytes()
    assert (held / "JPEGImages_Sparse" / "val" / frame.sequence.folder).is_symlink()  # linked, not copied
    again = split_parts(source, "val", 0.5, tmp_path / "parts")
    assert again == (fit, held) and (fit / "parts.json").is_file()


def test_parts_keep_the_source_class_map_so_the_gripper_stays_a_hand(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    classes = derive_class_map(read_image_set(source, "val"))
    classes[21] = ObjectClass(21, "gripper", classes[21].names)  # a class map that calls 21 the robot's hand
    write_class_map(source, classes)
    fit, held = split_parts(source, "val", 0.5, tmp_path / "parts")
    for part in (fit, held):
        assert class_map_path(part).read_bytes() == class_map_path(source).read_bytes()
        assert 21 in hand_class_ids(load_split(part, "val"))  # the source's map, not one derived from names
