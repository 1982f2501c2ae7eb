"""Segmenter hyper-parameters: one plain dataclass, so the trainer can store it next to a checkpoint as a dict."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from actiseg_core.prompts import texts_per_query

ImageEncoderName = Literal["efficientnet_lite0", "resnet_small"]
FusionName = Literal["film", "film+attn"]

IMAGE_ENCODERS: tuple[str, ...] = ("efficientnet_lite0", "resnet_small")
FUSIONS: tuple[str, ...] = ("film", "film+attn")


@dataclass
class ModelConfig:
    """What :func:`actiseg_core.model.build.build_segmenter` builds.

    Attributes:
        image_encoder: ``"efficientnet_lite0"`` (ImageNet-pretrainable, the default) or ``"resnet_small"`` (random
            init, the comparison baseline).
        pretrained: load the shipped ImageNet weights into EfficientNet-Lite0. ``resnet_small`` has none, so
            ``pretrained=True`` with it is an error rather than a silent random init.
        input_height, input_width: the training / deployment resolution (ActionVOS frames are 854x480; the trainer
            resizes). Must be multiples of 16 so strides 4..16 tile the image exactly; the stride-32 level rounds up
            (240 -> 8 rows) as TF "SAME" padding does. The model itself accepts any such size; these two record
            what it was trained for and what the exporter fixes.
        decoder_channels: width of the decoder at strides 32..8; the stride-4 stage uses half (it runs per query
            on 16x more pixels, and it only refines edges).
        text_dim: size of the sentence embedding (all-MiniLM-L6-v2: 384).
        name_embedding: each query's text input is its prompt's embedding followed by the embedding of the object's
            name alone (:func:`actiseg_core.prompts.query_texts`), ``2 * text_dim`` wide.
        text_hidden: size of the projected text vector that drives FiLM and attention.
        fusion: ``"film"`` (per-channel scale/shift from the text at every decoder stage) or ``"film+attn"`` (the
            text vector first attends over the stride-32 image tokens, so FiLM sees which things are in view).
        attn_heads: heads of that cross-attention.
        aux_head: build PMHM's auxiliary mask head (training only; never exported).
        aux_dropout: channel dropout on the aux head's input, the feature perturbation that makes it disagree with
            the main head on uncertain pixels.
        positive_dropout: dropout before the positive-class head's last layer.
    """

    image_encoder: ImageEncoderName = "efficientnet_lite0"
    pretrained: bool = True
    input_height: int = 240
    input_width: int = 320
    decoder_channels: int = 64
    text_dim: int = 384
    name_embedding: bool = False
    text_hidden: int = 128
    fusion: FusionName = "film"
    attn_heads: int = 4
    aux_head: bool = True
    aux_dropout: float = 0.3
    positive_dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.image_encoder not in IMAGE_ENCODERS:
            raise ValueError(f"image_encoder must be one of {IMAGE_ENCODERS}, got {self.image_encoder!r}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.pretrained and self.image_encoder != "efficientnet_lite0":
            raise ValueError(f"no pretrained weights exist for {self.image_encoder!r}: set pretrained=False")
        if self.input_height % 16 or self.input_width % 16 or min(self.input_height, self.input_width) < 32:
            raise ValueError(f"input size must be multiples of 16 and at least 32, got "
                             f"{self.input_height}x{self.input_width}")
        if self.decoder_channels % 2 or self.text_hidden % self.attn_heads:
            raise ValueError("decoder_channels must be even and text_hidden divisible by attn_heads")
        for name in ("aux_dropout", "positive_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")

    @property
    def query_text_dim(self) -> int:
        """Width of one query's text input: the prompt's embedding, and the name's with ``name_embedding``."""
        return self.text_dim * texts_per_query(self.name_embedding)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON / checkpoint friendly)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error so a typo in a config file is not ignored."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys: {sorted(unknown)}")
        return cls(**values)
