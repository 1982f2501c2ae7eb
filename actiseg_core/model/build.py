"""Factories: a segmenter from a :class:`ModelConfig`, and the frozen text encoder.

Checkpoint saving / loading belongs to the trainer; it can rebuild the module from ``ModelConfig.to_dict()``.
"""

from __future__ import annotations

import torch

from actiseg_core.model.config import ModelConfig
from actiseg_core.model.fusion import TextFusion
from actiseg_core.model.image_encoder import EfficientNetLite0Encoder, ImageEncoder, ResNetSmallEncoder
from actiseg_core.model.mask_decoder import MaskDecoder
from actiseg_core.model.segmenter import ActiveObjectSegmenter
from actiseg_core.model.text_encoder import TextEncoder


def build_image_encoder(config: ModelConfig) -> ImageEncoder:
    """The configured encoder; EfficientNet-Lite0 gets the shipped ImageNet weights when ``pretrained``."""
    if config.image_encoder == "efficientnet_lite0":
        return EfficientNetLite0Encoder(pretrained=config.pretrained)
    return ResNetSmallEncoder()


def build_segmenter(config: ModelConfig | None = None) -> ActiveObjectSegmenter:
    """A fresh :class:`ActiveObjectSegmenter` (default config: pretrained EfficientNet-Lite0, FiLM, aux head)."""
    config = config or ModelConfig()
    image_encoder = build_image_encoder(config)
    decoder = MaskDecoder(image_encoder.out_channels, config.decoder_channels, config.text_hidden,
                          aux_head=config.aux_head, aux_dropout=config.aux_dropout,
                          positive_dropout=config.positive_dropout)
    fusion = TextFusion(config.query_text_dim, config.text_hidden, decoder.level_channels,
                        attention=config.fusion == "film+attn", heads=config.attn_heads)
    return ActiveObjectSegmenter(config, image_encoder, fusion, decoder)


def build_text_encoder(device: str | torch.device = "cpu") -> TextEncoder:
    """The frozen MiniLM prompt encoder from the shipped folder (offline), with an empty cache."""
    return TextEncoder(device=device)
