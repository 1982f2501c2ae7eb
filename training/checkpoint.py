"""Checkpoints: atomic writes, validated reads, and the RNG states that make a resumed run exact.

A checkpoint is a plain dict (loadable with ``torch.load(..., weights_only=True)``, so reading one never runs
pickled code): ``model_config`` (a :class:`ModelConfig` dict) and ``model`` (the primary network's state) are all
that evaluation and export need; the trainer adds optimizer, scheduler, step, epoch, RNG states, learner state,
data hash and arguments. Files are written to a temporary name and renamed, so a kill mid-write leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from actiseg_core.data.layout import atomic_write_bytes
from actiseg_core.errors import ActiSegError
from actiseg_core.model import ActiveObjectSegmenter, ModelConfig, build_segmenter


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


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


def capture_rng() -> dict[str, Any]:
    """The torch, numpy and python RNG states (plus CUDA's when present) as weights_only-loadable values."""
    _, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


RELEASE_KEYS = (
    "format", "model_config", "model", "step", "epoch", "data_hash", "config", "metrics", "best_giou", "elapsed_s",
)


def release_checkpoint(source: Path, target: Path) -> dict[str, Any]:
    """Write a model-only copy of a training checkpoint (no optimizer, RNG or learner state) for shipping.

    Training checkpoints carry AdamW moments (twice the weights) and histories that deployment never reads; the
    released file keeps the weights, their config and the provenance a model card cites.
    """
    checkpoint = load_checkpoint(source)
    released = {key: checkpoint[key] for key in RELEASE_KEYS if key in checkpoint}
    save_checkpoint(target, released)
    return released
