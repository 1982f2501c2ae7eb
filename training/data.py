"""Training data: frames of an ActionVOS-layout split as batches of object queries, cached in memory.

One item is one FRAME with all K objects of its sequence as queries (visible or not, active or not, as ActionVOS
evaluates them), so the image encoder runs once per frame and the decoder over its K queries. Per query:

- prompt embedding: precomputed once per unique prompt with the frozen MiniLM encoder and kept in a table (and a
  file cache in the run folder, so a resumed run or a second DDP rank does not load the text model again);
- target: the object's mask AND its positive flag, so an inactive object has an all-zero target (ActionVOS);
- whether its label contradicts the narration (``prompts.contradicts_narration``, for ``mention_select``);
- pixel weights: ActionVOS's action-guided weights (see :func:`action_weights`), applied per query as ActionVOS's
  loader does (``RF_ActionVOS/actionvos.py``): the frame's weight on the query object's own pixels, 1 elsewhere.

Frames are decoded and resized once (bilinear for images, nearest for labels) and kept in memory: the default
train split (~1,600 frames at 240x320) is ~0.6 GB, and every epoch after the first costs no JPEG/PNG decoding.

Learners that need a second, "strong" view of each frame (NPN's weak -> strong consistency) get one from
:func:`strong_photometric`: colour and noise only, no geometry, so its pixels line up with the plain view's.
"""

from __future__ import annotations

import functools
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from tqdm import tqdm

from actiseg_core.data.classes import load_class_map
from actiseg_core.data.layout import ObjectInfo, atomic_write_bytes
from actiseg_core.data.loader import ActionVOSDataset, FrameRef
from actiseg_core.data.split_info import hand_names
from actiseg_core.learners.base import QueryBatch
from actiseg_core.model import TextEncoder, build_text_encoder
from actiseg_core.prompts import contradicts_narration, query_texts
from training.augment import Augmenter, colour_jitter

#: ActionVOS raises weights 3 and 4 to 5 "by statistic of the training set" (RF_ActionVOS/actionvos.py).
RAISED_WEIGHT = 5
TEXT_ENCODER_NAME = "all-MiniLM-L6-v2"
_STRONG_VIEW_STREAM = 1  # seeds the strong view's draws apart from the flip's, for the same (seed, epoch, frame)
_AUGMENT_STREAM = 2  # and the augmentation's


def action_weights(labels: np.ndarray, objects: dict[int, ObjectInfo], hand_ids: frozenset[int]) -> np.ndarray:
    """ActionVOS ``Weights_Sparse`` of one frame (DESIGN §6), with weights >= 3 raised to 5.

    1 other pixels; 2 hand OR narration object; 3 inactive object (its target is zeroed); 4 hand AND narration
    object = narration-object pixels inside the bounding box of a hand object, as ``data_prepare_visor.py`` doubles
    the narration weight inside hand boxes. An inactive object keeps 3 even if it is a hand or narrated: its target
    is empty, and the weight is there to punish segmenting it.
    """
    lut = np.ones(256, dtype=np.uint8)
    narrated = np.zeros(256, dtype=bool)
    hands = []
    for index, obj in objects.items():
        if not obj.positive:
            lut[index] = 3
        elif obj.class_id in hand_ids or obj.narration:
            lut[index] = 2
            narrated[index] = obj.narration
            if obj.class_id in hand_ids:
                hands.append(index)
    weights = lut[labels]
    hand_box = np.zeros(labels.shape, dtype=bool)
    for index in hands:
        rows, cols = np.nonzero(labels == index)
        if len(rows):
            hand_box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
    weights[narrated[labels] & hand_box] = 4
    weights[weights >= 3] = RAISED_WEIGHT
    return weights


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 HxWx3 -> the model input size (H, W) with PIL's bilinear filter, which antialiases when shrinking.

    The one resize of training and evaluation; a deployment runtime should resize the same way: OpenCV's
    INTER_LINEAR does not antialias (measured on an ActiSeg-Sim frame, 854x480 -> 320x240: mean 2.7, max 56 grey
    levels of difference; INTER_AREA is closer, mean 1.7).
    """
    height, width = size
    return np.array(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))


def resize_labels(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 label (or weight) map -> (H, W), nearest, so no pixel gets a value that is not an object index."""
    height, width = size
    return np.array(Image.fromarray(labels).resize((width, height), Image.Resampling.NEAREST))


def strong_photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A strongly distorted copy of a uint8 HxWx3 image: brightness, contrast, saturation (sometimes grey), noise.

    Photometric only (FixMatch-style "strong" augmentation without its geometric operations), because pixel-level
    consistency compares the two views pixel by pixel. Ranges: brightness and contrast x0.6..1.4, saturation
    x0.4..1.6 or grey (p 0.2), Gaussian noise sigma 0..0.05 of the range.
    """
    pixels = colour_jitter(image.astype(np.float32) / 255.0, rng, 0.4, (0.4, 1.6), 0.2)
    pixels = pixels + rng.normal(0.0, rng.uniform(0.0, 0.05), pixels.shape).astype(np.float32)
    return (np.clip(pixels, 0.0, 1.0) * 255.0).round().astype(np.uint8)


@functools.cache
def _text_encoder() -> TextEncoder:
    """One frozen text encoder per process, loaded only when a prompt is missing from the cache (seconds)."""
    return build_text_encoder()


class PromptTable:
    """Unique prompts -> rows of one [P, D] embedding tensor, computed once with the frozen text encoder."""

    def __init__(self, prompts: list[str], embeddings: Tensor) -> None:
        self.prompts = prompts
        self.embeddings = embeddings
        self.rows = {prompt: row for row, prompt in enumerate(prompts)}

    @classmethod
    def build(cls, prompts: list[str], cache: Path | None = None) -> PromptTable:
        """Embed the unique ``prompts``; ``cache`` (a file) supplies known embeddings and receives new ones.

        The text model is loaded only if some prompt is not in the cache.
        """
        known: dict[str, Tensor] = {}
        if cache is not None and cache.is_file():
            try:
                stored = torch.load(cache, map_location="cpu", weights_only=True)
                if stored.get("encoder") == TEXT_ENCODER_NAME:
                    known = dict(zip(stored["prompts"], stored["embeddings"], strict=True))
            except Exception:  # a damaged cache is only a cache: recompute it
                known = {}
        unique = list(dict.fromkeys(prompts))
        missing = [prompt for prompt in unique if prompt not in known]
        if missing:
            known.update(zip(missing, _text_encoder().encode(missing), strict=True))
            if cache is not None:
                buffer = io.BytesIO()
                everything = sorted(known)
                torch.save({"encoder": TEXT_ENCODER_NAME, "prompts": everything,
                            "embeddings": torch.stack([known[p] for p in everything])}, buffer)
                atomic_write_bytes(cache, buffer.getvalue())
        return cls(unique, torch.stack([known[prompt] for prompt in unique]).float())


def split_prompts(dataset: ActionVOSDataset, name_embedding: bool = False) -> list[str]:
    """Every text a split's queries are embedded from (:func:`query_texts`), in query order."""
    return [text for query in dataset.queries
            for text in query_texts(query.obj.name, query.narration, with_name=name_embedding)]


@dataclass
class CachedFrame:
    """A frame at the model input size: image [H, W, 3], labels [H, W] and raised action weights [H, W], uint8."""

    image: np.ndarray
    labels: np.ndarray
    weights: np.ndarray


@dataclass
class FrameItem:
    """One frame and its K queries, ready for :func:`collate`."""

    image: Tensor  # [3, H, W] uint8
    targets: Tensor  # [K, H, W] bool
    weights: Tensor  # [K, H, W] uint8
    positives: Tensor  # [K] bool
    text_embeddings: Tensor  # [K, D]
    query_ids: Tensor  # [K] int64
    frame_id: int
    narration_contradicted: Tensor  # [K] bool, see QueryBatch
    strong_image: Tensor | None = None  # [3, H, W] uint8, with ``strong_view`` only


class FrameDataset:
    """Frames of one split with their object queries, resized to ``input_size`` and cached after first use.

    ``hflip`` flips half of the frames of an epoch (image, labels, weights together); ``augment`` then applies
    :mod:`training.augment` (pasting from another frame of the split); ``strong_view`` adds a
    :func:`strong_photometric` copy of the result. Every draw is a function of (seed, epoch, frame), so a resumed
    run sees exactly what an uninterrupted one would.
    """

    def __init__(self, source: ActionVOSDataset, input_size: tuple[int, int], prompts: PromptTable,
                 hand_ids: frozenset[int], hflip: bool = False, seed: int = 0, strong_view: bool = False,
                 augment: Augmenter | None = None, name_embedding: bool = False) -> None:
        self.source = source
        self.input_size = input_size
        self.hand_ids = hand_ids
        self.hflip = hflip
        self.seed = seed
        self.strong_view = strong_view
        self.augment = augment
        self._cache: list[CachedFrame | None] = [None] * len(source.frames)
        self.objects: list[list[ObjectInfo]] = [[obj for _, obj in sorted(ref.sequence.objects.items())]
                                                for ref in source.frames]
        self.first_query = np.cumsum([0] + [len(objs) for objs in self.objects])[:-1].tolist()
        self.prompt_rows = [torch.tensor([[prompts.rows[text] for text in query_texts(
            obj.name, ref.sequence.narration, with_name=name_embedding)] for obj in objs])
            for ref, objs in zip(source.frames, self.objects, strict=True)]  # [K, texts per query] per frame
        self.prompts = prompts
        hands = hand_names(load_class_map(source.root, source.sequences))
        self.contradicted = [torch.tensor([contradicts_narration(ref.sequence.narration, obj.name, obj.positive, hands)
                                           for obj in objs]) for ref, objs in zip(source.frames, self.objects,
                                                                                   strict=True)]

    def __len__(self) -> int:
        return len(self.source.frames)

    @property
    def refs(self) -> list[FrameRef]:
        return self.source.frames

    def frame(self, index: int) -> CachedFrame:
        """The cached frame, decoding and resizing it on first use."""
        cached = self._cache[index]
        if cached is None:
            ref = self.source.frames[index]
            labels = self.source.load_labels(ref)
            weights = action_weights(labels, ref.sequence.objects, self.hand_ids)
            cached = CachedFrame(resize_image(self.source.load_image(ref), self.input_size),
                                 resize_labels(labels, self.input_size), resize_labels(weights, self.input_size))
            self._cache[index] = cached
        return cached

    def preload(self, workers: int = 1, progress: bool = True) -> None:
        """Decode every frame now, on ``workers`` threads (PIL releases the GIL while decoding)."""
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            jobs = pool.map(self.frame, range(len(self)))
            for _ in tqdm(jobs, total=len(self), desc=f"caching {self.source.split}", unit="frame",
                          disable=not progress, leave=False):
                pass

    def text_embeddings(self, index: int) -> Tensor:
        """[K, D] text inputs of the frame's queries: each query's text embeddings, concatenated."""
        return self.prompts.embeddings[self.prompt_rows[index]].flatten(1)

    def item(self, index: int, epoch: int) -> FrameItem:
        cached = self.frame(index)
        image, labels, weights = cached.image, cached.labels, cached.weights
        if self.hflip and np.random.default_rng([self.seed, epoch, index]).random() < 0.5:
            image, labels, weights = image[:, ::-1], labels[:, ::-1], weights[:, ::-1]
        objects = self.objects[index]
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, epoch, index, _AUGMENT_STREAM])
            donor_index = int(rng.integers(len(self)))
            donor = None if donor_index == index else self.frame(donor_index)
            image, labels, weights = self.augment(
                image, labels, weights, [obj.index for obj in objects if obj.positive],
                None if donor is None else (donor.image, donor.labels), rng)
        labels_t = torch.from_numpy(np.ascontiguousarray(labels)).long()
        indices = torch.tensor([obj.index for obj in objects])
        positives = torch.tensor([obj.positive for obj in objects])
        object_masks = labels_t[None] == indices[:, None, None]  # [K, H, W]
        weights_t = torch.from_numpy(np.ascontiguousarray(weights))
        strong = (strong_photometric(image, np.random.default_rng([self.seed, epoch, index, _STRONG_VIEW_STREAM]))
                  if self.strong_view else None)
        return FrameItem(
            image=torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1),
            targets=object_masks & positives[:, None, None],
            weights=torch.where(object_masks, weights_t, torch.ones_like(weights_t)),
            positives=positives,
            text_embeddings=self.text_embeddings(index),
            query_ids=torch.arange(len(objects)) + self.first_query[index],
            frame_id=index,
            narration_contradicted=self.contradicted[index],
            strong_image=None if strong is None else torch.from_numpy(strong).permute(2, 0, 1),
        )


def _images(images: list[Tensor]) -> Tensor:
    return torch.stack(images).float().div_(255.0)


def collate(items: list[FrameItem]) -> QueryBatch:
    """Frames -> one :class:`QueryBatch` with a flat query list and each query's frame index."""
    strong = [item.strong_image for item in items]
    return QueryBatch(
        images=_images([item.image for item in items]),
        text_embeddings=torch.cat([item.text_embeddings for item in items]),
        frame_index=torch.cat([torch.full((len(item.positives),), b) for b, item in enumerate(items)]),
        targets=torch.cat([item.targets for item in items]).unsqueeze(1).float(),
        weights=torch.cat([item.weights for item in items]).unsqueeze(1).float(),
        positives=torch.cat([item.positives for item in items]).float(),
        query_ids=torch.cat([item.query_ids for item in items]),
        frame_ids=torch.tensor([item.frame_id for item in items]),
        strong_images=None if any(image is None for image in strong) else _images(strong),
        narration_contradicted=torch.cat([item.narration_contradicted for item in items]),
    )
