"""Label noise: Alg. 1 (text), Alg. 2 (masks), both in their official and extension modes, severity, the noisy
view, the noise report, and the modes' threading through the CLIs and the benchmark runner."""

from __future__ import annotations

import errno
import json
import os
import re
from collections import Counter
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
from actiseg_core.noise.modes import (
    ALL_OBJECTS,
    DEFAULT_MASK_NOISE_MODE,
    DEFAULT_TEXT_NOISE_MODE,
    FLIP_ONLY,
    FLIP_OR_SYNONYM,
    MASK_NOISE_MODES,
    OFFICIAL,
    TEXT_NOISE_MODES,
)
from actiseg_core.noise.report import write_noise_report
from actiseg_core.noise.text import (
    OTHERS,
    TEXT_NOISE_KEY,
    category_shift,
    class_proportions,
    corrupt_names,
    count_flips,
    flip_census,
    narration_census,
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


def reference_released_alg2(label_map: np.ndarray, order: list[int], active: set[int], kernel: int) -> np.ndarray:
    """The released generator's procedure, written out: dilate each active object and paste it into the pixels
    still 0, in object order; then paste each inactive object's undilated mask into the pixels still 0."""
    structure = np.ones((kernel, kernel), dtype=bool)
    noisy = np.zeros_like(label_map)
    for obj in order:
        if obj in active:
            noisy[(noisy == 0) & binary_dilation(label_map == obj, structure)] = obj
    for obj in order:
        if obj not in active:
            noisy[(noisy == 0) & (label_map == obj)] = obj
    return noisy


def _official_or_all(mode: str, order: list[int]) -> dict:
    """Keyword arguments of ``dilate_label_map`` under which both modes agree: every object active."""
    return {"mode": mode, "active": order} if mode == OFFICIAL else {"mode": mode}


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


def test_flip_census_says_where_each_flip_landed() -> None:
    # knife (active), cup (active), plate (inactive), pan (inactive); classes 1-4, 9 absent from the clip
    seq = _sequence(1, "take knife", [("knife", 1, True), ("cup", 2, True), ("plate", 3, False), ("pan", 4, False)])
    flips = {"1": 9, "2": 3, "3": 1, "4": 4}  # knife -> absent; cup -> plate's; plate -> knife's; pan unflipped
    seq.extra[TEXT_NOISE_KEY] = {"objects": {k: {"clean_name": "x", "noisy_class_id": v} for k, v in flips.items()}}
    assert flip_census([seq]) == {"flipped_active": 2, "flipped_inactive": 1, "to_active_class_in_clip": 1,
                                  "to_class_in_clip": 1, "to_absent_class": 1}
    assert flip_census([_sequence(2, "take cup", [("cup", 2, True)])])["flipped_active"] == 0  # no record: clean


def test_narration_census_counts_what_the_narration_check_catches() -> None:
    # "take knife": knife (active) renamed "bowl": caught; cup (active, clean, not narrated): clean but contradicted;
    # plate (inactive) renamed "knife": caught; pan (inactive) renamed "jug": missed, harmlessly; spoon (active)
    # renamed "take": missed, harmfully (the narration has the word); "robot hand": not judged
    seq = _sequence(1, "take knife", [("bowl", 1, True), ("cup", 2, True), ("knife", 3, False), ("jug", 4, False),
                                      ("robot hand", 5, True), ("take", 6, True)])
    flips = {"1": 9, "2": 2, "3": 1, "4": 8, "5": 5, "6": 7}
    seq.extra[TEXT_NOISE_KEY] = {"objects": {k: {"clean_name": "x", "noisy_class_id": v} for k, v in flips.items()}}
    assert narration_census([seq], frozenset({"robot hand"})) == {
        "flipped_contradicted": 2, "flipped_active_missed": 1, "flipped_inactive_missed": 1,
        "clean_contradicted": 1, "hand_named": 1}


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


@pytest.mark.parametrize("mode", MASK_NOISE_MODES)
def test_dilating_one_pixel_with_k3_gives_a_3x3_block(mode):
    label = np.zeros((7, 7), dtype=np.uint8)
    label[3, 3] = 5
    expected = np.zeros_like(label)
    expected[2:5, 2:5] = 5
    np.testing.assert_array_equal(dilate_label_map(label, [5], 3, **_official_or_all(mode, [5])), expected)


@pytest.mark.parametrize("mode", MASK_NOISE_MODES)
def test_k1_is_identity_and_background_stays_zero(mode):
    label = np.zeros((10, 10), dtype=np.uint8)
    label[1:3, 1:3] = 1
    label[6:9, 5:9] = 2
    np.testing.assert_array_equal(dilate_label_map(label, [1, 2], 1, **_official_or_all(mode, [1, 2])), label)
    np.testing.assert_array_equal(dilate_label_map(label, [1, 2], 1, active=[2]), label)  # k = 1: nothing moves
    noisy = dilate_label_map(label, [1, 2], 3, **_official_or_all(mode, [1, 2]))
    assert noisy[9, 0] == 0 and noisy[0, 9] == 0 and noisy[5, 0] == 0


@pytest.mark.parametrize("mode", MASK_NOISE_MODES)
def test_first_hit_order_decides_overlaps_even_over_the_later_objects_own_pixels(mode):
    """Between objects that are both dilated (every object in all_objects, active ones in official)."""
    label = np.zeros((5, 8), dtype=np.uint8)
    label[:, :4] = 1
    label[:, 4:] = 2
    first_one = dilate_label_map(label, [1, 2], 3, **_official_or_all(mode, [1, 2]))
    assert (first_one[:, :5] == 1).all() and (first_one[:, 5:] == 2).all()  # 1 took column 4, object 2's own pixels
    first_two = dilate_label_map(label, [2, 1], 3, **_official_or_all(mode, [1, 2]))
    assert (first_two[:, :3] == 1).all() and (first_two[:, 3:] == 2).all()
    dropped = dilate_label_map(label, [2], 3, **_official_or_all(mode, [2]))
    assert (dropped[:, :3] == 0).all()  # an object outside the order is dropped


@pytest.mark.parametrize("kernel", [1, 3, 5, 9])
def test_all_objects_dilation_matches_the_literal_algorithm(kernel):
    rng = np.random.default_rng(kernel)
    for _ in range(5):
        label = rng.choice(np.array([0, 0, 0, 0, 1, 2, 3, 7], dtype=np.uint8), size=(13, 17))
        order = [int(i) for i in rng.permutation([1, 2, 3, 7])]
        noisy = dilate_label_map(label, order, kernel, mode=ALL_OBJECTS, active=[])  # active is ignored here
        np.testing.assert_array_equal(noisy, reference_alg2(label, order, kernel))


@pytest.mark.parametrize("kernel", [0, 2, -3, 4.0, True])
def test_invalid_kernels_are_refused(kernel):
    with pytest.raises(ActiSegError, match="odd integer"):
        dilate_label_map(np.zeros((3, 3), dtype=np.uint8), [1], kernel, active=[1])


# --- Alg. 2, official mode (the released generator) ---------------------------------------------------------------


def test_official_is_the_default_and_leaves_inactive_objects_undilated():
    label = np.zeros((20, 30), dtype=np.uint8)
    label[5:10, 3:8] = 1  # active
    label[5:10, 8:13] = 2  # inactive, touching 1
    label[14:17, 22:26] = 3  # inactive, far from every active object
    noisy = dilate_label_map(label, [1, 2, 3], 5, active={1})
    np.testing.assert_array_equal(noisy, dilate_label_map(label, [1, 2, 3], 5, active={1}, mode=OFFICIAL))
    assert (noisy == 3).sum() == (label == 3).sum() and ((noisy == 3) == (label == 3)).all()  # 3 exactly as it was
    assert ((noisy == 2) <= (label == 2)).all()  # inactive objects never grow: no background pixel becomes 2
    assert (noisy[3:12, 1:10] == 1).all()  # 1 grew by 2 pixels on every side, over 2's columns 8 and 9
    assert ((noisy == 2) == ((label == 2) & (np.arange(30) >= 10))).all()  # 2 lost exactly those two columns
    everything = dilate_label_map(label, [1, 2, 3], 5, mode=ALL_OBJECTS)  # the extension dilates 2 and 3 too
    assert (everything == 3).sum() > (label == 3).sum() and (everything[5:10, 13:15] == 2).all()


def test_official_active_objects_win_overlaps_even_over_earlier_inactive_objects():
    """An inactive object's pixels next to a dilated active one go to the active one, whatever the object order."""
    label = np.zeros((9, 12), dtype=np.uint8)
    label[2:7, 0:6] = 1  # inactive, FIRST in the order
    label[2:7, 6:12] = 2  # active, second
    noisy = dilate_label_map(label, [1, 2], 3, active=[2])
    assert (noisy[1:8, 5:12] == 2).all()  # column 5, object 1's own pixels next to 2, went to 2
    assert (noisy[2:7, 0:5] == 1).all() and (noisy == 1).sum() == 5 * 5
    assert noisy[1, 0] == 0 and noisy[1, 4] == 0  # the inactive object did not grow
    legacy = dilate_label_map(label, [1, 2], 3, mode=ALL_OBJECTS)  # all_objects: order decides, 1 takes column 6
    assert (legacy[2:7, 6] == 1).all()


def test_official_active_objects_among_themselves_keep_first_hit_order():
    label = np.zeros((5, 10), dtype=np.uint8)
    label[:, 0:3] = 1  # active
    label[:, 3:6] = 2  # inactive, between the two active ones
    label[:, 6:10] = 3  # active
    noisy = dilate_label_map(label, [1, 2, 3], 5, active=[1, 3])
    # of 2's columns 3-5, 1 reaches 3-4 and 3 reaches 4-5: column 4 is both's, the first wins; 2 keeps nothing
    np.testing.assert_array_equal(noisy[0], [1, 1, 1, 1, 1, 3, 3, 3, 3, 3])
    noisy = dilate_label_map(label, [3, 2, 1], 5, active=[1, 3])
    np.testing.assert_array_equal(noisy[0], [1, 1, 1, 1, 3, 3, 3, 3, 3, 3])


@pytest.mark.parametrize("kernel", [1, 3, 5, 9])
def test_official_matches_the_released_procedure(kernel):
    rng = np.random.default_rng(100 + kernel)
    for _ in range(8):
        label = rng.choice(np.array([0, 0, 0, 0, 1, 2, 3, 7, 9], dtype=np.uint8), size=(15, 19))
        order = [int(i) for i in rng.permutation([1, 2, 3, 7, 9])]
        active = {i for i in order if rng.uniform() < 0.5}
        noisy = dilate_label_map(label, order, kernel, active=active)
        np.testing.assert_array_equal(noisy, reference_released_alg2(label, order, active, kernel))


def test_official_mode_needs_the_active_objects_and_modes_are_checked():
    label = np.zeros((4, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match="active"):
        dilate_label_map(label, [1], 3)
    with pytest.raises(ValueError, match="not in the object order"):
        dilate_label_map(label, [1], 3, active=[2])
    with pytest.raises(ActiSegError, match="mask noise mode must be one of official, all_objects"):
        dilate_label_map(label, [1], 3, active=[1], mode="dilate_everything")
    assert (DEFAULT_MASK_NOISE_MODE, DEFAULT_TEXT_NOISE_MODE) == (OFFICIAL, FLIP_ONLY)


# --- severity -----------------------------------------------------------------------------------------------------


def test_severity_of_a_hand_computed_case():
    clean = np.zeros((8, 8), dtype=np.uint8)
    clean[2:4, 2:4] = 1  # 4 pixels -> dilated 4x4 = 16: IoU 4/16
    clean[7, 7] = 2  # 1 corner pixel -> dilated 3x3 clipped by the border = 2x2: IoU 1/4
    noisy = dilate_label_map(clean, [1, 2, 3], 3, mode=ALL_OBJECTS)
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


@pytest.mark.parametrize("mode", TEXT_NOISE_MODES)
def test_rate_zero_never_flips_and_keeps_the_class(mode):
    rng = np.random.default_rng(1)
    for _ in range(200):
        name, cid, flipped = noisy_name(10, CLASSES, 0.0, rng, clean_name="container", mode=mode)
        assert not flipped and cid == 10 and name in CLASSES[10].names
        assert mode == FLIP_OR_SYNONYM or name == "container"


@pytest.mark.parametrize("mode", TEXT_NOISE_MODES)
def test_rate_one_always_flips_to_another_class_uniformly(mode):
    rng = np.random.default_rng(2)
    seen = set()
    for _ in range(300):
        name, cid, flipped = noisy_name(10, CLASSES, 1.0, rng, clean_name="container", mode=mode)
        assert flipped and cid != 10 and name in CLASSES[cid].names
        seen.add(cid)
    assert seen == {20, 30, 40}


@pytest.mark.parametrize("mode", TEXT_NOISE_MODES)
@pytest.mark.parametrize("rate", [0.2, 0.4, 0.6])
def test_empirical_flip_rate_matches_rho(rate, mode):
    rng = np.random.default_rng(3)
    draws = 4000  # binomial sd <= 0.008, so 0.04 is five sd
    flips = sum(noisy_name(30, CLASSES, rate, rng, clean_name="left hand", mode=mode)[2] for _ in range(draws))
    assert abs(flips / draws - rate) < 0.04


def test_bad_rates_modes_and_class_maps_are_refused():
    rng = np.random.default_rng(0)
    for rate in (-0.1, 1.5, float("nan")):
        with pytest.raises(ActiSegError, match=r"\[0, 1\]"):
            noisy_name(10, CLASSES, rate, rng, clean_name="container")
    with pytest.raises(ActiSegError, match="at least 2 classes"):
        noisy_name(10, {10: CLASSES[10]}, 0.2, rng, clean_name="container")
    with pytest.raises(ActiSegError, match="class id 99"):
        noisy_name(99, CLASSES, 0.2, rng, clean_name="container")
    with pytest.raises(ActiSegError, match="text noise mode must be one of flip_only, flip_or_synonym"):
        noisy_name(10, CLASSES, 0.2, rng, clean_name="container", mode="synonyms")
    with pytest.raises(ActiSegError, match="text noise mode must be one of"):
        corrupt_names([], CLASSES, 0.2, seed=0, mode="synonyms")
    with pytest.raises(ValueError, match="clean_name"):
        noisy_name(10, CLASSES, 0.2, rng)  # flip_only keeps the clean name, so it must be given


@pytest.mark.parametrize("mode", TEXT_NOISE_MODES)
def test_corrupt_names_is_deterministic_nested_and_keeps_true_classes(root, mode):
    sequences = read_image_set(root, "train")
    low = corrupt_names(sequences, CLASSES, 0.4, seed=7, mode=mode)
    assert [s.to_json() for s in low] == [s.to_json() for s in corrupt_names(sequences, CLASSES, 0.4, 7, mode)]
    high = corrupt_names(sequences, CLASSES, 0.9, seed=7, mode=mode)
    for clean, lo, hi in zip(sequences, low, high, strict=True):
        assert lo.narration == clean.narration  # Alg. 1 changes the object name, never the narration
        assert lo.extra[TEXT_NOISE_KEY]["mode"] == mode and lo.extra[TEXT_NOISE_KEY]["rate"] == 0.4
        assert {i: o.class_id for i, o in lo.objects.items()} == {i: o.class_id for i, o in clean.objects.items()}
        for index, obj in lo.objects.items():
            entry = lo.extra[TEXT_NOISE_KEY]["objects"][str(index)]
            assert entry["clean_name"] == clean.objects[index].name
            assert obj.name in CLASSES[entry["noisy_class_id"]].names
            if entry["noisy_class_id"] != obj.class_id:  # flipped at 0.4 -> flipped the same way at 0.9
                assert hi.extra[TEXT_NOISE_KEY]["objects"][str(index)] == entry
                assert hi.objects[index].name == obj.name
    assert corrupt_names(sequences, CLASSES, 0.0, seed=7, mode=mode)[0].objects == sequences[0].objects
    assert sequences == read_image_set(root, "train")  # inputs untouched


def _many_objects(count: int) -> list[Sequence]:
    """``count`` sequences of one object each, cycling through every class and every name of it."""
    names = [(name, cid) for cid, cls in sorted(CLASSES.items()) for name in cls.names]
    return [
        _sequence(i, "take thing", [(names[i % len(names)][0], names[i % len(names)][1], bool(i % 2))])
        for i in range(count)
    ]


def test_official_alg1_never_renames_within_the_class():
    """flip_only (the default): an object keeps its name verbatim or has its class flipped, never a synonym."""
    many = _many_objects(3000)
    flips = 0
    for clean, noisy in zip(many, corrupt_names(many, CLASSES, 0.5, seed=11), strict=True):
        (obj,) = noisy.objects.values()
        (clean_obj,) = clean.objects.values()
        noisy_class = noisy.extra[TEXT_NOISE_KEY]["objects"]["1"]["noisy_class_id"]
        assert noisy.narration == clean.narration == "take thing"
        if noisy_class == clean_obj.class_id:
            assert obj.name == clean_obj.name  # unflipped: verbatim
        else:
            flips += 1
            assert obj.name in CLASSES[noisy_class].names  # flipped: a name of the class it was flipped to
            assert obj.name not in CLASSES[clean_obj.class_id].names
    assert noisy.extra[TEXT_NOISE_KEY]["mode"] == FLIP_ONLY
    assert abs(flips / 3000 - 0.5) < 0.04
    # the extension does rename unflipped objects within their class
    synonyms = corrupt_names(many, CLASSES, 0.5, seed=11, mode=FLIP_OR_SYNONYM)
    _, renamed, flipped = count_flips(synonyms)
    assert renamed > flipped + 300


@pytest.mark.parametrize("rate", [0.2, 0.4, 0.6])
def test_official_alg1_rates_match_rho_over_many_objects(rate):
    many = _many_objects(4000)
    objects, renamed, flipped = count_flips(corrupt_names(many, CLASSES, rate, seed=5))
    assert objects == 4000 and renamed == flipped  # flip_only: a name changes exactly when its class flips
    assert abs(flipped / objects - rate) < 0.04  # binomial sd <= 0.008: five sd
    flipped_to = Counter(
        seq.extra[TEXT_NOISE_KEY]["objects"]["1"]["noisy_class_id"]
        for seq in corrupt_names(many, CLASSES, rate, seed=5)
        if seq.extra[TEXT_NOISE_KEY]["objects"]["1"]["noisy_class_id"] != seq.objects[1].class_id
    )
    assert set(flipped_to) == set(CLASSES)  # every class is a flip target


def test_alg1_is_deterministic_per_seed_and_both_modes_flip_the_same_objects_the_same_way():
    many = _many_objects(400)
    first = corrupt_names(many, CLASSES, 0.4, seed=3)
    assert [s.to_json() for s in first] == [s.to_json() for s in corrupt_names(many, CLASSES, 0.4, seed=3)]
    other_seed = corrupt_names(many, CLASSES, 0.4, seed=4)
    assert [s.to_json() for s in first] != [s.to_json() for s in other_seed]
    synonyms = corrupt_names(many, CLASSES, 0.4, seed=3, mode=FLIP_OR_SYNONYM)
    for official, extension in zip(first, synonyms, strict=True):
        entry = official.extra[TEXT_NOISE_KEY]["objects"]["1"]
        if entry["noisy_class_id"] != official.objects[1].class_id:
            assert extension.extra[TEXT_NOISE_KEY]["objects"]["1"] == entry
            assert extension.objects[1].name == official.objects[1].name


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
            order = sorted(clean.objects)
            active = {i for i in order if clean.objects[i].positive}
            expected = reference_released_alg2(clean_map, order, active, 3)  # the official mode is the default
            noisy_map = read_label_png(annotation_path(out, "train", noisy, frame))
            np.testing.assert_array_equal(noisy_map, expected)
            for index in set(order) - active:  # inactive objects are never dilated
                assert ((noisy_map == index) <= (clean_map == index)).all()
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["mask_kernel"] == 3 and manifest["frames"] == 4 and manifest["classes_flipped"] == 5
    census = manifest["flip_census"]
    assert census["flipped_active"] + census["flipped_inactive"] == 5 == sum(census.values()) - 5
    assert manifest["mask_noise_mode"] == OFFICIAL and manifest["text_noise_mode"] == FLIP_ONLY
    assert all(s.extra[TEXT_NOISE_KEY]["mode"] == FLIP_ONLY for s in noisy_seqs)
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


def test_noisy_view_in_the_extension_modes_records_them(root, tmp_path):
    out = make_noisy_view(
        root, "train", tmp_path / "view", 0.5, 3, seed=5, progress=False,
        text_mode=FLIP_OR_SYNONYM, mask_mode=ALL_OBJECTS,
    )  # fmt: skip
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["mask_noise_mode"] == ALL_OBJECTS and manifest["text_noise_mode"] == FLIP_OR_SYNONYM
    clean_seqs = read_image_set(root, "train")
    expected_names = corrupt_names(clean_seqs, CLASSES, 0.5, seed=5, mode=FLIP_OR_SYNONYM)
    assert [s.to_json() for s in read_image_set(out, "train")] == [s.to_json() for s in expected_names]
    for seq in clean_seqs:
        for frame in seq.sparse_frames:
            clean_map = read_label_png(annotation_path(root, "train", seq, frame))
            expected = reference_alg2(clean_map, sorted(seq.objects), 3)
            np.testing.assert_array_equal(read_label_png(annotation_path(out, "train", seq, frame)), expected)
    with pytest.raises(ActiSegError, match="mask noise mode"):
        make_noisy_view(root, "train", tmp_path / "bad", 0.0, 3, seed=5, progress=False, mask_mode="everything")
    with pytest.raises(ActiSegError, match="text noise mode"):
        make_noisy_view(root, "train", tmp_path / "bad", 0.2, 0, seed=5, progress=False, text_mode="synonym")
    assert not (tmp_path / "bad").exists()


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
    assert "| 9x9 | official |" in (out_dir / "noise_severity.md").read_text()
    assert "Alg. 2 mode `official`" in (out_dir / "noise_severity.md").read_text()
    assert "Alg. 1 mode `flip_only`" in (out_dir / "noise_category_shift.md").read_text()
    assert data["mask_noise_mode"] == OFFICIAL and data["text_noise_mode"] == FLIP_ONLY
    assert all(f["names_changed"] == f["classes_flipped"] for f in data["flips"].values())
    assert (out_dir / "noise_severity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_noise_report_states_its_modes_and_official_spares_the_inactive_objects(root, tmp_path):
    kwargs = {"seed": 3, "kernels": (3, 5), "rates": (0.6,), "progress": False}
    official = write_noise_report(root, "train", tmp_path / "official", **kwargs)
    extension = write_noise_report(
        root, "train", tmp_path / "extension", **kwargs, text_mode=FLIP_OR_SYNONYM, mask_mode=ALL_OBJECTS
    )
    assert (extension["mask_noise_mode"], extension["text_noise_mode"]) == (ALL_OBJECTS, FLIP_OR_SYNONYM)
    assert "| 5x5 | all_objects |" in (tmp_path / "extension" / "noise_severity.md").read_text()
    assert "Alg. 1 mode `flip_or_synonym`" in (tmp_path / "extension" / "noise_category_shift.md").read_text()
    for k in ("3", "5"):
        ours, theirs = official["severity"][k], extension["severity"][k]
        assert ours["negative"]["mIoU"] > theirs["negative"]["mIoU"]  # inactive objects are not dilated
    flips = official["flips"]["rho=0.6"]
    assert flips == {**extension["flips"]["rho=0.6"], "names_changed": flips["names_changed"]}  # same flips
    assert extension["flips"]["rho=0.6"]["names_changed"] >= flips["names_changed"]


# --- the modes through the command lines and the benchmark runner -------------------------------------------------


def test_actiseg_data_takes_the_modes_and_refuses_bad_ones_in_one_line(root, tmp_path, capsys):
    from actiseg_core.data_cli import main

    out = tmp_path / "view"
    argv = ["corrupt", "--root", str(root), "--out", str(out), "--text-rate", "0.5", "--mask-kernel", "3"]
    assert main([*argv, "--text-noise-mode", "flip_or_synonym", "--mask-noise-mode", "all_objects"]) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert (manifest["text_noise_mode"], manifest["mask_noise_mode"]) == (FLIP_OR_SYNONYM, ALL_OBJECTS)
    assert main(argv) == 0  # the defaults: the released generators' modes
    manifest = json.loads((out / MANIFEST).read_text())
    assert (manifest["text_noise_mode"], manifest["mask_noise_mode"]) == (FLIP_ONLY, OFFICIAL)
    capsys.readouterr()
    report = ["noise-report", "--root", str(root), "--out", str(tmp_path / "report")]
    for bad in (
        [*argv, "--mask-noise-mode", "everything"],
        [*argv, "--text-noise-mode", "synonyms"],
        [*report, "--mask-noise-mode", "dilate"],
        [*report, "--text-noise-mode", "flip"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(bad)
        assert exited.value.code == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert "invalid choice" in line and ("--mask-noise-mode" in line or "--text-noise-mode" in line)
    assert not (tmp_path / "report").exists()


def test_the_benchmark_runner_threads_the_modes_into_views_cells_and_tables(root, tmp_path, capsys):
    from benchmarks.nl import runner
    from benchmarks.nl.runner import CONDITION_BY_KEY, Cell, Protocol

    def identity(key: str, **modes: str) -> dict:
        cell = Cell(CONDITION_BY_KEY[key], "baseline", 0)
        config = runner.train_config(cell, Protocol(steps=10), Path(), Path(), 0, "cpu", False)
        return runner.cell_identity(cell, config, 0, {"train": "a"}, **modes)

    legacy = {"text_mode": FLIP_OR_SYNONYM, "mask_mode": ALL_OBJECTS}
    assert identity("clean") == identity("clean", **legacy) and "mask_noise_mode" not in identity("clean")
    assert identity("name60+mask21")["text_noise_mode"] == FLIP_ONLY
    assert identity("name60+mask21")["mask_noise_mode"] == OFFICIAL
    assert "text_noise_mode" not in identity("mask9") and identity("mask9")["mask_noise_mode"] == OFFICIAL
    old = identity("name60+mask21", **legacy)  # cells made before modes existed keep their hashes
    assert "text_noise_mode" not in old and "mask_noise_mode" not in old
    hashes = {
        runner.identity_hash(identity("name60+mask21", text_mode=t, mask_mode=m))
        for t in TEXT_NOISE_MODES
        for m in MASK_NOISE_MODES
    }
    assert len(hashes) == 4

    condition = CONDITION_BY_KEY["name60+mask21"]
    default = runner.noisy_view(root, tmp_path / "bench", condition, 0, "abcdef0123", False)
    assert default.name == "name60+mask21-noise0-abcdef01"  # the default modes: the view's name as before
    made = (default / MANIFEST).stat().st_mtime_ns
    assert runner.noisy_view(root, tmp_path / "bench", condition, 0, "abcdef0123", False) == default
    assert (default / MANIFEST).stat().st_mtime_ns == made  # reused, not rebuilt
    extension = runner.noisy_view(root, tmp_path / "bench", condition, 0, "abcdef0123", False, *legacy.values())
    assert extension.name == "name60+mask21-flip_or_synonym-all_objects-noise0-abcdef01"  # never overwrites it
    summaries = {view: runner._noise_summary(view) for view in (default, extension)}
    assert (summaries[default]["text_noise_mode"], summaries[default]["mask_noise_mode"]) == (FLIP_ONLY, OFFICIAL)
    assert summaries[extension]["mask_noise_mode"] == ALL_OBJECTS
    assert summaries[default]["names_changed"] == summaries[default]["classes_flipped"]
    line = runner.noise_line([{"condition": condition.key, "noise": summaries[default]}], condition)
    assert "to another class) (flip_only)" in line and line.endswith("(official).")

    parser = runner.build_parser()
    base = ["--data", str(root), "--out", str(tmp_path / "bench")]
    settings = runner.settings_from_args(parser.parse_args([*base, "--text-noise-mode", "flip_or_synonym"]))
    assert (settings.text_noise_mode, settings.mask_noise_mode) == (FLIP_OR_SYNONYM, OFFICIAL)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        runner.main([*base, "--mask-noise-mode", "bogus"])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--mask-noise-mode: invalid choice: 'bogus'" in line
