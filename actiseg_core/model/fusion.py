"""Text-conditioned fusion: turn per-frame image features into per-query features for K object prompts.

The image side is computed once per frame ([B, C, h, w]); each of the K queries of a frame needs its own
text-modulated copy. :func:`broadcast_to_queries` hands the frame's features to its queries as an ``expand`` view
when there is one frame (the deployment case: no copy, and an ONNX ``Expand`` with the dynamic K), and as an
``index_select`` when a training batch mixes frames. FiLM then produces the first per-query tensor.

- FiLM (Perez et al. 2018): per-channel scale and shift predicted from the text vector, ``f * (1 + g) + b``,
  at every decoder stage. The generators start at zero, so the pretrained image features pass unchanged at first
  and the text learns to steer them, instead of a random modulation scrambling them on step one.
- Optional light cross-attention (``fusion="film+attn"``): the text vector attends over the stride-32 image
  tokens of its frame and is updated residually, so FiLM can depend on what is in view ("cup" next to a kettle
  vs. next to a plate), at the cost of one [K, heads, 1, h*w] attention on the coarsest grid.
"""

from __future__ import annotations

import math

from torch import Tensor, nn
from torch.nn import functional as F


def broadcast_to_queries(features: Tensor, frame_index: Tensor | None, num_queries: int) -> Tensor:
    """Per-frame ``[B, ...]`` -> per-query ``[K, ...]``: an expand view for one frame, a gather for several."""
    if frame_index is None:
        return features.expand(num_queries, *features.shape[1:])
    return features.index_select(0, frame_index)


class FiLM(nn.Module):
    """Feature-wise linear modulation of a [K, C, h, w] map by a [K, T] text vector."""

    def __init__(self, text_hidden: int, channels: int) -> None:
        super().__init__()
        self.generator = nn.Linear(text_hidden, 2 * channels)
        nn.init.zeros_(self.generator.weight)
        nn.init.zeros_(self.generator.bias)

    def forward(self, features: Tensor, text: Tensor) -> Tensor:
        scale, shift = self.generator(text)[:, :, None, None].chunk(2, dim=1)
        return features * (1.0 + scale) + shift


class TextImageAttention(nn.Module):
    """The query's text vector attends over its frame's image tokens; keys/values are computed once per frame."""

    def __init__(self, image_channels: int, text_hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(text_hidden, text_hidden)
        self.key_value = nn.Conv2d(image_channels, 2 * text_hidden, 1)
        self.out = nn.Linear(text_hidden, text_hidden)
        self.norm = nn.LayerNorm(text_hidden)

    def forward(self, image: Tensor, text: Tensor, frame_index: Tensor | None) -> Tensor:
        """``image`` [B, C, h, w] per frame, ``text`` [K, T] -> updated text [K, T]."""
        num_queries, width = text.shape
        head_dim = width // self.heads
        key_value = self.key_value(image).flatten(2)  # [B, 2T, hw], once per frame
        key_value = broadcast_to_queries(key_value, frame_index, num_queries)
        key, value = key_value.reshape(num_queries, 2, self.heads, head_dim, -1).unbind(1)  # [K, heads, d, hw]
        query = self.query(text).reshape(num_queries, self.heads, 1, head_dim)
        weights = F.softmax(query @ key / math.sqrt(head_dim), dim=-1)  # [K, heads, 1, hw]
        attended = (weights @ value.transpose(2, 3)).reshape(num_queries, width)
        return self.norm(text + self.out(attended))


class TextFusion(nn.Module):
    """Projects the sentence embedding, optionally lets it look at the frame, and FiLMs every decoder level.

    ``forward(levels, text_embeddings, frame_index)`` takes the decoder's per-frame lateral features (fine to
    coarse, [B, C_l, h_l, w_l]) and returns the per-query modulated levels ([K, C_l, h_l, w_l]) plus the text
    vector [K, T] the positive-class head also uses.
    """

    def __init__(self, text_dim: int, text_hidden: int, level_channels: tuple[int, ...], attention: bool,
                 heads: int) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(text_dim, text_hidden), nn.LayerNorm(text_hidden), nn.ReLU(),
                                     nn.Linear(text_hidden, text_hidden))
        self.attention = TextImageAttention(level_channels[-1], text_hidden, heads) if attention else None
        self.films = nn.ModuleList(FiLM(text_hidden, channels) for channels in level_channels)

    def forward(self, levels: list[Tensor], text_embeddings: Tensor,
                frame_index: Tensor | None) -> tuple[list[Tensor], Tensor]:
        text = self.project(text_embeddings)
        if self.attention is not None:
            text = self.attention(levels[-1], text, frame_index)
        num_queries = text_embeddings.shape[0]
        fused = [film(broadcast_to_queries(level, frame_index, num_queries), text)
                 for film, level in zip(self.films, levels, strict=True)]
        return fused, text
