"""Image encoders: multi-scale feature pyramids at strides 4, 8, 16 and 32, computed once per frame.

Two encoders share one interface (``forward(normalised images) -> [f4, f8, f16, f32]`` plus ``out_channels``,
``pixel_mean`` and ``pixel_std``), so the decoder never cares which one it gets:

- :class:`EfficientNetLite0Encoder`: EfficientNet-Lite0 (MBConv, no squeeze-excitation, ReLU6: the variant made for
  mobile CPUs and clean ONNX / int8 export), optionally with the shipped ImageNet weights. The module and parameter
  names copy the shipped state dict (EfficientNet-PyTorch naming: ``_conv_stem``, ``_blocks.N._depthwise_conv``...),
  so it loads with ``strict=True``. The weights come from TensorFlow, so stride-2 convolutions use TF "SAME"
  padding (one more pixel right/bottom than left/top on even sizes), BatchNorm eps is 1e-3 and inputs are scaled
  to [-1, 1]; symmetric padding or ImageNet mean / std would degrade it (a test classifying a real photo catches
  either).
- :class:`ResNetSmallEncoder`: a small ResNet-style encoder, randomly initialised: the baseline that tells whether
  ImageNet pretraining pays off on a given data set.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from actiseg_core.model.assets import efficientnet_lite0_weights_path

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# EfficientNet-Lite0 stages: (repeats, kernel, first stride, expansion, output channels). Lite keeps the stem (32)
# and head (1280) widths of B0 and drops squeeze-excitation; the shipped state dict confirms these shapes.
_LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
                 (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
_LITE0_BN_EPS = 1e-3
_LITE0_BN_MOMENTUM = 0.01  # TF decay 0.99
_LITE0_HEAD_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")


def _pad_same(x: Tensor, kernel: int, stride: int) -> Tensor:
    """TF "SAME" padding: output size ceil(in / stride), the extra pixel of an odd total goes right/bottom.

    Pure integer shape arithmetic (no max(): kernel >= stride makes the total non-negative), so with fixed image
    sizes it exports to a constant Pad.
    """
    height, width = x.shape[-2:]
    pad_h = (-(-height // stride) - 1) * stride + kernel - height
    pad_w = (-(-width // stride) - 1) * stride + kernel - width
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


class Conv2dSame(nn.Conv2d):
    """Bias-free convolution with TF "SAME" padding; stride 1 uses PyTorch's built-in (identical) padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel, stride, padding=(kernel - 1) // 2 if stride == 1 else 0,
                         groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride[0] > 1:
            x = _pad_same(x, self.kernel_size[0], self.stride[0])
        return super().forward(x)


def _lite_bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_LITE0_BN_EPS, momentum=_LITE0_BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise k x k, 1x1 project (linear), identity skip when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid = in_channels * expansion
        self.has_expansion = expansion != 1
        if self.has_expansion:
            self._expand_conv = Conv2dSame(in_channels, mid, 1)
            self._bn0 = _lite_bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _lite_bn(mid)
        self._project_conv = Conv2dSame(mid, out_channels, 1)
        self._bn2 = _lite_bn(out_channels)
        self.has_skip = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expansion else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.has_skip else y


class EfficientNetLite0Encoder(nn.Module):
    """EfficientNet-Lite0 trunk (stem + 16 MBConv blocks) returning features at strides 4, 8, 16 and 32.

    Taps: after block 2 (24 ch, stride 4), block 4 (40 ch, stride 8), block 10 (112 ch, stride 16) and block 15
    (320 ch, stride 32). The 1280-channel classifier head is not part of the encoder: it costs compute and is
    useless for masks (see :class:`EfficientNetLite0Classifier` for the full network).
    """

    pixel_mean = (0.5, 0.5, 0.5)
    pixel_std = (0.5, 0.5, 0.5)  # TF EfficientNet-Lite preprocessing: (x - 127) / 128 on 0..255, i.e. [-1, 1]
    out_channels = (24, 40, 112, 320)
    _tap_blocks = (2, 4, 10, 15)

    def __init__(self, pretrained: bool = False) -> None:
        super().__init__()
        self._conv_stem = Conv2dSame(3, 32, 3, 2)
        self._bn0 = _lite_bn(32)
        blocks: list[nn.Module] = []
        in_channels = 32
        for repeats, kernel, stride, expansion, out_channels in _LITE0_STAGES:
            for index in range(repeats):
                blocks.append(MBConvBlock(in_channels, out_channels, kernel, stride if index == 0 else 1, expansion))
                in_channels = out_channels
        self._blocks = nn.ModuleList(blocks)
        if pretrained:
            load_imagenet_weights(self)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        features = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self._tap_blocks:
                features.append(x)
        return features


class EfficientNetLite0Classifier(EfficientNetLite0Encoder):
    """The full ImageNet classifier: encoder + 1x1 conv to 1280 + pooling + linear to 1000 classes.

    Exists so the shipped state dict can be checked against the architecture with ``strict=True`` key by key, and
    so tests can check the weights actually classify a real photo (a wrong padding or normalisation would not).
    """

    def __init__(self, pretrained: bool = False) -> None:
        super().__init__(pretrained=False)
        self._conv_head = Conv2dSame(320, 1280, 1)
        self._bn1 = _lite_bn(1280)
        self._fc = nn.Linear(1280, 1000)
        if pretrained:
            load_imagenet_weights(self)

    def classify(self, x: Tensor) -> Tensor:
        """ImageNet logits [B, 1000] for images normalised with ``pixel_mean`` / ``pixel_std``."""
        x = self.forward(x)[-1]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def load_imagenet_weights(model: EfficientNetLite0Encoder) -> None:
    """Load the shipped ImageNet state dict with ``strict=True``: every key and shape must match.

    The encoder alone drops exactly the classifier-head keys; the classifier takes the file unchanged.
    """
    state = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    if not isinstance(model, EfficientNetLite0Classifier):
        state = {key: value for key, value in state.items() if not key.startswith(_LITE0_HEAD_PREFIXES)}
    model.load_state_dict(state, strict=True)


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs), with a strided 1x1 projection on the skip when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))
        nn.init.zeros_(self.bn2.weight)  # residual starts as identity: trains stably from random init

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.shortcut(x) + self.bn2(self.conv2(y)))


class ResNetSmallEncoder(nn.Module):
    """Small randomly initialised ResNet: stem to stride 2, then one stage per stride 4 / 8 / 16 / 32.

    Widths are kept narrow at high resolution so its cost stays near EfficientNet-Lite0's and a comparison
    between the two measures pretraining, not compute.
    """

    pixel_mean = IMAGENET_MEAN
    pixel_std = IMAGENET_STD
    out_channels = (32, 64, 128, 256)
    _stage_blocks = (1, 1, 2, 2)

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(inplace=True))
        stages = []
        in_channels = 24
        for out_channels, repeats in zip(self.out_channels, self._stage_blocks, strict=True):
            blocks = [BasicBlock(in_channels, out_channels, 2)]
            blocks += [BasicBlock(out_channels, out_channels, 1) for _ in range(repeats - 1)]
            stages.append(nn.Sequential(*blocks))
            in_channels = out_channels
        self.stages = nn.ModuleList(stages)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


ImageEncoder = EfficientNetLite0Encoder | ResNetSmallEncoder
