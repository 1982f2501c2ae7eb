"""ActiveObjectSegmenter: frames + prompt embeddings -> per-query active-object mask logits and positive logits.

Data flow: ``encode_image`` runs the image encoder once per frame; ``decode`` projects the pyramid to decoder widths
(once per frame), broadcasts it to the K queries, FiLMs it with each query's text and runs the top-down decoder
batched over K. ``forward`` does both.

Input convention: RGB float images in 0..1, [B, 3, H, W], H and W multiples of 16. The encoder's own normalisation
(EfficientNet-Lite0: [-1, 1]; ResNet-small: ImageNet mean / std) happens inside the model, so deployment only
converts uint8 to float and divides by 255, and the exported graph cannot be fed a wrongly normalised image.

Output convention: every mask logit map (main, stages, aux) is returned at the INPUT resolution H x W (bilinear from
its native stride), so losses, PMHM's uncertain-pixel set and gating all work on one pixel grid.

Deployment runs the exported graph on onnxruntime, which is several times faster than torch eager here (eager
EfficientNet-Lite0 spends most of its time in PyTorch's depthwise convolutions). Sizes and latencies of both
encoders: ``benchmarks/results/design_measurements.md`` and ``latency.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from actiseg_core.model.config import ModelConfig
from actiseg_core.model.fusion import TextFusion
from actiseg_core.model.image_encoder import ImageEncoder
from actiseg_core.model.mask_decoder import MaskDecoder


@dataclass
class SegmenterOutput:
    """Per-query outputs; K = number of queries, H x W = input resolution.

    Attributes:
        mask_logits: [K, 1, H, W] main-head logits: sigmoid = P(pixel belongs to this object AND it is active).
        stage_logits: side outputs of the decoder stages before the final one, coarse to fine (strides 32, 16, 8),
            each [K, 1, H, W]; the final stage's output is ``mask_logits`` itself. Empty with ``with_stages=False``.
        aux_logits: [K, 1, H, W] PMHM auxiliary head, only in training mode with ``aux_head=True``; else None.
        positive_logits: [K]: sigmoid = P(this object is active at all). ActionVOS zeroes the mask below 0.75.
    """

    mask_logits: Tensor
    stage_logits: list[Tensor]
    aux_logits: Tensor | None
    positive_logits: Tensor


class ActiveObjectSegmenter(nn.Module):
    """Narration-conditioned active-object segmenter; build it with :func:`actiseg_core.model.build_segmenter`."""

    def __init__(self, config: ModelConfig, image_encoder: ImageEncoder, fusion: TextFusion,
                 decoder: MaskDecoder) -> None:
        super().__init__()
        self.config = config
        self.image_encoder = image_encoder
        self.fusion = fusion
        self.decoder = decoder
        # Not persistent: they follow from the encoder choice, so checkpoints stay free of constants.
        self.register_buffer("pixel_mean", torch.tensor(image_encoder.pixel_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(image_encoder.pixel_std).view(1, 3, 1, 1), persistent=False)

    def encode_image(self, images: Tensor) -> list[Tensor]:
        """RGB 0..1 images [B, 3, H, W] -> encoder pyramid, fine to coarse (strides 4, 8, 16, 32)."""
        return self.image_encoder((images - self.pixel_mean) / self.pixel_std)

    def decode(self, features: list[Tensor], text_embeddings: Tensor, frame_index: Tensor | None = None,
               with_stages: bool = True) -> SegmenterOutput:
        """Decode K queries against already encoded frames.

        Args:
            features: output of :meth:`encode_image` for B frames.
            text_embeddings: [K, query_text_dim] query text embeddings (from :class:`TextEncoder`).
            frame_index: [K] int64, the frame (0..B-1) each query belongs to; None means B == 1 and all queries
                share that frame (features are then broadcast as views, no copy).
            with_stages: compute ``stage_logits`` (PMHM training); False (inference) leaves them empty.
        """
        if frame_index is None and features[0].shape[0] != 1:
            raise ValueError(f"frame_index is required when decoding {features[0].shape[0]} frames")
        levels = self.decoder.lateral(features)
        fused, text = self.fusion(levels, text_embeddings, frame_index)
        raw = self.decoder(fused, text, with_stages)
        size = (features[0].shape[-2] * 4, features[0].shape[-1] * 4)
        return SegmenterOutput(
            mask_logits=_resize(raw.mask_logits, size),
            stage_logits=[_resize(logits, size) for logits in raw.stage_logits],
            aux_logits=_resize(raw.aux_logits, size) if raw.aux_logits is not None else None,
            positive_logits=raw.positive_logits,
        )

    def forward(self, images: Tensor, text_embeddings: Tensor, frame_index: Tensor | None = None,
                with_stages: bool = True) -> SegmenterOutput:
        """:meth:`encode_image` then :meth:`decode`."""
        return self.decode(self.encode_image(images), text_embeddings, frame_index, with_stages)


class InferenceGraph(nn.Module):
    """The deployment graph: B frames under one narration, the same K queries for each, tensors only (what ONNX
    export traces).

    ``forward(images [B, 3, H, W] float 0..1, text_embeddings [K, text_dim]) -> (mask_logits [B*K, 1, H, W],
    positive_logits [B*K], image_features [B, C])``, frame-major: row ``b * K + k`` is frame b, query k, so B = 1
    gives the [K, ...] layout every consumer reads. ``image_features`` are the encoder's two coarsest levels
    (strides 16 and 32), each averaged over the image: what :mod:`actiseg_core.feature_density` scores for
    distribution shift, at no extra cost. Put the segmenter in eval mode first, so the aux head is not part of it; stage
    outputs are skipped. The frame index is built with arithmetic rather than ``repeat_interleave``, which the
    dynamo exporter specialises to the example batch size.
    """

    def __init__(self, segmenter: ActiveObjectSegmenter) -> None:
        super().__init__()
        self.segmenter = segmenter

    def forward(self, images: Tensor, text_embeddings: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        frames, (queries, dim) = images.shape[0], text_embeddings.shape
        frame_index = torch.div(torch.arange(frames * queries, device=images.device), queries, rounding_mode="floor")
        text = text_embeddings.unsqueeze(0).expand(frames, queries, dim).reshape(frames * queries, dim)
        features = self.segmenter.encode_image(images)
        output = self.segmenter.decode(features, text, frame_index, with_stages=False)
        pooled = torch.cat([level.mean(dim=(2, 3)) for level in features[-2:]], dim=1)
        return output.mask_logits, output.positive_logits, pooled


def _resize(logits: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
