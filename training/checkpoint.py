"""Checkpoints: atomic writes, the RNG states that make a resumed run exact, and model-only releases.

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
from actiseg_core.model.checkpoint import load_checkpoint


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


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
