"""What every inference backend offers the :class:`actiseg_core.runtime.Segmenter`: one graph call, numpy in/out.

A backend runs only the segmenter graph (image encoder, fusion, decoder, heads). Pre- and post-processing and the
text encoder run in onnxruntime on the CPU for every backend, so all backends see identical inputs and are compared
on the graph alone.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from actiseg_core.errors import ActiSegError


class BackendError(ActiSegError):
    """A backend cannot be used here (library or device missing, model unreadable by it, engine build failed)."""


#: (mask_logits [K, 1, h, w], positive_logits [K], image_features [1, C] or None for a graph exported without them)
GraphOutputs = tuple[np.ndarray, np.ndarray, np.ndarray | None]


class Backend(Protocol):
    """``run(images [1, 3, h, w] float32 0..1, text_embeddings [K, D] float32) -> GraphOutputs``, float32 numpy
    arrays on the host."""

    name: str
    #: where it runs, in words (provider list, GPU name, engine precision), for logs and benchmark tables
    description: str

    def run(self, images: np.ndarray, text_embeddings: np.ndarray) -> GraphOutputs:
        ...
