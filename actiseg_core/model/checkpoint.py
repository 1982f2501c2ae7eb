"""Reading actiseg-train checkpoints: validated loads and the model they hold.

Lives in actiseg_core (not training/) because export and evaluation read checkpoints too, and the core library
must not import the training package (DESIGN §2). A checkpoint is a plain dict loaded with
``torch.load(..., weights_only=True)``, so reading one never runs pickled code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from actiseg_core.errors import ActiSegError
from actiseg_core.model.build import build_segmenter
from actiseg_core.model.config import ModelConfig
from actiseg_core.model.segmenter import ActiveObjectSegmenter


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint; missing, corrupt or foreign files are a one-line :class:`ActiSegError`."""
    path = Path(path)
    if not path.is_file():
        raise ActiSegError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated / foreign files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ActiSegError(f"{path}: corrupt or unreadable checkpoint ({exc.__class__.__name__}: {reason})") from None
    if not isinstance(checkpoint, dict) or not {"model", "model_config"} <= checkpoint.keys():
        raise ActiSegError(f"{path}: not an actiseg-train checkpoint (no model / model_config)")
    return checkpoint


def model_from_checkpoint(checkpoint: dict[str, Any], path: Path) -> ActiveObjectSegmenter:
    """Rebuild the primary network; its weights come from the checkpoint, so no ImageNet file is loaded."""
    try:
        config = ModelConfig.from_dict({**checkpoint["model_config"], "pretrained": False})
        model = build_segmenter(config)
        model.load_state_dict(checkpoint["model"])
    except (TypeError, ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise ActiSegError(f"{path}: checkpoint does not match the model code ({reason})") from None
    return model
