"""Training data: action-guided weights, per-query targets, batching, flips, prompt cache and data hash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from actiseg_core.data.layout import ObjectInfo
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.data.split_info import hand_class_ids, load_split, split_hash
from actiseg_core.errors import DataError
from actiseg_core.prompts import build_prompt, normalise_text
from training import data as training_data
from training.data import FrameDataset, PromptTable, action_weights, collate, split_prompts

FIXTURE = Path(__file__).parent / "fixtures" / "visor_mini"
SIZE = (48, 80)


def _objects() -> dict[int, ObjectInfo]:
    return {
        1: ObjectInfo(1, "right hand", 301, positive=True, handbox=True),
        2: ObjectInfo(2, "fridge", 12, positive=True, narration=True),
        3: ObjectInfo(3, "soy milk", 64, positive=False),
        4: ObjectInfo(4, "cup", 5, positive=True, handbox=True),  # active through the hand box only
    }


def test_action_weights_follow_the_weights_sparse_rule() -> None:
    labels = np.zeros((10, 12), dtype=np.uint8)
    labels[2:4, 2:5] = 1  # hand
    labels[3:6, 4:9] = 2  # narration object, painted over the hand at (3, 4): its only pixel in the hand's box
    labels[8, 0:3] = 3  # inactive object
    labels[8, 6:9] = 4  # active, neither hand nor narration
    weights = action_weights(labels, _objects(), frozenset({301}))
    assert weights[0, 0] == 1 and weights[8, 7] == 1  # other pixels, and an "other" object
    assert (weights[labels == 1] == 2).all()  # hand
    assert (weights[8, 0:3] == 5).all()  # inactive: 3, raised to 5
    assert weights[3, 4] == 5  # narration object inside the hand's box: 4, raised to 5
    assert (weights[4:6, 4:9] == 2).all() and (weights[3, 5:9] == 2).all()  # narration object outside the box


def test_hands_are_visor_hand_classes_or_the_gripper_class(tmp_path: Path) -> None:
    visor = ActionVOSDataset(FIXTURE, "val")
    assert hand_class_ids(visor) == frozenset(range(300, 305))  # class id 1 is no hand in VISOR
    root = tmp_path / "sim"
    shutil.copytree(FIXTURE, root)
    classes = {"classes": [{"class_id": 1, "class": "gripper", "names": ["gripper", "robot hand"]},
                           {"class_id": 21, "class": "container", "names": ["food container"]}]}
    (root / "ImageSets" / "classes.json").write_text(json.dumps(classes))
    assert 1 in hand_class_ids(ActionVOSDataset(root, "val"))


@pytest.fixture(scope="module")
def frames() -> FrameDataset:
    source = load_split(FIXTURE, "val")
    prompts = split_prompts(source)
    table = PromptTable(list(dict.fromkeys(prompts)), torch.randn(len(set(prompts)), 384))
    return FrameDataset(source, SIZE, table, hand_class_ids(source))


def test_frame_item_targets_weights_and_query_ids(frames: FrameDataset) -> None:
    item = frames.item(0, epoch=0)  # seq 4: 1 food container (inactive), 2 fridge, 3 right hand, 4 soy milk (inactive)
    cached = frames.frame(0)
    assert item.image.shape == (3, *SIZE) and item.image.dtype == torch.uint8
    assert item.targets.shape == (4, *SIZE) and item.positives.tolist() == [False, True, True, False]
    labels = torch.from_numpy(cached.labels)
    for k, index in enumerate([1, 2, 3, 4]):
        mask = labels == index
        assert torch.equal(item.targets[k], mask & item.positives[k])  # inactive objects: all-zero target
        expected = torch.where(mask, torch.from_numpy(cached.weights).long(), 1)  # own pixels only, 1 elsewhere
        assert torch.equal(item.weights[k].long(), expected)
    assert item.targets[0].sum() == 0 and (item.weights[0][labels == 1] == 5).all()  # inactive: 5 on its pixels
    assert item.targets[1].sum() > 0
    source = frames.source
    assert [source.queries[i].obj.index for i in item.query_ids.tolist()] == [1, 2, 3, 4]
    assert frames.item(2, 0).query_ids.tolist() == [8, 9, 10, 11]
    torch.testing.assert_close(item.text_embeddings, frames.prompts.embeddings[frames.prompt_rows[0][:, 0]])
    assert not item.narration_contradicted.any()  # clean labels agree with their narration


def test_collate_flattens_queries_with_their_frame_index(frames: FrameDataset) -> None:
    batch = collate([frames.item(1, 0), frames.item(3, 0)])
    assert batch.images.shape == (2, 3, *SIZE) and batch.images.max() <= 1.0
    assert batch.frame_index.tolist() == [0] * 4 + [1] * 4
    assert batch.targets.shape == batch.weights.shape == (8, 1, *SIZE)
    assert batch.text_embeddings.shape == (8, 384) and batch.frame_ids.tolist() == [1, 3]
    assert batch.narration_contradicted is not None and batch.narration_contradicted.shape == (8,)


def test_a_renamed_active_object_contradicts_its_narration(tmp_path: Path) -> None:
    root = tmp_path / "renamed"
    shutil.copytree(FIXTURE, root)
    image_set = root / "ImageSets" / "val.json"
    sequences = json.loads(image_set.read_text())
    objects = sequences[0]["object_classes"]  # "close fridge": food container, fridge, right hand, soy milk
    objects["2"]["name"], objects["1"]["name"], objects["3"]["name"] = "knife", "fridge", "left hand"
    image_set.write_text(json.dumps(sequences))
    source = load_split(root, "val")
    prompts = list(dict.fromkeys(split_prompts(source)))
    frames = FrameDataset(source, SIZE, PromptTable(prompts, torch.zeros(len(prompts), 384)), hand_class_ids(source))
    # the active fridge renamed knife, and the inactive container renamed fridge: contradicted; the hand renamed to
    # another hand's name is not judged; the soy milk is untouched
    assert frames.item(0, 0).narration_contradicted.tolist() == [True, True, False, False]


def test_name_embedding_appends_each_objects_name_embedding(frames: FrameDataset) -> None:
    source = frames.source
    texts = list(dict.fromkeys(split_prompts(source, name_embedding=True)))
    table = PromptTable(texts, torch.randn(len(texts), 384, generator=torch.Generator().manual_seed(0)))
    named = FrameDataset(source, SIZE, table, frames.hand_ids, name_embedding=True)
    objects = [obj for _, obj in sorted(source.frames[0].sequence.objects.items())]
    narration = source.frames[0].sequence.narration
    expected = torch.stack([torch.cat([table.embeddings[table.rows[build_prompt(obj.name, narration)]],
                                       table.embeddings[table.rows[normalise_text(obj.name)]]]) for obj in objects])
    torch.testing.assert_close(named.item(0, 0).text_embeddings, expected)


def test_hflip_is_a_function_of_seed_epoch_and_frame(frames: FrameDataset) -> None:
    flipping = FrameDataset(frames.source, SIZE, frames.prompts, frames.hand_ids, hflip=True, seed=3)
    flips = []
    for epoch in range(8):
        item = flipping.item(0, epoch)
        plain = frames.item(0, epoch)
        flipped = torch.equal(item.targets, plain.targets.flip(-1))
        assert flipped or torch.equal(item.targets, plain.targets)
        if flipped:
            assert torch.equal(item.image, plain.image.flip(-1)) and torch.equal(item.weights, plain.weights.flip(-1))
        assert torch.equal(item.targets, flipping.item(0, epoch).targets)  # same (seed, epoch, frame) -> same flip
        flips.append(flipped)
    assert any(flips) and not all(flips)


def test_prompt_cache_is_reused_without_the_text_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEncoder:
        calls: list[list[str]] = []

        def encode(self, prompts: list[str]) -> torch.Tensor:
            self.calls.append(prompts)
            return torch.stack([torch.full((384,), float(len(p))) for p in prompts])

    encoder = FakeEncoder()
    monkeypatch.setattr(training_data, "_text_encoder", lambda: encoder)
    cache = tmp_path / "prompts.pt"
    first = PromptTable.build(["a", "bb", "a"], cache)
    assert first.prompts == ["a", "bb"] and encoder.calls == [["a", "bb"]]
    second = PromptTable.build(["bb", "ccc"], cache)
    assert encoder.calls[-1] == ["ccc"]  # only the new prompt is embedded
    torch.testing.assert_close(second.embeddings[0], first.embeddings[1])
    PromptTable.build(["ccc", "a"], cache)
    assert len(encoder.calls) == 2  # everything cached: the text model is not needed
    cache.write_bytes(b"garbage")
    PromptTable.build(["a"], cache)
    assert encoder.calls[-1] == ["a"]  # a damaged cache is recomputed, not fatal


def test_split_hash_tracks_the_image_set_and_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    before = split_hash(ActionVOSDataset(root, "val"))
    assert before == split_hash(ActionVOSDataset(root, "val"))
    mask = next((root / "Annotations_Sparse" / "val").rglob("*.png"))
    mask.write_bytes(mask.read_bytes() + b"\0")
    assert split_hash(ActionVOSDataset(root, "val")) != before


def test_a_split_without_frames_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "ImageSets").mkdir()
    (tmp_path / "ImageSets" / "train.json").write_text("[]")
    with pytest.raises(DataError, match="has no frames"):
        load_split(tmp_path, "train")
