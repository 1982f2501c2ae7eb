"""The loader on a hand-made root in the real VISOR/ActionVOS layout, and its errors on broken roots."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from actiseg_core.data.classes import derive_class_map, load_class_map
from actiseg_core.data.layout import read_image_set
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.errors import DataError
from actiseg_core.prompts import build_prompt

FIXTURE = Path(__file__).parent / "fixtures" / "visor_mini"


@pytest.fixture
def broken_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    return root


def test_queries_cover_every_object_of_every_frame():
    data = ActionVOSDataset(FIXTURE, "val")
    assert len(data.sequences) == 2
    assert len(data.frames) == 4
    assert len(data) == 16  # 4 frames x 4 annotated objects each
    first = data.queries[0]
    assert (first.name, first.narration, first.positive) == ("food container", "close fridge", False)
    assert first.prompt == "food container used in the action of close fridge"
    assert sum(q.positive for q in data.queries) == 10


def test_object_masks_match_the_drawn_polygons():
    data = ActionVOSDataset(FIXTURE, "val")
    fridge = next(q for q in data.queries if q.name == "fridge" and q.frame.frame == "frame_0000000954.jpg")
    mask = data.object_mask(fridge)
    assert mask.shape == (480, 854)
    # the fridge is the rectangle x 300..700, y 20..460 (PIL fills both ends) less the right hand drawn over it
    rectangle = np.zeros_like(mask)
    rectangle[20:461, 300:701] = True
    hand = data.load_labels(fridge.frame) == 3
    assert (rectangle & hand).sum() > 0
    np.testing.assert_array_equal(mask, rectangle & ~hand)
    milk_late = next(q for q in data.queries if q.name == "soy milk" and q.frame.frame == "frame_0000000992.jpg")
    assert not data.object_mask(milk_late).any()  # not visible in the second frame
    image = data.load_image(fridge.frame)
    assert image.shape == (480, 854, 3) and image.dtype == np.uint8
    assert data.load_robot_parts(fridge.frame) is None


def test_prompt_normalises_case_and_spacing():
    assert build_prompt("  Soy   Milk ", "Take\tCUP") == "soy milk used in the action of take cup"


def test_class_map_is_derived_from_names_when_the_root_has_none():
    sequences = read_image_set(FIXTURE, "val")
    classes = load_class_map(FIXTURE, sequences)
    assert classes == derive_class_map(sequences)
    assert classes[301].names == ("right hand",)
    assert set(classes) == {3, 7, 12, 21, 64, 300, 301}


def test_extra_keys_survive_a_round_trip():
    seq = read_image_set(FIXTURE, "val")[0]
    assert seq.extra == {"redundant": False, "missing": False, "other": False}
    assert seq.to_json()["object_classes"]["3"]["name"] == "right hand"
    assert seq.folder == "00000004_P01_107_close_fridge"


def test_missing_frame_is_named(broken_root: Path):
    victim = next((broken_root / "JPEGImages_Sparse").rglob("*.jpg"))
    victim.unlink()
    with pytest.raises(DataError, match=victim.name):
        ActionVOSDataset(broken_root, "val")


def test_corrupt_mask_is_named(broken_root: Path):
    victim = next((broken_root / "Annotations_Sparse").rglob("*.png"))
    victim.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    data = ActionVOSDataset(broken_root, "val")
    ref = next(r for r in data.frames if r.annotation_path == victim)
    with pytest.raises(DataError, match="corrupt mask"):
        data.load_labels(ref)


def test_unknown_label_value_is_named(broken_root: Path):
    data = ActionVOSDataset(broken_root, "val")
    ref = data.frames[0]
    from actiseg_core.data.layout import write_label_png

    labels = data.load_labels(ref)
    labels[0, 0] = 9
    write_label_png(ref.annotation_path, labels)
    with pytest.raises(DataError, match=r"label values \[9\]"):
        data.load_labels(ref)


@pytest.mark.parametrize(
    "content, message",
    [("{not json", "corrupt JSON"), ('{"a": 1}', "expected a JSON list"), ('[{"seq_id": 1}]', "lacks")],
)
def test_corrupt_image_set_is_named(broken_root: Path, content: str, message: str):
    (broken_root / "ImageSets" / "val.json").write_text(content)
    with pytest.raises(DataError, match=message):
        ActionVOSDataset(broken_root, "val")


def test_wrong_layout_and_missing_split(tmp_path: Path):
    with pytest.raises(DataError, match="not an ActionVOS-layout root"):
        ActionVOSDataset(tmp_path, "val")
    with pytest.raises(DataError, match="train.json: file not found"):
        ActionVOSDataset(FIXTURE, "train")


def test_bad_object_index(broken_root: Path):
    records = json.loads((broken_root / "ImageSets" / "val.json").read_text())
    records[0]["object_classes"]["300"] = records[0]["object_classes"]["1"]
    (broken_root / "ImageSets" / "val.json").write_text(json.dumps(records))
    with pytest.raises(DataError, match="outside the palette range"):
        ActionVOSDataset(broken_root, "val")


def test_atomic_writes_get_the_usual_file_mode(tmp_path: Path):
    import os

    from actiseg_core.data.layout import atomic_write_bytes

    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"data")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_bytes() == b"data"
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]  # no temporary file left behind
