"""A deployment model folder (written by ``actiseg_core.export.onnx_export``), read and checked up front.

The folder holds ``model.json`` (written last by the exporter, so its presence means the folder is complete),
``segmenter.onnx``, ``text_encoder.onnx``, ``tokenizer.json``, ``preprocess.onnx``, ``postprocess.onnx`` and, for
the torch debugging backend, ``model.pt``. Every problem a user can cause (wrong path, a half-copied or edited ONNX
file, a folder from another exporter version) is reported as one :class:`ModelDirError` line naming the file,
never as an onnxruntime or protobuf traceback.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actiseg_core.errors import ActiSegError

METADATA_FILE = "model.json"
FORMAT = "actiseg-onnx/3"  # 2: postprocess thresholds on logits; 3: segmenter graph with a dynamic batch
CHECKPOINT_FILE = "model.pt"


class ModelDirError(ActiSegError):
    """The model folder is missing, incomplete, corrupt or of an unknown format."""


@dataclass(frozen=True)
class ModelDir:
    """Paths and metadata of a checked model folder.

    Attributes:
        root: the folder.
        metadata: parsed ``model.json``.
        input_size: (height, width) the segmenter graph expects; the runtime resizes camera images to it.
        text_dim: prompt embedding width.
    """

    root: Path
    metadata: dict[str, Any]
    input_size: tuple[int, int]
    text_dim: int

    @property
    def segmenter_path(self) -> Path:
        return self.root / self.metadata["segmenter"]["file"]

    @property
    def text_encoder_path(self) -> Path:
        return self.root / self.metadata["text_encoder"]["file"]

    @property
    def tokenizer_path(self) -> Path:
        return self.root / self.metadata["text_encoder"]["tokenizer"]

    @property
    def preprocess_path(self) -> Path:
        return self.root / self.metadata["preprocess"]["file"]

    @property
    def postprocess_path(self) -> Path:
        return self.root / self.metadata["postprocess"]["file"]

    @property
    def checkpoint_path(self) -> Path:
        return self.root / CHECKPOINT_FILE

    def sha256(self, file_name: str) -> str:
        """The hash model.json records for ``file_name`` (also the key of cached TensorRT engines)."""
        return self.metadata["sha256"][file_name]


def read_model_dir(root: Path | str, verify_hashes: bool = True) -> ModelDir:
    """Read ``root/model.json`` and check that the files it names exist (and, by default, match their sha256).

    Hashing the two graphs costs ~0.1 s per 100 MB; it catches a truncated copy or an edited file before
    onnxruntime would fail on it with a protobuf message, so it is on unless the caller has just checked.
    """
    root = Path(root)
    if not root.exists():
        raise ModelDirError(f"{root}: model folder not found")
    if not root.is_dir():
        raise ModelDirError(f"{root}: not a folder (give the folder that holds {METADATA_FILE})")
    metadata_path = root / METADATA_FILE
    if not metadata_path.is_file():
        raise ModelDirError(f"{metadata_path}: missing; export a checkpoint first "
                            f"(python -m actiseg_core.export.onnx_export --checkpoint model.pt --out {root})")
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        model_dir = ModelDir(root=root, metadata=metadata,
                             input_size=(int(metadata["input"]["height"]), int(metadata["input"]["width"])),
                             text_dim=int(metadata["model_config"]["text_dim"]))
        graph_files = [model_dir.segmenter_path, model_dir.text_encoder_path, model_dir.preprocess_path,
                       model_dir.postprocess_path]
        expected = {path.name: metadata["sha256"][path.name] for path in graph_files}
        tokenizer_path = model_dir.tokenizer_path
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{metadata_path}: not valid JSON ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"{metadata_path}: malformed ({type(exc).__name__}: {exc})") from None
    if metadata.get("format") != FORMAT:
        raise ModelDirError(f"{metadata_path}: format {metadata.get('format')!r}, this runtime reads {FORMAT!r}")
    for path in (*(root / name for name in expected), tokenizer_path):
        if not path.is_file():
            raise ModelDirError(f"{path}: missing from the model folder")
    if verify_hashes:
        for name, digest in expected.items():
            if file_sha256(root / name) != digest:
                raise ModelDirError(f"{root / name}: sha256 differs from {METADATA_FILE} (corrupt or partial copy); "
                                    f"re-export or copy the folder again")
    return model_dir


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
