"""FPN-like mask decoder with per-stage side outputs, a main head, PMHM's auxiliary head and a positive-class head.

Cost split (this is what keeps K queries cheap on a CPU): the lateral 1x1 projections of the image pyramid run once
per frame (:meth:`MaskDecoder.lateral`); only the top-down pathway after FiLM runs per query. It is coarse to fine
(stride 32 -> 16 -> 8 -> 4): full 3x3 convolutions on the small coarse grids, depthwise-separable ones at strides
8 and 4, and the stride-4 stage at half width, because that stage covers 16x the pixels of stride 16 and only
refines edges.

Every stage before the last emits mask logits through a 1x1 side conv (PMHM's layer-consistency term compares them
with the final mask on uncertain pixels); the last stage's features are shared by the main head and, in training,
the auxiliary head: same architecture, own weights, input perturbed by channel dropout (PMHM's head-consistency
term). The positive-class head pools the query's stride-32 features (mean for extent, max for "is it anywhere")
together with its text vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: Initial foreground probability of every mask logit map: active objects cover a small part of a frame, so
#: starting near 0.5 would spend the first steps only learning the background rate.
MASK_PRIOR = 0.1


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int = 3) -> nn.Sequential:
    """Conv (no bias: BN follows and folds into it at export) + BN + ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def separable_block(channels: int) -> nn.Sequential:
    """Depthwise 3x3 + pointwise 1x1 (each with BN + ReLU): ~1/8 the cost of a full 3x3 at 64 channels."""
    return nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
                         nn.BatchNorm2d(channels), nn.ReLU(inplace=True), conv_bn_relu(channels, channels, 1))


def _logit_conv(in_channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, 1, 1)
    nn.init.normal_(conv.weight, std=0.01)
    nn.init.constant_(conv.bias, math.log(MASK_PRIOR / (1.0 - MASK_PRIOR)))
    return conv


class MaskHead(nn.Module):
    """Separable block + 1x1 conv to one logit map; ``dropout`` > 0 perturbs its input channels (aux head)."""

    def __init__(self, channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.block = separable_block(channels)
        self.logits = _logit_conv(channels)

    def forward(self, features: Tensor) -> Tensor:
        return self.logits(self.block(self.dropout(features)))


class PositiveHead(nn.Module):
    """Is this object active at all: [mean-pool, max-pool, text vector] -> MLP -> one logit per query."""

    def __init__(self, channels: int, text_hidden: int, dropout: float) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * channels + text_hidden, channels), nn.ReLU(inplace=True),
                                 nn.Dropout(dropout), nn.Linear(channels, 1))

    def forward(self, features: Tensor, text: Tensor) -> Tensor:
        pooled = torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3)), text], dim=1)
        return self.mlp(pooled).squeeze(1)


@dataclass
class DecoderOutput:
    """Raw decoder logits at their native strides (the segmenter resizes them to the input)."""

    mask_logits: Tensor  # [K, 1, H/4, W/4], main head
    stage_logits: list[Tensor]  # side outputs at strides 32, 16, 8: [K, 1, h_s, w_s]; [] if not asked for
    aux_logits: Tensor | None  # [K, 1, H/4, W/4], training with an aux head only
    positive_logits: Tensor  # [K]


class MaskDecoder(nn.Module):
    """Top-down decoder over FiLM-fused levels (fine to coarse, strides 4, 8, 16, 32)."""

    def __init__(self, encoder_channels: tuple[int, ...], channels: int, text_hidden: int, aux_head: bool,
                 aux_dropout: float, positive_dropout: float) -> None:
        super().__init__()
        if len(encoder_channels) != 4:
            raise ValueError(f"the decoder expects 4 encoder levels (strides 4..32), got {len(encoder_channels)}")
        fine = channels // 2
        self.level_channels = (fine, channels, channels, channels)
        self.laterals = nn.ModuleList(conv_bn_relu(in_channels, out_channels, 1)
                                      for in_channels, out_channels in zip(encoder_channels, self.level_channels,
                                                                           strict=True))
        # Blocks indexed fine to coarse like the levels; run coarse to fine.
        self.blocks = nn.ModuleList([separable_block(fine), separable_block(channels),
                                     conv_bn_relu(channels, channels), conv_bn_relu(channels, channels)])
        self.reduce_fine = conv_bn_relu(channels, fine, 1)
        self.side_logits = nn.ModuleList(_logit_conv(channels) for _ in self.level_channels[1:])
        self.main_head = MaskHead(fine)
        self.aux_head = MaskHead(fine, aux_dropout) if aux_head else None
        self.positive_head = PositiveHead(channels, text_hidden, positive_dropout)

    def lateral(self, features: list[Tensor]) -> list[Tensor]:
        """Per-frame 1x1 projections of the image pyramid to decoder widths: once per frame, not per query."""
        return [lateral(feature) for lateral, feature in zip(self.laterals, features, strict=True)]

    def forward(self, fused: list[Tensor], text: Tensor, with_stages: bool = True) -> DecoderOutput:
        """``fused``: per-query levels [K, C_l, h_l, w_l] fine to coarse; ``text``: [K, T] from the fusion.

        ``with_stages=False`` skips the side outputs (inference needs only the main head).
        """
        x = self.blocks[-1](fused[-1])
        coarse = x
        stage_logits = [self.side_logits[-1](x)] if with_stages else []
        for level in range(len(fused) - 2, 0, -1):
            x = F.interpolate(x, size=fused[level].shape[-2:], mode="bilinear", align_corners=False)
            x = self.blocks[level](x + fused[level])
            if with_stages:
                stage_logits.append(self.side_logits[level - 1](x))
        x = F.interpolate(self.reduce_fine(x), size=fused[0].shape[-2:], mode="bilinear", align_corners=False)
        x = self.blocks[0](x + fused[0])
        return DecoderOutput(
            mask_logits=self.main_head(x),
            stage_logits=stage_logits,
            aux_logits=self.aux_head(x) if self.aux_head is not None and self.training else None,
            positive_logits=self.positive_head(coarse, text),
        )
