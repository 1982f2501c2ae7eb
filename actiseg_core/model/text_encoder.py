"""Frozen MiniLM sentence encoder with a prompt-embedding cache.

all-MiniLM-L6-v2 embeds a prompt as sentence-transformers does: mean of the token states over the attention mask,
then L2 normalisation. It is frozen (never fine-tuned: with noisy names in training, a trainable text tower would
memorise them) and is not an ``nn.Module`` of the segmenter, so checkpoints and the ONNX graph carry only the
segmenter; the runtime passes embeddings in. Narrations change rarely, so embeddings are cached by the normalised
prompt text (lower-case, collapsed whitespace: the same key :func:`actiseg_core.prompts.build_prompt` makes)
and only cache misses reach the transformer.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from actiseg_core.model.assets import minilm_path
from actiseg_core.prompts import normalise_text

__all__ = ["TextEncoder", "minilm_path"]


def sentence_embedding(transformer: nn.Module, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """all-MiniLM-L6-v2's sentence embedding: token states mean-pooled over the attention mask, L2-normalised.

    One function for training (:meth:`TextEncoder.embed`) and the exported ONNX graph, so the two cannot drift.
    """
    states = transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return F.normalize(pooled, p=2, dim=1)


class TextEncoder:
    """``encode(prompts) -> [K, 384]`` unit-norm embeddings, with an LRU cache keyed by the normalised prompt."""

    def __init__(self, model_dir: Path | None = None, device: str | torch.device = "cpu",
                 max_cache_entries: int = 65536, batch_size: int = 64) -> None:
        # Robots run offline: never let transformers try the Hub, even for a metadata check.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        folder = Path(model_dir) if model_dir is not None else minilm_path()
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).to(self.device).eval()
        self.model.requires_grad_(False)
        self.dim: int = self.model.config.hidden_size
        self.max_length: int = min(self.tokenizer.model_max_length, 256)  # sentence-transformers' max_seq_length
        self.max_cache_entries = max_cache_entries
        self.batch_size = batch_size
        self._cache: OrderedDict[str, Tensor] = OrderedDict()

    def __len__(self) -> int:
        """Number of cached prompt embeddings."""
        return len(self._cache)

    def clear_cache(self) -> None:
        """Drop cached embeddings."""
        self._cache.clear()

    @torch.no_grad()
    def embed(self, texts: list[str]) -> Tensor:
        """Uncached embeddings [N, dim] of ``texts`` as given (mean-pooled over the mask, L2-normalised)."""
        tokens = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="pt").to(self.device)
        return sentence_embedding(self.model, tokens["input_ids"], tokens["attention_mask"])

    def encode(self, prompts: list[str]) -> Tensor:
        """Embeddings [K, dim] of ``prompts`` in order; each normalised prompt is embedded at most once.

        Prompts neither cached nor repeated earlier in the same call are embedded together, in batches.
        """
        keys = [normalise_text(prompt) for prompt in prompts]
        found: dict[str, Tensor] = {}
        pending: dict[str, None] = {}  # ordered set of misses
        for key in keys:
            if key in found or key in pending:
                continue
            if key in self._cache:
                self._cache.move_to_end(key)
                found[key] = self._cache[key]
            else:
                pending[key] = None
        missing = list(pending)
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start:start + self.batch_size]
            for key, embedding in zip(chunk, self.embed(chunk), strict=True):
                found[key] = embedding
                self._remember(key, embedding)
        if not keys:
            return torch.empty(0, self.dim, device=self.device)
        return torch.stack([found[key] for key in keys])

    def _remember(self, key: str, embedding: Tensor) -> None:
        self._cache[key] = embedding
        if len(self._cache) > self.max_cache_entries:
            self._cache.popitem(last=False)
