"""Native TensorRT backend: build an FP16 engine from ``segmenter.onnx``, cache it on disk, run it with CUDA memory.

UNVERIFIED on this project's machines: the ``tensorrt`` Python package has no binary wheels on our registries and
no GPU is attached to the CI machines, so this module is exercised only where ``tensorrt`` and ``cuda-python``
import (its test skips with that reason elsewhere); the engine cache logic it relies on is tested everywhere
(:mod:`actiseg_core.runtime.engine_cache`). Written against the TensorRT 10 name-based tensor API
(``set_input_shape`` / ``set_tensor_address`` / ``execute_async_v3``); no torch: device memory and copies go through
cuda-python's runtime bindings.

The engine has one optimisation profile: one frame (the runtime predicts frame by frame) at the model's fixed input
size, K = 1..``max_queries`` (opt 4); asking for more queries than that is a :class:`BackendError`, not a TensorRT
crash.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from actiseg_core.runtime.backends.base import BackendError, GraphOutputs
from actiseg_core.runtime.engine_cache import EngineCache, EngineKey
from actiseg_core.runtime.model_dir import ModelDir

WORKSPACE_BYTES = 1 << 30
OPT_QUERIES = 4


def import_tensorrt() -> tuple[Any, Any]:
    """(tensorrt, cuda runtime bindings), or a :class:`BackendError` saying which is missing."""
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendError(f"backend 'tensorrt' needs the tensorrt Python package ({exc}); it has no wheels on "
                           f"this project's registries: install it on the robot, or use 'onnxruntime'") from None
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # cuda-python < 12.6
        except ImportError:
            raise BackendError("backend 'tensorrt' needs cuda-python (pip install cuda-python) for device "
                               "memory") from None
    return tensorrt, cudart


class TensorRTBackend:
    """``segmenter.onnx`` as a cached TensorRT engine on GPU ``device_index``."""

    def __init__(self, model_dir: ModelDir, cache_dir: Path | None = None, fp16: bool = True, max_queries: int = 16,
                 force_rebuild: bool = False, device_index: int = 0) -> None:
        self.trt, self.cudart = import_tensorrt()
        self._check(self.cudart.cudaSetDevice(device_index), "cudaSetDevice")
        properties = self._check(self.cudart.cudaGetDeviceProperties(device_index), "cudaGetDeviceProperties")
        gpu_name = properties.name.decode() if isinstance(properties.name, bytes) else str(properties.name)
        self.key = EngineKey(onnx_sha256=model_dir.sha256(model_dir.segmenter_path.name),
                             tensorrt_version=self.trt.__version__, gpu_name=gpu_name.strip("\x00 "),
                             compute_capability=f"{properties.major}.{properties.minor}",
                             precision="fp16" if fp16 else "fp32", input_size=model_dir.input_size,
                             max_queries=max_queries)
        self.cache = EngineCache(cache_dir if cache_dir is not None else model_dir.root / "engines")
        self.logger = self.trt.Logger(self.trt.Logger.WARNING)
        onnx_bytes = model_dir.segmenter_path.read_bytes()
        build = functools.partial(self._build, onnx_bytes, model_dir.text_dim)
        serialized, self.built = self.cache.get_or_build(self.key, build, force_rebuild)
        self.engine = self._deserialize(serialized)
        if self.engine is None and not self.built:  # cached but unusable (driver update, damaged file): rebuild once
            self.cache.invalidate(self.key)
            serialized, self.built = self.cache.get_or_build(self.key, build)
            self.engine = self._deserialize(serialized)
        if self.engine is None:
            raise BackendError(f"TensorRT {self.key.tensorrt_version} cannot deserialise the engine it just built "
                               f"for {gpu_name}")
        self.context = self.engine.create_execution_context()
        self.stream = self._check(self.cudart.cudaStreamCreate(), "cudaStreamCreate")
        self.max_queries = max_queries
        self.text_dim = model_dir.text_dim
        height, width = model_dir.input_size
        self.shapes = {"images": (1, 3, height, width), "text_embeddings": (max_queries, model_dir.text_dim),
                       "mask_logits": (max_queries, 1, height, width), "positive_logits": (max_queries,)}
        names = {self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)}
        if "image_features" in names:  # graphs exported before the feature-density output lack it
            self.shapes["image_features"] = (1, int(self.engine.get_tensor_shape("image_features")[1]))
        self.buffers = {name: self._check(self.cudart.cudaMalloc(int(np.prod(shape)) * 4), "cudaMalloc")
                        for name, shape in self.shapes.items()}
        for name, pointer in self.buffers.items():
            self.context.set_tensor_address(name, int(pointer))
        self.name = "tensorrt"
        self.description = (f"TensorRT {self.key.tensorrt_version} {self.key.precision} on {gpu_name} "
                            f"(engine {'built' if self.built else 'cached'}: {self.cache.engine_path(self.key)})")

    def _build(self, onnx_bytes: bytes, text_dim: int) -> bytes:
        trt = self.trt
        builder = trt.Builder(self.logger)
        network = builder.create_network(0)  # TensorRT 10: networks are always explicit-batch
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse(onnx_bytes):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise BackendError(f"TensorRT cannot parse segmenter.onnx: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
        if self.key.precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        height, width = self.key.input_size
        profile.set_shape("images", (1, 3, height, width), (1, 3, height, width), (1, 3, height, width))
        profile.set_shape("text_embeddings", (1, text_dim), (min(OPT_QUERIES, self.key.max_queries), text_dim),
                          (self.key.max_queries, text_dim))
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise BackendError(f"TensorRT failed to build an engine for {self.key.gpu_name} (see its log above)")
        return bytes(serialized)

    def _deserialize(self, serialized: bytes) -> Any:
        return self.trt.Runtime(self.logger).deserialize_cuda_engine(serialized)

    def _check(self, result: Any, call: str) -> Any:
        """cuda-python returns (error, value...) tuples; raise on an error, return the value."""
        error, *values = result if isinstance(result, tuple) else (result,)
        if int(error) != 0:
            raise BackendError(f"CUDA {call} failed: {self.cudart.cudaGetErrorString(error)[1]}")
        return values[0] if len(values) == 1 else tuple(values)

    def run(self, images: np.ndarray, text_embeddings: np.ndarray) -> GraphOutputs:
        queries = text_embeddings.shape[0]
        if queries > self.max_queries:
            raise BackendError(f"{queries} object queries exceed the TensorRT engine's profile (max {self.max_queries}"
                               f"); rebuild with a larger max_queries")
        self.context.set_input_shape("images", self.shapes["images"])
        self.context.set_input_shape("text_embeddings", (queries, self.text_dim))
        host_to_device = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        device_to_host = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        inputs = {"images": np.ascontiguousarray(images, np.float32),
                  "text_embeddings": np.ascontiguousarray(text_embeddings, np.float32)}
        for name, array in inputs.items():
            self._check(self.cudart.cudaMemcpyAsync(self.buffers[name], array.ctypes.data, array.nbytes,
                                                    host_to_device, self.stream), "cudaMemcpyAsync")
        if not self.context.execute_async_v3(self.stream):
            raise BackendError("TensorRT execute_async_v3 failed (see its log above)")
        height, width = self.shapes["images"][2:]
        outputs = {"mask_logits": np.empty((queries, 1, height, width), np.float32),
                   "positive_logits": np.empty((queries,), np.float32)}
        if "image_features" in self.shapes:
            outputs["image_features"] = np.empty(self.shapes["image_features"], np.float32)
        for name, array in outputs.items():
            self._check(self.cudart.cudaMemcpyAsync(array.ctypes.data, self.buffers[name], array.nbytes,
                                                    device_to_host, self.stream), "cudaMemcpyAsync")
        self._check(self.cudart.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        return outputs["mask_logits"], outputs["positive_logits"], outputs.get("image_features")

    def __del__(self) -> None:
        for pointer in getattr(self, "buffers", {}).values():
            self.cudart.cudaFree(pointer)
