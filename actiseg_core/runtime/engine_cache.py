"""On-disk cache of TensorRT engines, keyed by everything that makes an engine invalid elsewhere.

A TensorRT engine is specific to the ONNX graph, the TensorRT version, the GPU model (and its compute capability),
the precision and the optimisation profile it was built with. Users of peer packages lose hours to engines that
were built for another GPU or another TensorRT and then fail (or, worse, load and misbehave). Here the engine's
file name is a digest of that whole key and a JSON sidecar repeats the key in words, so:

* a changed model, GPU, TensorRT version, precision or K range simply misses the cache and builds a new engine;
* an engine file without a matching sidecar (copied by hand, half-written, edited) is never loaded;
* an engine that TensorRT refuses to deserialise is dropped and rebuilt once (:meth:`EngineCache.invalidate`);
* ``force_rebuild`` rebuilds and replaces the cached engine.

Files are written atomically (engine first, sidecar last), so a kill during a build leaves no valid-looking entry.
Pure Python: the cache logic is tested without a GPU; :mod:`actiseg_core.runtime.backends.tensorrt_backend` builds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from actiseg_core.atomic import atomic_write_bytes, atomic_write_json


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on."""

    onnx_sha256: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0" for an H100
    precision: str  # "fp16" or "fp32"
    input_size: tuple[int, int]
    max_queries: int  # the optimisation profile's K range is 1..max_queries

    def digest(self) -> str:
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]

    def as_json(self) -> dict[str, object]:
        return json.loads(json.dumps(dataclasses.asdict(self)))  # tuples become lists, as they read back


class EngineCache:
    """``root/segmenter-<digest>.engine`` + ``.json`` sidecar per :class:`EngineKey`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def engine_path(self, key: EngineKey) -> Path:
        return self.root / f"segmenter-{key.digest()}.engine"

    def sidecar_path(self, key: EngineKey) -> Path:
        return self.engine_path(key).with_suffix(".json")

    def load(self, key: EngineKey) -> bytes | None:
        """The cached engine for exactly ``key``, or None (missing, or its sidecar is absent or disagrees)."""
        try:
            recorded = json.loads(self.sidecar_path(key).read_text(encoding="utf-8"))
            if recorded != key.as_json():
                return None
            return self.engine_path(key).read_bytes()
        except (OSError, ValueError):
            return None

    def store(self, key: EngineKey, engine: bytes) -> Path:
        path = self.engine_path(key)
        atomic_write_bytes(path, engine)
        atomic_write_json(self.sidecar_path(key), key.as_json())  # last: its presence validates the engine
        return path

    def invalidate(self, key: EngineKey) -> None:
        self.sidecar_path(key).unlink(missing_ok=True)
        self.engine_path(key).unlink(missing_ok=True)

    def get_or_build(self, key: EngineKey, build: Callable[[], bytes],
                     force_rebuild: bool = False) -> tuple[bytes, bool]:
        """(engine bytes, whether it was built now); builds and stores on a miss or when ``force_rebuild``."""
        cached = None if force_rebuild else self.load(key)
        if cached is not None:
            return cached, False
        engine = build()
        self.store(key, engine)
        return engine, True
