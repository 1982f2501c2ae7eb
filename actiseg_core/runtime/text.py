"""Prompt embeddings without torch: ``tokenizer.json`` (tokenizers) + ``text_encoder.onnx`` (onnxruntime, CPU).

Narrations change rarely and the candidate names of a robot's vocabulary even less, so embeddings are cached per
normalised prompt (LRU) and a frame with an unchanged narration costs no text-encoder call; ``hits`` / ``misses``
make that visible to diagnostics.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from actiseg_core.data.prompts import normalise_text
from actiseg_core.runtime.backends.onnxruntime_backend import create_session


class PromptEmbedder:
    """``embed(prompts) -> [N, D]`` float32 unit vectors, cached by the normalised prompt."""

    def __init__(self, text_encoder_path: Path, tokenizer_path: Path, threads: int | None = None,
                 max_cache_entries: int = 4096) -> None:
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.session = create_session(text_encoder_path, ["CPUExecutionProvider"], threads)
        self.max_cache_entries = max_cache_entries
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def embed(self, prompts: list[str]) -> np.ndarray:
        """Embeddings of ``prompts`` in order; only prompts never seen (or evicted) reach the encoder, in one batch."""
        keys = [normalise_text(prompt) for prompt in prompts]
        missing = list(dict.fromkeys(key for key in keys if key not in self._cache))
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        if missing:
            for key, vector in zip(missing, self._encode(missing), strict=True):
                self._cache[key] = vector
        for key in keys:
            self._cache.move_to_end(key)
        result = np.stack([self._cache[key] for key in keys]) if keys else np.zeros((0, self.dim), np.float32)
        while len(self._cache) > self.max_cache_entries:
            self._cache.popitem(last=False)
        return result

    @property
    def dim(self) -> int:
        return int(self.session.get_outputs()[0].shape[-1])

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                 "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}
        (embeddings,) = self.session.run(None, feeds)
        return embeddings.astype(np.float32, copy=False)
