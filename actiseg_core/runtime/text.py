"""Prompt embeddings without torch: ``tokenizer.json`` (tokenizers) + the contract's text encoder (onnxruntime, CPU).

Narrations change rarely and the candidate names of a robot's vocabulary even less, so embeddings are cached per
normalised prompt (LRU) and a frame with an unchanged narration costs no text-encoder call; ``hits`` / ``misses``
make that visible to diagnostics.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from actiseg_core.contract import TextEncoderSpec
from actiseg_core.prompts import normalise_text
from actiseg_core.runtime.backends.onnxruntime_backend import create_session

PAD_TOKEN = "[PAD]"  # MiniLM's (BERT's uncased WordPiece) padding token


def deployment_tokenizer(tokenizer_json: str, max_length: int) -> str:
    """A ``tokenizer.json`` that pads a batch to its longest prompt and truncates at ``max_length``.

    sentence-transformers tokenises this way; a tokenizer padding to a fixed length would cost padding on every call
    and truncate differently from training.
    """
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(PAD_TOKEN), pad_token=PAD_TOKEN)
    return tokenizer.to_str()


class PromptEmbedder:
    """``embed(prompts) -> [N, D]`` float32 unit vectors, cached by the normalised prompt."""

    def __init__(self, spec: TextEncoderSpec, encoder: Path | bytes, tokenizer_json: str, threads: int | None = None,
                 max_cache_entries: int = 4096) -> None:
        self.spec = spec
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.session = create_session(encoder, ["CPUExecutionProvider"], threads)
        self._input_names = {graph_input.name for graph_input in self.session.get_inputs()}
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
        return self.spec.dim

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (output,) = self.session.run(None, {name: feeds[name] for name in self._input_names})
        if self.spec.output == "last_hidden_state":  # sentence-transformers' pooling: masked mean, then L2
            weights = mask[:, :, None].astype(np.float32)
            pooled = (output * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            output = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return output.astype(np.float32, copy=False)
