"""Label noise: Alg. 1 (text), Alg. 2 (masks), severity, the noisy view and the noise report."""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import binary_dilation

from actiseg_core.data.classes import ObjectClass, read_class_map, write_class_map
from actiseg_core.data.layout import (
    ObjectInfo,
    Sequence,
    annotation_path,
    frame_path,
    read_image_set,
    read_label_png,
    robot_parts_path,
    write_image_set,
    write_label_png,
)
from actiseg_core.errors import ActiSegError, DataError
from actiseg_core.noise.mask import Severity, SeverityStats, dilate_label_map, mask_severity
from actiseg_core.noise.report import write_noise_report
from actiseg_core.noise.text import (
    OTHERS,
    TEXT_NOISE_KEY,
    category_shift,
    class_proportions,
    corrupt_names,
    noisy_name,
)
from actiseg_core.noise.view import MANIFEST, link_or_copy, make_noisy_view

CLASSES = {
    10: ObjectClass(10, "container", ("container", "food container", "cheese container")),
    20: ObjectClass(20, "fridge", ("fridge",)),
    30: ObjectClass(30, "hand", ("left hand", "right hand")),
    40: ObjectClass(40, "knife", ("knife", "kitchen knife")),
}
H, W = 24, 32


def reference_alg2(label_map: np.ndarray, order: list[int], kernel: int) -> np.ndarray:
    """Alg. 2 written as the paper states it: separate, dilate each, then per pixel the first covering object."""
    structure = np.ones((kernel, kernel), dtype=bool)
    dilated = [binary_dilation(label_map == obj, structure) for obj in order]
    noisy = np.zeros_like(label_map)
    for y in range(label_map.shape[0]):
        for x in range(label_map.shape[1]):
            for obj, mask in zip(order, dilated, strict=True):
                if noisy[y, x] == 0 and mask[y, x]:
                    noisy[y, x] = obj
    return noisy


def _sequence(seq_id: int, narration: str, objects: list[tuple[str, int, bool]]) -> Sequence:
    verb, noun = narration.split()
    return Sequence(
        seq_id=seq_id,
        video="P01_01",
        narration=narration,
        verb=verb,
        noun=noun,
        sparse_frames=["frame_0000000010.jpg", "frame_0000000020.jpg"],
        objects={i + 1: ObjectInfo(i + 1, name, cid, pos) for i, (name, cid, pos) in enumerate(objects)},
    )


def _label_map(seq: Sequence, frame: int) -> np.ndarray:
    """Rectangles that touch (so dilations overlap), shifted per frame; the last object is hidden in frame 1."""
    label = np.zeros((H, W), dtype=np.uint8)
    for index in seq.objects:
        if frame == 1 and index == max(seq.objects):
            continue
        x0 = 2 + 9 * (index - 1) + frame
        label[4 + index : 14 + index, x0 : x0 + 8] = index
    return label


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A tiny ActionVOS-layout root with a train and a val split, robot-part masks and a class map."""
    root = tmp_path / "clean"
    sequences = [
        _sequence(1, "open fridge", [("food container", 10, False), ("fridge", 20, True), ("right hand", 30, True)]),
        _sequence(2, "take container", [("cheese container", 10, True), ("left hand", 30, True)]),
    ]
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for seq in sequences:
            for f, frame in enumerate(seq.sparse_frames):
                path = frame_path(root, split, seq, frame)
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(path)
                write_label_png(annotation_path(root, split, seq, frame), _label_map(seq, f))
                write_label_png(robot_parts_path(root, split, seq, frame), np.ones((H, W), dtype=np.uint8))
        write_image_set(root, split, sequences)
    write_class_map(root, CLASSES)
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- Alg. 2 -------------------------------------------------------------------------------------------------------


def test_dilating_one_pixel_with_k3_gives_a_3x3_block():
    label = np.zeros((7, 7), dtype=np.uint8)
    label[3, 3] = 5
    expected = np.zeros_like(label)
    expected[2:5, 2:5] = 5
    np.testing.assert_array_equal(dilate_label_map(label, [5], 3), expected)


def test_k1_is_identity_and_background_stays_zero():
    label = np.zeros((10, 10), dtype=np.uint8)
    label[1:3, 1:3] = 1
    label[6:9, 5:9] = 2
    np.testing.assert_array_equal(dilate_label_map(label, [1, 2], 1), label)
    noisy = dilate_label_map(label, [1, 2], 3)
    assert noisy[9, 0] == 0 and noisy[0, 9] == 0 and noisy[5, 0] == 0


def test_first_hit_order_decides_overlaps_even_over_the_later_objects_own_pixels():
    label = np.zeros((5, 8), dtype=np.uint8)
    label[:, :4] = 1
    label[:, 4:] = 2
    first_one = dilate_label_map(label, [1, 2], 3)
    assert (first_one[:, :5] == 1).all() and (first_one[:, 5:] == 2).all()  # 1 took column 4, object 2's own pixels
    first_two = dilate_label_map(label, [2, 1], 3)
    assert (first_two[:, :3] == 1).all() and (first_two[:, 3:] == 2).all()
    assert (dilate_label_map(label, [2], 3)[:, :3] == 0).all()  # an object outside the order is dropped


@pytest.mark.parametrize("kernel", [1, 3, 5, 9])
def test_dilation_matches_the_literal_algorithm(kernel):
    rng = np.random.default_rng(kernel)
    for _ in range(5):
        label = rng.choice(np.array([0, 0, 0, 0, 1, 2, 3, 7], dtype=np.uint8), size=(13, 17))
        order = [int(i) for i in rng.permutation([1, 2, 3, 7])]
        np.testing.assert_array_equal(dilate_label_map(label, order, kernel), reference_alg2(label, order, kernel))


@pytest.mark.parametrize("kernel", [0, 2, -3, 4.0, True])
def test_invalid_kernels_are_refused(kernel):
    with pytest.raises(ActiSegError, match="odd integer"):
        dilate_label_map(np.zeros((3, 3), dtype=np.uint8), [1], kernel)


# --- severity -----------------------------------------------------------------------------------------------------


def test_severity_of_a_hand_computed_case():
    clean = np.zeros((8, 8), dtype=np.uint8)
    clean[2:4, 2:4] = 1  # 4 pixels -> dilated 4x4 = 16: IoU 4/16
    clean[7, 7] = 2  # 1 corner pixel -> dilated 3x3 clipped by the border = 2x2: IoU 1/4
    noisy = dilate_label_map(clean, [1, 2, 3], 3)
    assert mask_severity(clean, noisy, [1, 2, 3]) == {1: (4, 16), 2: (1, 4), 3: (0, 0)}
    stats = SeverityStats()
    stats.add_frame(clean, noisy, {1: True, 2: False, 3: True})
    assert stats.groups["all"].miou == pytest.approx((4 / 16 + 1 / 4) / 2)
    assert stats.groups["all"].ciou == pytest.approx(5 / 20)
    assert stats.groups["positive"].ious == [0.25] and stats.groups["negative"].ious == [0.25]
    assert stats.groups["all"].to_json()["entries"] == 2  # object 3 (visible nowhere) is skipped


def test_severity_mean_and_sum_differ():
    severity = Severity()
    severity.add(1, 2)
    severity.add(9, 10)
    severity.add(0, 0)
    assert severity.miou == pytest.approx((0.5 + 0.9) / 2)
    assert severity.ciou == pytest.approx(10 / 12)
    assert Severity().to_json() == {"mIoU": None, "cIoU": None, "entries": 0}


# --- Alg. 1 -------------------------------------------------------------------------------------------------------


def test_rate_zero_never_flips_and_keeps_the_class():
    rng = np.random.default_rng(1)
    for _ in range(200):
        name, cid, flipped = noisy_name(10, CLASSES, 0.0, rng)
        assert not flipped and cid == 10 and name in CLASSES[10].names


def test_rate_one_always_flips_to_another_class_uniformly():
    rng = np.random.default_rng(2)
    seen = set()
    for _ in range(300):
        name, cid, flipped = noisy_name(10, CLASSES, 1.0, rng)
        assert flipped and cid != 10 and name in CLASSES[cid].names
        seen.add(cid)
    assert seen == {20, 30, 40}


@pytest.mark.parametrize("rate", [0.2, 0.4, 0.6])
def test_empirical_flip_rate_matches_rho(rate):
    rng = np.random.default_rng(3)
    draws = 4000  # binomial sd <= 0.008, so 0.04 is five sd
    flips = sum(noisy_name(30, CLASSES, rate, rng)[2] for _ in range(draws))
    assert abs(flips / draws - rate) < 0.04


def test_bad_rates_and_class_maps_are_refused():
    rng = np.random.default_rng(0)
    for rate in (-0.1, 1.5, float("nan")):
        with pytest.raises(ActiSegError, match=r"\[0, 1\]"):
            noisy_name(10, CLASSES, rate, rng)
    with pytest.raises(ActiSegError, match="at least 2 classes"):
        noisy_name(10, {10: CLASSES[10]}, 0.2, rng)
    with pytest.raises(ActiSegError, match="class id 99"):
        noisy_name(99, CLASSES, 0.2, rng)


def test_corrupt_names_is_deterministic_nested_and_keeps_true_classes(root):
    sequences = read_image_set(root, "train")
    low = corrupt_names(sequences, CLASSES, 0.4, seed=7)
    assert [s.to_json() for s in low] == [s.to_json() for s in corrupt_names(sequences, CLASSES, 0.4, seed=7)]
    high = corrupt_names(sequences, CLASSES, 0.9, seed=7)
    for clean, lo, hi in zip(sequences, low, high, strict=True):
        assert lo.narration == clean.narration  # Alg. 1 changes the object name, never the narration
        assert {i: o.class_id for i, o in lo.objects.items()} == {i: o.class_id for i, o in clean.objects.items()}
        for index, obj in lo.objects.items():
            entry = lo.extra[TEXT_NOISE_KEY]["objects"][str(index)]
            assert entry["clean_name"] == clean.objects[index].name
            assert obj.name in CLASSES[entry["noisy_class_id"]].names
            if entry["noisy_class_id"] != obj.class_id:  # flipped at 0.4 -> flipped the same way at 0.9
                assert hi.extra[TEXT_NOISE_KEY]["objects"][str(index)] == entry
    assert corrupt_names(sequences, CLASSES, 0.0, seed=7)[0].objects == sequences[0].objects
    assert sequences == read_image_set(root, "train")  # inputs untouched


def test_category_shift_sums_to_one_and_moves_mass_to_the_rare_classes():
    many = [_sequence(i, "take fridge", [("fridge", 20, True), ("left hand", 30, True)]) for i in range(300)]
    many.append(_sequence(999, "take knife", [("knife", 40, True)]))
    clean = class_proportions(many, CLASSES)
    noisy = {"rho=0.6": class_proportions(corrupt_names(many, CLASSES, 0.6, seed=1), CLASSES)}
    shift = category_shift(clean, noisy)
    for shares in shift.values():
        assert sum(shares.values()) == pytest.approx(1.0)
    assert list(shift["clean"]) == ["fridge", "hand", OTHERS]  # knife is 1/601 < 1%: folded into Others
    assert shift["rho=0.6"][OTHERS] > shift["clean"][OTHERS] + 0.2
    assert shift["rho=0.6"]["fridge"] < 0.4


# --- the noisy view -----------------------------------------------------------------------------------------------


def test_noisy_view_is_a_readable_layout_root_with_noisy_names_and_dilated_masks(root, tmp_path):
    before = _snapshot(root)
    out = make_noisy_view(root, "train", tmp_path / "view", text_rate=1.0, mask_kernel=3, seed=5, progress=False)
    clean_seqs = read_image_set(root, "train")
    noisy_seqs = read_image_set(out, "train")
    assert read_class_map(out / "ImageSets" / "classes.json") == CLASSES
    for clean, noisy in zip(clean_seqs, noisy_seqs, strict=True):
        assert noisy.narration == clean.narration
        for index, obj in noisy.objects.items():
            assert obj.class_id == clean.objects[index].class_id
            assert obj.name not in CLASSES[obj.class_id].names  # rate 1: every name is another class's
        for frame in clean.sparse_frames:
            assert os.path.samefile(frame_path(root, "train", clean, frame), frame_path(out, "train", noisy, frame))
            assert os.path.samefile(
                robot_parts_path(root, "train", clean, frame), robot_parts_path(out, "train", noisy, frame)
            )
            clean_map = read_label_png(annotation_path(root, "train", clean, frame))
            expected = dilate_label_map(clean_map, sorted(clean.objects), 3)
            np.testing.assert_array_equal(read_label_png(annotation_path(out, "train", noisy, frame)), expected)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["mask_kernel"] == 3 and manifest["frames"] == 4 and manifest["classes_flipped"] == 5
    assert manifest["label_map_resolutions"] == {f"{W}x{H}": 4}
    assert 0 < manifest["mask_severity"]["all"]["mIoU"] < 1
    assert not (out / "ImageSets" / "val.json").exists()

    again = make_noisy_view(root, "train", out, text_rate=0.0, mask_kernel=0, seed=5, progress=False)
    for seq in read_image_set(again, "train"):
        assert seq.objects == next(s for s in clean_seqs if s.seq_id == seq.seq_id).objects
        for frame in seq.sparse_frames:
            assert os.path.samefile(
                annotation_path(root, "train", seq, frame), annotation_path(out, "train", seq, frame)
            )
    assert json.loads((out / MANIFEST).read_text())["mask_severity"]["all"]["mIoU"] == 1.0
    assert _snapshot(root) == before  # the source is never written


def test_noisy_view_refusals(root, tmp_path):
    with pytest.raises(ActiSegError, match="source root"):
        make_noisy_view(root, "train", root, 0.2, 9, seed=0, progress=False)
    with pytest.raises(ActiSegError, match="source root"):
        make_noisy_view(root, "train", root / "noisy", 0.2, 9, seed=0, progress=False)
    with pytest.raises(ActiSegError, match="training labels only"):
        make_noisy_view(root, "val", tmp_path / "v", 0.2, 9, seed=0, progress=False)
    for rate, kernel in ((1.2, 9), (-0.1, 9), (0.2, 8), (0.2, -1)):
        with pytest.raises(ActiSegError):
            make_noisy_view(root, "train", tmp_path / "v", rate, kernel, seed=0, progress=False)
    assert not (tmp_path / "v").exists()
    out = make_noisy_view(root, "val", tmp_path / "v", 0.2, 9, seed=0, progress=False, allow_eval_split=True)
    assert (out / "ImageSets" / "val.json").is_file()


def test_noisy_view_names_a_corrupt_mask_and_a_missing_frame(root, tmp_path):
    seq = read_image_set(root, "train")[1]
    bad = annotation_path(root, "train", seq, seq.sparse_frames[1])
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match=re.escape(str(bad)) + ".*corrupt"):
        make_noisy_view(root, "train", tmp_path / "view", 0.2, 9, seed=0, progress=False)
    assert not (tmp_path / "view" / MANIFEST).exists()  # an interrupted view has no manifest
    missing = frame_path(root, "train", seq, seq.sparse_frames[0])
    missing.unlink()
    with pytest.raises(DataError, match=re.escape(str(missing)) + ".*not found"):
        make_noisy_view(root, "train", tmp_path / "view", 0.2, 9, seed=0, progress=False)


def test_link_falls_back_to_a_copy_across_file_systems(tmp_path, monkeypatch):
    source, target = tmp_path / "a.jpg", tmp_path / "out" / "a.jpg"
    source.write_bytes(b"frame")

    def cross_device(*_):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    link_or_copy(source, target)
    assert target.read_bytes() == b"frame" and not os.path.samefile(source, target)
    assert [p.name for p in target.parent.iterdir()] == ["a.jpg"]  # no temporary file left behind


# --- the report ---------------------------------------------------------------------------------------------------


def test_noise_report_writes_tables_plots_and_json(root, tmp_path):
    out_dir = tmp_path / "report"
    data = write_noise_report(root, "train", out_dir, seed=3, kernels=(1, 3, 5, 9), rates=(0.2, 0.6), progress=False)
    names = {"noise_severity.md", "noise_severity.png", "noise_category_shift.md", "noise_category_shift.png"}
    assert names | {"noise_report.json"} == {p.name for p in out_dir.iterdir()}
    assert json.loads((out_dir / "noise_report.json").read_text()) == data
    mious = [data["severity"][k]["all"]["mIoU"] for k in ("1", "3", "5", "9")]
    cious = [data["severity"][k]["all"]["cIoU"] for k in ("1", "3", "5", "9")]
    assert mious[0] == cious[0] == 1.0
    assert mious == sorted(mious, reverse=True) and len(set(mious)) == 4
    assert cious == sorted(cious, reverse=True) and len(set(cious)) == 4
    for shares in data["category_shift"].values():
        assert sum(shares.values()) == pytest.approx(1.0)
    assert list(data["category_shift"]) == ["clean", "rho=0.2", "rho=0.6"]
    for name in ("noise_severity.md", "noise_category_shift.md"):
        text = (out_dir / name).read_text()
        assert "split `train`" in text and "4 annotated frames" in text and f"{W}x{H}" in text and "seed 3" in text
    assert "| 9x9 |" in (out_dir / "noise_severity.md").read_text()
    assert (out_dir / "noise_severity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
