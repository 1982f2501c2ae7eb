"""Text-conditioned active-object segmenter: image encoder, text encoder, fusion, decoder and heads (DESIGN §3).

Typical use::

    segmenter = build_segmenter(ModelConfig())
    text = build_text_encoder()
    out = segmenter(images, text.encode([build_prompt(name, narration) for name in names]))
"""

from actiseg_core.model.assets import ModelAssetError, efficientnet_lite0_weights_path, minilm_path
from actiseg_core.model.build import build_image_encoder, build_segmenter, build_text_encoder
from actiseg_core.model.config import ModelConfig
from actiseg_core.model.fusion import FiLM, TextFusion, TextImageAttention, broadcast_to_queries
from actiseg_core.model.image_encoder import (
    EfficientNetLite0Classifier,
    EfficientNetLite0Encoder,
    ResNetSmallEncoder,
    load_imagenet_weights,
)
from actiseg_core.model.mask_decoder import DecoderOutput, MaskDecoder, MaskHead, PositiveHead
from actiseg_core.model.segmenter import ActiveObjectSegmenter, InferenceGraph, SegmenterOutput
from actiseg_core.model.text_encoder import TextEncoder

__all__ = [
    "ActiveObjectSegmenter",
    "DecoderOutput",
    "EfficientNetLite0Classifier",
    "EfficientNetLite0Encoder",
    "FiLM",
    "InferenceGraph",
    "MaskDecoder",
    "MaskHead",
    "ModelAssetError",
    "ModelConfig",
    "PositiveHead",
    "ResNetSmallEncoder",
    "SegmenterOutput",
    "TextEncoder",
    "TextFusion",
    "TextImageAttention",
    "broadcast_to_queries",
    "build_image_encoder",
    "build_segmenter",
    "build_text_encoder",
    "efficientnet_lite0_weights_path",
    "load_imagenet_weights",
    "minilm_path",
]
