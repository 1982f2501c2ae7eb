"""A deployment model folder (written by ``actiseg_core.export.onnx_export``), read and checked up front.

The folder holds ``model.json`` (written last by the exporter, so its presence means the folder is complete; its
``contract`` section says how to run the model: :mod:`actiseg_core.contract`), ``segmenter.onnx``,
``tokenizer.json``, ``preprocess.onnx``, ``postprocess.onnx`` and, for the torch debugging backend, ``model.pt``.
The text encoder graph is the one the contract names: a file of the folder or of an installed package, checked by
sha256 like the others. Every problem a user can cause (wrong path, a half-copied or edited ONNX file, a folder
from another exporter version, a missing text-encoder package) is reported as one :class:`ModelDirError` line
naming the file, never as an onnxruntime or protobuf traceback.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actiseg_core.contract import METADATA_FILE, Contract, ContractError
from actiseg_core.errors import ActiSegError

#: 2: postprocess thresholds on logits; 3: segmenter graph with a dynamic batch; 4: the operating contract
FORMAT = "actiseg-onnx/4"
CHECKPOINT_FILE = "model.pt"


class ModelDirError(ActiSegError):
    """The model folder is missing, incomplete, corrupt or of an unknown format."""


@dataclass(frozen=True)
class ModelDir:
    """Paths and metadata of a checked model folder.

    Attributes:
        root: the folder.
        metadata: parsed ``model.json``.
        contract: how to run the model (prompts, thresholds, vocabulary, gate, text encoder).
    """

    root: Path
    metadata: dict[str, Any]
    contract: Contract

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the segmenter graph expects; the runtime resizes camera images to it."""
        return self.contract.input_size

    @property
    def int8(self) -> bool:
        """Whether the segmenter graph is the quantized one (``actiseg_core.export.quantize`` wrote the folder)."""
        return "quantization" in self.metadata

    @property
    def text_dim(self) -> int:
        """Width of one query's text input (the segmenter graph's ``text_embeddings``)."""
        return self.contract.query_text_dim

    @property
    def segmenter_path(self) -> Path:
        return self.root / self.metadata["segmenter"]["file"]

    @property
    def text_encoder_path(self) -> Path:
        return self.contract.text_encoder.path(self.root)

    @property
    def tokenizer_path(self) -> Path:
        return self.root / self.contract.text_encoder.tokenizer

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
        if metadata.get("format") != FORMAT:
            raise ModelDirError(f"{metadata_path}: format {metadata.get('format')!r}, this runtime reads {FORMAT!r} "
                                f"(export the checkpoint again)")
        model_dir = ModelDir(root=root, metadata=metadata, contract=Contract.from_dict(metadata["contract"]))
        graph_files = [model_dir.segmenter_path, model_dir.preprocess_path, model_dir.postprocess_path]
        expected = {path: metadata["sha256"][path.name] for path in graph_files}
        expected[model_dir.text_encoder_path] = model_dir.contract.text_encoder.sha256
        tokenizer_path = model_dir.tokenizer_path
    except ContractError as exc:
        raise ModelDirError(f"{metadata_path}: {exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirError(f"{metadata_path}: not valid JSON ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelDirError(f"{metadata_path}: malformed ({type(exc).__name__}: {exc})") from None
    for path in (*expected, tokenizer_path):
        if not path.is_file():
            raise ModelDirError(f"{path}: missing from the model folder")
    if verify_hashes:
        for path, digest in expected.items():
            if file_sha256(path) != digest:
                raise ModelDirError(f"{path}: sha256 differs from {metadata_path} (corrupt or partial copy, or "
                                    f"another version of the file); re-export or copy the folder again")
    return model_dir


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
