"""The torch backend: the PyTorch model itself, to debug the exported graphs against their source.

Training's periodic validation runs the live model through the same class. Imports torch only when chosen, so the
deployment path stays torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from actiseg_core.runtime.backends.base import BackendError, GraphOutputs

if TYPE_CHECKING:
    import torch

    from actiseg_core.model import ActiveObjectSegmenter


class TorchBackend:
    """A segmenter as an :class:`InferenceGraph` in eval mode (the caller restores train mode if it trains)."""

    def __init__(self, segmenter: ActiveObjectSegmenter, device: torch.device | str = "cpu") -> None:
        import torch

        from actiseg_core.model import InferenceGraph

        self.torch = torch
        self.device = torch.device(device)
        self.graph = InferenceGraph(segmenter.eval()).eval()
        self.config = segmenter.config  # the ModelConfig: an in-memory export builds its contract from it
        self.input_size = (segmenter.config.input_height, segmenter.config.input_width)
        self.source: dict[str, object] = {}  # training step, data hash, learner of a loaded checkpoint
        self.name = "torch"
        self.description = f"torch {torch.__version__} eager on {self.device}"

    @classmethod
    def from_checkpoint(cls, checkpoint_path: Path, device: str = "cpu", threads: int | None = None) -> TorchBackend:
        """The backend for ``model.pt`` of a model folder; a missing torch, file or CUDA is a :class:`BackendError`."""
        try:
            import torch
        except ImportError:
            raise BackendError("backend 'torch' needs PyTorch, which is not installed here") from None
        from actiseg_core.model.checkpoint import load_checkpoint, model_from_checkpoint

        if not Path(checkpoint_path).is_file():
            raise BackendError(f"{checkpoint_path}: backend 'torch' needs the checkpoint beside model.json")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"backend 'torch' on {device!r}: this PyTorch sees no CUDA device")
        if threads is not None:
            torch.set_num_threads(threads)
        state = load_checkpoint(Path(checkpoint_path))
        backend = cls(model_from_checkpoint(state, Path(checkpoint_path)).to(device), device)
        backend.source = {"step": state.get("step"), "data_hash": state.get("data_hash"),
                          "learner": state.get("config", {}).get("learner")}
        return backend

    def run(self, images: np.ndarray, text_embeddings: np.ndarray) -> GraphOutputs:
        with self.torch.inference_mode():
            outputs = self.graph(self.torch.from_numpy(images).to(self.device),
                                 self.torch.from_numpy(text_embeddings).to(self.device))
        mask_logits, positive_logits, image_features = (output.cpu().numpy() for output in outputs)
        return mask_logits, positive_logits, image_features
