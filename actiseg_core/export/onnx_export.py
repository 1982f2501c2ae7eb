"""ONNX export of a trained segmenter and its text encoder, so the robot runs numpy + onnxruntime only (DESIGN §2).

``export_segmenter(checkpoint, out_dir)`` writes, into ``out_dir``:

* ``segmenter.onnx``: :class:`InferenceGraph` (image encoder, fusion, decoder; main mask head and positive head; the
  PMHM aux head and decoder stage outputs are left out), at the checkpoint's input size, dynamic batch and K.
* ``text_encoder.onnx``: frozen MiniLM, ``(input_ids, attention_mask) [N, L] int64 -> embeddings [N, 384]``, mean
  pooled over the mask and L2-normalised, dynamic N and L.
* ``tokenizer.json`` (configured to pad to the longest prompt and truncate at the text encoder's maximum length, so
  the ``tokenizers`` package alone reproduces the training tokenisation) and the vocabulary files beside it.
* ``preprocess.onnx`` / ``postprocess.onnx``: resize + normalise, and upsample + threshold + label map
  (:mod:`actiseg_core.export.processing_graphs`), so the runtime does no per-pixel work in Python.
* ``model.pt``: a copy of the checkpoint (unless ``out_dir`` already holds it), so one folder serves every
  runtime backend, the torch debugging backend included.
* ``model.json``: input size, conventions, opset, sha256 of each ONNX file, source checkpoint sha256 / step / data
  hash and export time.

Every graph is checked with ``onnx.checker`` and compared with torch in onnxruntime *before* anything is written, so
a failed export never leaves a half-valid model folder; files are written atomically (temporary name + rename).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from actiseg_core.atomic import atomic_write_bytes, atomic_write_json
from actiseg_core.cli_util import OneLineParser, run_command
from actiseg_core.errors import ActiSegError
from actiseg_core.export.processing_graphs import (
    POSTPROCESS_FILE,
    PREPROCESS_FILE,
    processing_graphs,
)
from actiseg_core.model import ActiveObjectSegmenter, InferenceGraph, TextEncoder, build_text_encoder
from actiseg_core.model.checkpoint import load_checkpoint, model_from_checkpoint
from actiseg_core.model.text_encoder import sentence_embedding
from actiseg_core.runtime.model_dir import CHECKPOINT_FILE, FORMAT, METADATA_FILE, file_sha256

PROG = "actiseg-export-onnx"
PARITY_TOLERANCE = 1e-4
PARITY_SHAPES = ((1, 1), (1, 4), (2, 3))  # (frames B, queries K)
# Different lengths, so the padded batch exercises the attention mask in the pooling.
PARITY_PROMPTS = (
    "knife",
    "knife used in the action of cut onion",
    "plastic chopping board used in the action of put down the chopped onion next to the frying pan",
)
SEGMENTER_FILE = "segmenter.onnx"
TEXT_ENCODER_FILE = "text_encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
# Loaded by transformers' AutoTokenizer if someone debugs with it; the tokenizers package needs tokenizer.json only.
TOKENIZER_SIDE_FILES = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


@dataclass
class ExportResult:
    """What :func:`export_segmenter` wrote and how closely onnxruntime matched torch.

    ``parity`` maps an output (``"mask_logits[B=1,K=4]"``, ``"positive_logits[B=2,K=3]"``, ``"text_embeddings"``) to its
    max abs difference; all are <= :data:`PARITY_TOLERANCE` or the export raises.
    """

    out_dir: Path
    segmenter_path: Path
    text_encoder_path: Path
    tokenizer_path: Path
    metadata_path: Path
    parity: dict[str, float] = field(default_factory=dict)


class TextEmbeddingGraph(nn.Module):
    """MiniLM + mask-weighted mean pooling + L2 norm, as :meth:`TextEncoder.embed` computes it, in one graph."""

    def __init__(self, transformer: nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return sentence_embedding(self.transformer, input_ids, attention_mask)


def export_inference_graph(segmenter: ActiveObjectSegmenter, opset: int = 18) -> bytes:
    """Serialised, checker-validated ONNX of the segmenter's deployment graph at its configured input size.

    The image size is static (the config's: the runtime resizes to it); the batch B (up to 16 frames) and K (up to
    64 queries) are dynamic, so one file serves any number of queried objects and batched replay. The segmenter is
    put in eval mode, which drops the aux head and dropout.
    """
    config = segmenter.config
    graph = InferenceGraph(segmenter.eval()).eval()
    # B = 2, K = 3: torch.export specialises sizes 0 and 1, and equal example sizes would be tied together
    image = torch.zeros(2, 3, config.input_height, config.input_width)
    text = F.normalize(torch.ones(3, config.text_dim), dim=1)
    program = torch.onnx.export(graph, (image, text), dynamo=True, opset_version=opset, verbose=False,
                                input_names=["images", "text_embeddings"],
                                output_names=["mask_logits", "positive_logits"],
                                dynamic_shapes={"images": {0: torch.export.Dim("B", max=16)},
                                                "text_embeddings": {0: torch.export.Dim("K", max=64)}})
    return _checked_bytes(program.model_proto)


def export_text_encoder(encoder: TextEncoder, opset: int = 18) -> bytes:
    """Serialised, checker-validated ONNX of the frozen MiniLM embedding, dynamic in batch and sequence length."""
    graph = TextEmbeddingGraph(encoder.model).eval()
    tokens = encoder.tokenizer(list(PARITY_PROMPTS), padding=True, return_tensors="pt")
    batch, length = torch.export.Dim("batch", max=1024), torch.export.Dim("sequence", max=encoder.max_length)
    program = torch.onnx.export(graph, (tokens["input_ids"], tokens["attention_mask"]), dynamo=True,
                                opset_version=opset, verbose=False, input_names=["input_ids", "attention_mask"],
                                output_names=["embeddings"],
                                dynamic_shapes={"input_ids": {0: batch, 1: length},
                                                "attention_mask": {0: batch, 1: length}})
    return _checked_bytes(program.model_proto)


def deployment_tokenizer(encoder: TextEncoder) -> bytes:
    """tokenizer.json set up like ``TextEncoder.embed``'s call: pad to the longest prompt, truncate at max_length.

    The shipped file pads every prompt to a fixed 128 tokens; the runtime would then pay for padding on every call
    and truncate differently from training.
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(encoder.tokenizer.backend_tokenizer.to_str())
    tokenizer.enable_truncation(max_length=encoder.max_length)
    tokenizer.enable_padding(pad_id=encoder.tokenizer.pad_token_id, pad_token=encoder.tokenizer.pad_token)
    return tokenizer.to_str().encode("utf-8")


def segmenter_parity(segmenter: ActiveObjectSegmenter, onnx_bytes: bytes) -> dict[str, float]:
    """Max abs difference torch vs onnxruntime of both outputs for each (B, K) in :data:`PARITY_SHAPES`."""
    config = segmenter.config
    graph = InferenceGraph(segmenter.eval()).eval()
    session = _session(onnx_bytes)
    generator = torch.Generator().manual_seed(0)
    diffs = {}
    for frames, queries in PARITY_SHAPES:
        images = torch.rand(frames, 3, config.input_height, config.input_width, generator=generator)
        text = F.normalize(torch.randn(queries, config.text_dim, generator=generator), dim=1)
        masks, positives = session.run(None, {"images": images.numpy(), "text_embeddings": text.numpy()})
        with torch.no_grad():
            expected_masks, expected_positives = graph(images, text)
        diffs[f"mask_logits[B={frames},K={queries}]"] = _max_abs_diff(masks, expected_masks)
        diffs[f"positive_logits[B={frames},K={queries}]"] = _max_abs_diff(positives, expected_positives)
    return diffs


def text_parity(encoder: TextEncoder, onnx_bytes: bytes, tokenizer_bytes: bytes) -> dict[str, float]:
    """Max abs difference of the deployment path (tokenizers + onnxruntime) from ``TextEncoder.embed`` (torch)."""
    from tokenizers import Tokenizer

    encodings = Tokenizer.from_str(tokenizer_bytes.decode("utf-8")).encode_batch(list(PARITY_PROMPTS))
    feeds = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
             "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}
    (embeddings,) = _session(onnx_bytes).run(None, feeds)
    return {"text_embeddings": _max_abs_diff(embeddings, encoder.embed(list(PARITY_PROMPTS)))}


def export_segmenter(checkpoint: Path, out_dir: Path, opset: int = 18) -> ExportResult:
    """Export an actiseg-train checkpoint and the text encoder to ``out_dir`` (see the module docstring).

    Raises :class:`ActiSegError` (one line) for a missing / foreign checkpoint or a parity failure; in both cases
    nothing is written.
    """

    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    checkpoint_sha256 = file_sha256(checkpoint) if checkpoint.is_file() else None
    state = load_checkpoint(checkpoint)
    segmenter = model_from_checkpoint(state, checkpoint)
    encoder = build_text_encoder()
    segmenter_bytes = export_inference_graph(segmenter, opset)
    text_bytes = export_text_encoder(encoder, opset)
    tokenizer_bytes = deployment_tokenizer(encoder)
    parity = {**segmenter_parity(segmenter, segmenter_bytes), **text_parity(encoder, text_bytes, tokenizer_bytes)}
    failed = {name: diff for name, diff in parity.items() if not diff <= PARITY_TOLERANCE}
    if failed:
        raise ActiSegError(f"onnxruntime disagrees with torch beyond {PARITY_TOLERANCE:g}: {_format(failed)}; "
                           f"nothing written to {out_dir}")

    result = ExportResult(out_dir=out_dir, segmenter_path=out_dir / SEGMENTER_FILE,
                          text_encoder_path=out_dir / TEXT_ENCODER_FILE, tokenizer_path=out_dir / TOKENIZER_FILE,
                          metadata_path=out_dir / METADATA_FILE, parity=parity)
    atomic_write_bytes(result.segmenter_path, segmenter_bytes)
    atomic_write_bytes(result.text_encoder_path, text_bytes)
    atomic_write_bytes(result.tokenizer_path, tokenizer_bytes)
    config = segmenter.config
    processing = processing_graphs(config.input_height, config.input_width)
    for name, data in processing.items():
        atomic_write_bytes(out_dir / name, data)
    if not (out_dir / CHECKPOINT_FILE).exists() or not (out_dir / CHECKPOINT_FILE).samefile(checkpoint):
        atomic_write_bytes(out_dir / CHECKPOINT_FILE, checkpoint.read_bytes())
    source_folder = Path(encoder.tokenizer.name_or_path)
    for name in TOKENIZER_SIDE_FILES:
        atomic_write_bytes(out_dir / name, (source_folder / name).read_bytes())
    # model.json last: its presence means the folder is complete and its hashes match the files.
    graphs = {SEGMENTER_FILE: segmenter_bytes, TEXT_ENCODER_FILE: text_bytes, **processing}
    source = {"checkpoint": str(checkpoint), "sha256": checkpoint_sha256, "step": state.get("step"),
              "data_hash": state.get("data_hash")}
    atomic_write_json(result.metadata_path, _metadata(segmenter, encoder, source, opset, parity, graphs))
    return result


def is_current_export(checkpoint: Path, out_dir: Path) -> bool:
    """True if ``out_dir`` holds a complete export of exactly this checkpoint by this exporter's format, with the
    processing graphs this code writes (so a faster or fixed pre/postprocess reaches folders exported before)."""
    try:
        metadata = json.loads((Path(out_dir) / METADATA_FILE).read_text(encoding="utf-8"))
        size = metadata["input"]["height"], metadata["input"]["width"]
        graphs_current = all(metadata["sha256"].get(name) == hashlib.sha256(data).hexdigest()
                             for name, data in processing_graphs(*size).items())
        return (metadata.get("format") == FORMAT and graphs_current
                and metadata.get("source", {}).get("sha256") == file_sha256(Path(checkpoint)))
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return False


def _metadata(segmenter: ActiveObjectSegmenter, encoder: TextEncoder, source: dict[str, Any], opset: int,
              parity: dict[str, float], graphs: dict[str, bytes]) -> dict[str, Any]:
    config = segmenter.config
    return {
        "format": FORMAT,
        "input": {"height": config.input_height, "width": config.input_width, "layout": "NCHW", "channels": "RGB",
                  "dtype": "float32"},
        "normalisation": "feed RGB float32 in 0..1 (uint8 / 255); the encoder's mean/std normalisation is inside "
                         "segmenter.onnx",
        "prompts": "normalise prompts (lower-case, collapse whitespace) as training did; tokenise with tokenizer.json",
        "segmenter": {"file": SEGMENTER_FILE, "inputs": ["images [B,3,H,W]", "text_embeddings [K,384]"],
                      "outputs": ["mask_logits [B*K,1,H,W] (row b*K+k)", "positive_logits [B*K]"]},
        "text_encoder": {"file": TEXT_ENCODER_FILE, "tokenizer": TOKENIZER_FILE, "max_length": encoder.max_length,
                         "inputs": ["input_ids [N,L] int64", "attention_mask [N,L] int64"],
                         "outputs": ["embeddings [N,384] L2-normalised"]},
        "opset_requested": opset,
        "opset": {name: graph_opset(onnx.load_from_string(data)) for name, data in graphs.items()},
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in graphs.items()},
        "parity_max_abs_diff": parity,
        "model_config": config.to_dict(),
        "preprocess": {"file": PREPROCESS_FILE, "inputs": ["image [H,W,3] uint8 RGB"],
                       "outputs": ["images [1,3,h,w] float32 0..1"]},
        "postprocess": {"file": POSTPROCESS_FILE,
                        "inputs": ["mask_logits", "positive_logits", "image_size [2] int64",
                                   "pixel_threshold []", "positive_threshold []"],
                        "outputs": ["positive_scores [K]", "object_probabilities [K,h,w]",
                                    "union_probability [H,W]", "label_map [H,W] uint8 (k+1 = query k)"]},
        "source": source,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
    }


def graph_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset a model actually declares.

    It can exceed the one requested: torch's dynamo exporter builds opset 18 and, where its down-conversion fails
    (opset 17: Reduce* axes inputs, Split), keeps 18 with only a logged warning, so model.json records this value.
    """
    return next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))


def _checked_bytes(model: onnx.ModelProto) -> bytes:
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def _session(onnx_bytes: bytes) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])


def _max_abs_diff(actual: np.ndarray, expected: Tensor) -> float:
    if actual.shape != tuple(expected.shape):
        return float("inf")  # a shape mismatch must fail parity, not broadcast
    return float(np.max(np.abs(actual - expected.detach().numpy())))


def _format(parity: dict[str, float]) -> str:
    return ", ".join(f"{name} {diff:.2e}" for name, diff in parity.items())


def main(argv: list[str] | None = None) -> int:
    """``python -m actiseg_core.export.onnx_export --checkpoint model.pt --out onnx_dir [--opset 17]``."""
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="actiseg-train checkpoint (model.pt)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the ONNX files, tokenizer and model.json")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (18: what the exporter builds)")
    parser.add_argument("--if-stale", action="store_true",
                        help="do nothing if --out already holds a complete export of this exact checkpoint")
    args = parser.parse_args(argv)

    def handler() -> None:
        if args.if_stale and is_current_export(args.checkpoint, args.out):
            print(f"{PROG}: {args.out} is up to date with {args.checkpoint}")
            return
        result = export_segmenter(args.checkpoint, args.out, args.opset)
        print(f"{PROG}: wrote {result.out_dir} (parity max abs diff: {_format(result.parity)})")

    return run_command(PROG, handler)


if __name__ == "__main__":
    sys.exit(main())
