"""onnxruntime backends: CPU (the default), CUDA and TensorRT execution providers (when this onnxruntime has them).

onnxruntime silently falls back to the CPU when a requested provider cannot start (no GPU, missing CUDA libraries);
a robot engineer who asked for the GPU would then see CPU latencies without knowing why, so a session whose first
provider is not the requested one is an error here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from actiseg_core.runtime.backends.base import BackendError, GraphOutputs

#: backend name -> onnxruntime provider list (first = required; the rest may take nodes the first cannot run)
PROVIDERS: dict[str, list[str]] = {
    "onnxruntime": ["CPUExecutionProvider"],
    "onnxruntime-cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "onnxruntime-tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def create_session(model: Path | bytes, providers: list[str | tuple[str, dict[str, Any]]],
                   threads: int | None = None) -> onnxruntime.InferenceSession:
    """An onnxruntime session whose load errors (missing file, corrupt protobuf, bad graph) are :class:`BackendError`.

    ``threads`` sets intra-op threads (None: onnxruntime's default, one per core); inter-op stays 1 because the
    graphs are sequential chains. Worker threads do not spin-wait between runs: a prediction runs four sessions one
    after another (text, preprocess, segmenter, postprocess), each with its own pool, on cores shared with DDS and
    the rest of the robot, and onnxruntime's default spinning makes the pools steal each other's cores
    (``benchmarks/results/design_measurements.md``).
    """
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads is not None:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: provider warnings would flood a robot's log every start
    source = model if isinstance(model, bytes) else str(model)
    try:
        return onnxruntime.InferenceSession(source, options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf / NoSuchFile types
        name = "<in-memory graph>" if isinstance(model, bytes) else str(model)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(f"{name}: onnxruntime cannot load it ({reason})") from None


class OnnxRuntimeBackend:
    """The segmenter graph in an onnxruntime session with the providers of ``PROVIDERS[name]``."""

    def __init__(self, segmenter_path: Path, name: str = "onnxruntime", threads: int | None = None,
                 provider_options: dict[str, dict[str, Any]] | None = None) -> None:
        if name not in PROVIDERS:
            raise BackendError(f"unknown onnxruntime backend {name!r}; known: {', '.join(PROVIDERS)}")
        wanted = PROVIDERS[name]
        available = onnxruntime.get_available_providers()
        if wanted[0] not in available:
            raise BackendError(f"backend {name!r} needs onnxruntime's {wanted[0]}, which this onnxruntime "
                               f"{onnxruntime.__version__} lacks (it has: {', '.join(available)}); install "
                               f"onnxruntime-gpu on a CUDA machine or use backend 'onnxruntime'")
        options = provider_options or {}
        providers = [(p, options[p]) if p in options else p for p in wanted if p in available]
        self.session = create_session(segmenter_path, providers, threads)
        active = self.session.get_providers()
        if active[0] != wanted[0]:
            raise BackendError(f"backend {name!r}: onnxruntime could not start {wanted[0]} (running on "
                               f"{', '.join(active)}); check the CUDA / TensorRT libraries and the GPU")
        self.name = name
        self.description = f"onnxruntime {onnxruntime.__version__} ({', '.join(active)})"

    def run(self, images: np.ndarray, text_embeddings: np.ndarray) -> GraphOutputs:
        outputs = self.session.run(None, {"images": images, "text_embeddings": text_embeddings})
        return outputs[0], outputs[1], outputs[2] if len(outputs) > 2 else None
