"""The deployment API: ``Segmenter.load(model_dir, backend)`` then ``predict(image, narration, object_names)``.

One call does: prompt embeddings (the contract's template and text encoder, cached), preprocess graph (resize +
normalise), the backend's segmenter graph, postprocess graph (upsample + the contract's thresholds + label map at
the camera's resolution). The onnxruntime and TensorRT paths import no torch. Inputs are validated first, so a
malformed frame or prompt is one :class:`InputError` line naming the problem (the ROS node turns it into a NO-GO
reason), never a traceback from inside a graph.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from actiseg_core.contract import Contract
from actiseg_core.errors import ActiSegError
from actiseg_core.feature_density import density_for
from actiseg_core.prompts import normalise_text
from actiseg_core.runtime.backends.base import Backend, BackendError
from actiseg_core.runtime.backends.onnxruntime_backend import PROVIDERS, OnnxRuntimeBackend, create_session
from actiseg_core.runtime.model_dir import ModelDir, read_model_dir
from actiseg_core.runtime.text import PromptEmbedder

BACKENDS = (*PROVIDERS, "tensorrt", "torch")
MAX_NARRATION_CHARS = 1000
MAX_QUERIES = 64  # the exported graph's K bound
UNDECODABLE = "\ufffd"  # what rclpy (and Python's "replace" decoding) puts where bytes were not UTF-8
#: 4K UHD: the label map and probabilities are produced at the camera's resolution, K maps at once.
MAX_IMAGE_PIXELS = 3840 * 2160


class InputError(ActiSegError):
    """An input the segmenter cannot take (wrong image dtype / shape / size, empty narration, bad names)."""


@dataclass
class Prediction:
    """What ``predict`` returns for one frame and K candidate objects.

    Attributes:
        object_names: the K candidates, in query order.
        positive_scores: [K] P(object is active).
        active: [K] bool, positive score >= the positive threshold.
        label_map: [H, W] uint8 at the image's resolution: 0 none, k + 1 = object k (active objects only).
        union_probability: [H, W] float32, the highest probability of any active object per pixel (0 if none).
        object_probabilities: [K, h, w] float32 at the model's input resolution (what the gate reads).
        image_features: [C] float32, the frame's pooled encoder features (the gate's distribution-shift score), or
            None for a graph exported without them.
        timings_ms: ``text``, ``preprocess``, ``model``, ``postprocess``, ``total``.
    """

    object_names: list[str]
    positive_scores: np.ndarray
    active: np.ndarray
    label_map: np.ndarray
    union_probability: np.ndarray
    object_probabilities: np.ndarray
    image_features: np.ndarray | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def union_mask(self) -> np.ndarray:
        """[H, W] bool: pixels of any active object."""
        return self.label_map > 0

    def object_mask(self, index: int) -> np.ndarray:
        """[H, W] bool: pixels won by candidate ``index`` (empty if it is inactive)."""
        return self.label_map == index + 1

    @property
    def active_names(self) -> list[str]:
        return [name for name, is_active in zip(self.object_names, self.active, strict=True) if is_active]


class Segmenter:
    """A model behind one backend, run by its contract; build it with :meth:`load` (a model folder) or, for an
    actiseg-train checkpoint through the torch backend, ``actiseg_core.export.in_memory.checkpoint_segmenter``."""

    def __init__(self, contract: Contract, backend: Backend, text: PromptEmbedder, preprocess: Path | bytes,
                 postprocess: Path | bytes, threads: int | None, model_dir: ModelDir | None = None,
                 pixel_threshold: float | None = None, positive_threshold: float | None = None) -> None:
        self.contract = contract
        self.model_dir = model_dir
        self.backend = backend
        self.text = text
        self.preprocess = create_session(preprocess, ["CPUExecutionProvider"], threads)
        self.postprocess = create_session(postprocess, ["CPUExecutionProvider"], threads)
        self.pixel_threshold = float(contract.pixel_threshold if pixel_threshold is None else pixel_threshold)
        self.positive_threshold = float(contract.positive_threshold if positive_threshold is None
                                        else positive_threshold)
        self.feature_density = None if model_dir is None else density_for(model_dir.root, model_dir.metadata)

    @classmethod
    def load(cls, model_dir: Path | str, backend: str = "onnxruntime", threads: int | None = None,
             pixel_threshold: float | None = None, positive_threshold: float | None = None,
             **backend_options: Any) -> Segmenter:
        """Read and check ``model_dir``, start ``backend`` (one of :data:`BACKENDS`).

        The thresholds default to the folder's contract; a value given here overrides it. ``threads``: onnxruntime
        intra-op threads (None = one per core). ``backend_options`` go to the backend: tensorrt: ``cache_dir``,
        ``fp16``, ``max_queries``, ``force_rebuild``, ``device_index``; torch: ``device``; onnxruntime-*:
        ``provider_options``. Every failure is an :class:`ActiSegError` subclass.
        """
        if backend not in BACKENDS:
            raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        folder = read_model_dir(model_dir)
        if backend in PROVIDERS:
            runner: Backend = OnnxRuntimeBackend(folder.segmenter_path, backend, threads, **backend_options)
        elif backend == "tensorrt":
            from actiseg_core.runtime.backends.tensorrt_backend import TensorRTBackend

            runner = TensorRTBackend(folder, **backend_options)
        else:
            from actiseg_core.runtime.backends.torch_backend import TorchBackend

            runner = TorchBackend.from_checkpoint(folder.checkpoint_path, threads=threads, **backend_options)
        text = PromptEmbedder(folder.contract.text_encoder, folder.text_encoder_path,
                              folder.tokenizer_path.read_text(encoding="utf-8"), threads)
        return cls(folder.contract, runner, text, folder.preprocess_path, folder.postprocess_path, threads, folder,
                   pixel_threshold, positive_threshold)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.contract.input_size

    def prompt_embeddings(self, narration: str, object_names: list[str]) -> np.ndarray:
        """[K, D] text inputs of the contract's queries for ``object_names``: each query's texts embedded (cached per
        text) and concatenated."""
        check_prompts(narration, object_names)
        texts = [text for name in object_names for text in self.contract.query_texts(name, narration)]
        return self.text.embed(texts).reshape(len(object_names), self.contract.query_text_dim)

    def predict(self, image: np.ndarray, narration: str, object_names: list[str]) -> Prediction:
        """Segment the active objects among ``object_names`` in ``image`` (uint8 [H, W, 3] RGB)."""
        check_image(image)
        start = time.perf_counter()
        text_embeddings = self.prompt_embeddings(narration, object_names)
        after_text = time.perf_counter()
        height, width = image.shape[:2]
        if not object_names:
            return self._nothing_to_segment(image, after_text - start)
        (images,) = self.preprocess.run(None, {"image": np.ascontiguousarray(image)})
        after_pre = time.perf_counter()
        mask_logits, positive_logits, image_features = self.backend.run(images, text_embeddings)
        after_model = time.perf_counter()
        scores, object_probabilities, union_probability, label_map = self.postprocess.run(None, {
            "mask_logits": mask_logits, "positive_logits": positive_logits,
            "image_size": np.array([height, width], np.int64),
            "pixel_threshold": np.array(self.pixel_threshold, np.float32),
            "positive_threshold": np.array(self.positive_threshold, np.float32)})
        end = time.perf_counter()
        timings = {"text": after_text - start, "preprocess": after_pre - after_text, "model": after_model - after_pre,
                   "postprocess": end - after_model, "total": end - start}
        return Prediction(object_names=list(object_names), positive_scores=scores,
                          active=scores >= self.positive_threshold, label_map=label_map,
                          union_probability=union_probability, object_probabilities=object_probabilities,
                          image_features=None if image_features is None else image_features[0],
                          timings_ms={name: 1000 * seconds for name, seconds in timings.items()})

    def _nothing_to_segment(self, image: np.ndarray, text_seconds: float) -> Prediction:
        height, width = image.shape[:2]
        return Prediction(object_names=[], positive_scores=np.zeros(0, np.float32), active=np.zeros(0, bool),
                          label_map=np.zeros((height, width), np.uint8),
                          union_probability=np.zeros((height, width), np.float32),
                          object_probabilities=np.zeros((0, *self.input_size), np.float32),
                          timings_ms={"text": 1000 * text_seconds, "total": 1000 * text_seconds})


def check_image(image: Any, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Raise :class:`InputError` unless ``image`` is a uint8 [H, W, 3] array with 1 <= H*W <= ``max_pixels``."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"image must be uint8 RGB, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must have shape (H, W, 3), got {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"image is empty ({image.shape[1]}x{image.shape[0]})")
    if image.shape[0] * image.shape[1] > max_pixels:
        raise InputError(f"image {image.shape[1]}x{image.shape[0]} exceeds the {max_pixels} pixel limit")


def check_prompts(narration: Any, object_names: Any) -> None:
    """Raise :class:`InputError` unless the narration and the candidate names are usable text."""
    if not isinstance(narration, str):
        raise InputError(f"narration must be text, got {type(narration).__name__}")
    if not normalise_text(narration):
        raise InputError("narration is empty")
    if UNDECODABLE in narration:
        raise InputError("narration is not valid UTF-8 (ROS replaced undecodable bytes with U+FFFD)")
    if len(narration) > MAX_NARRATION_CHARS:
        raise InputError(f"narration has {len(narration)} characters (limit {MAX_NARRATION_CHARS})")
    if not isinstance(object_names, list | tuple) or not all(isinstance(name, str) for name in object_names):
        raise InputError("object names must be a list of strings")
    if any(not normalise_text(name) for name in object_names):
        raise InputError("an object name is empty")
    if len(object_names) > MAX_QUERIES:
        raise InputError(f"{len(object_names)} object names exceed the limit of {MAX_QUERIES}")
