"""ONNX export of a trained segmenter, so the robot runs numpy + onnxruntime only (DESIGN §2).

``export_segmenter(checkpoint, out_dir)`` writes, into ``out_dir``:

* ``segmenter.onnx``: :class:`InferenceGraph` (image encoder, fusion, decoder; main mask head and positive head; the
  PMHM aux head and decoder stage outputs are left out), at the checkpoint's input size, dynamic batch and K.
* ``tokenizer.json``: MiniLM's tokenizer, padding to the longest prompt and truncating at the text encoder's maximum
  length, so the ``tokenizers`` package alone reproduces the training tokenisation.
* ``preprocess.onnx`` / ``postprocess.onnx``: resize + normalise, and upsample + threshold + label map
  (:mod:`actiseg_core.export.processing_graphs`), so the runtime does no per-pixel work in Python.
* ``model.pt``: a copy of the checkpoint (unless ``out_dir`` already holds it), so one folder serves every
  runtime backend, the torch debugging backend included.
* ``model.json``: the operating contract (:mod:`actiseg_core.contract`: prompt template, thresholds, vocabulary,
  gate, text encoder), input size, opset, sha256 of each graph, parity, source checkpoint and export time.

The text encoder graph is not written: the contract names the deployed one (``contract_defaults.TEXT_ENCODER``, an
int8 MiniLM from a package) and the export checks its embeddings against training's fp32 MiniLM. Every graph is
checked with ``onnx.checker`` and compared with torch in onnxruntime *before* anything is written, so a failed export
never leaves a half-valid model folder; files are written atomically (temporary name + rename). A gate fitted for
exactly this segmenter graph (same sha256) in an earlier ``model.json`` of ``out_dir`` is kept, and so is a feature
density (:mod:`actiseg_core.feature_density`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch
from torch import Tensor
from torch.nn import functional as F

from actiseg_core.atomic import atomic_write_bytes, atomic_write_json
from actiseg_core.cli_util import OneLineParser, run_command
from actiseg_core.contract import METADATA_FILE, Contract, earlier_contract
from actiseg_core.errors import ActiSegError
from actiseg_core.export.contract_defaults import checkpoint_contract, deployment_tokenizer_json
from actiseg_core.export.processing_graphs import (
    POSTPROCESS_FILE,
    PREPROCESS_FILE,
    processing_graphs,
)
from actiseg_core.feature_density import METADATA_KEY, kept_record
from actiseg_core.model import ActiveObjectSegmenter, InferenceGraph, TextEncoder, build_text_encoder
from actiseg_core.model.checkpoint import load_checkpoint, model_from_checkpoint
from actiseg_core.runtime.model_dir import CHECKPOINT_FILE, FORMAT, file_sha256
from actiseg_core.runtime.text import PromptEmbedder

PROG = "actiseg-export-onnx"
PARITY_TOLERANCE = 1e-4
#: int8 vs fp32 MiniLM on the parity prompts: worst element difference and worst cosine similarity allowed
TEXT_PARITY_TOLERANCE = 0.02
TEXT_MIN_COSINE = 0.999
PARITY_SHAPES = ((1, 1), (1, 4), (2, 3))  # (frames B, queries K)
# Different lengths, so the padded batch exercises the attention mask in the pooling.
PARITY_PROMPTS = (
    "knife",
    "knife used in the action of cut onion",
    "plastic chopping board used in the action of put down the chopped onion next to the frying pan",
)
SEGMENTER_FILE = "segmenter.onnx"


@dataclass
class ExportResult:
    """What :func:`export_segmenter` wrote and how closely onnxruntime matched torch.

    ``parity`` maps an output (``"mask_logits[B=1,K=4]"``, ``"positive_logits[B=2,K=3]"``, ``"text_embeddings"``,
    ``"text_cosine_min"``) to its max abs difference (the cosine: its minimum); all are within tolerance or the
    export raises.
    """

    out_dir: Path
    segmenter_path: Path
    tokenizer_path: Path
    metadata_path: Path
    contract: Contract
    parity: dict[str, float] = field(default_factory=dict)


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
    text = F.normalize(torch.ones(3, config.query_text_dim), dim=1)
    program = torch.onnx.export(graph, (image, text), dynamo=True, opset_version=opset, verbose=False,
                                input_names=["images", "text_embeddings"],
                                output_names=["mask_logits", "positive_logits", "image_features"],
                                dynamic_shapes={"images": {0: torch.export.Dim("B", max=16)},
                                                "text_embeddings": {0: torch.export.Dim("K", max=64)}})
    return _checked_bytes(program.model_proto)


def segmenter_parity(segmenter: ActiveObjectSegmenter, onnx_bytes: bytes) -> dict[str, float]:
    """Max abs difference torch vs onnxruntime of every output for each (B, K) in :data:`PARITY_SHAPES`."""
    config = segmenter.config
    graph = InferenceGraph(segmenter.eval()).eval()
    session = _session(onnx_bytes)
    generator = torch.Generator().manual_seed(0)
    diffs = {}
    for frames, queries in PARITY_SHAPES:
        images = torch.rand(frames, 3, config.input_height, config.input_width, generator=generator)
        text = F.normalize(torch.randn(queries, config.query_text_dim, generator=generator), dim=1)
        outputs = session.run(None, {"images": images.numpy(), "text_embeddings": text.numpy()})
        with torch.no_grad():
            expected = graph(images, text)
        for name, actual, reference in zip(("mask_logits", "positive_logits", "image_features"), outputs, expected,
                                           strict=True):
            diffs[f"{name}[B={frames},K={queries}]"] = _max_abs_diff(actual, reference)
    return diffs


def text_parity(encoder: TextEncoder, contract: Contract, tokenizer_json: str) -> dict[str, float]:
    """The deployed text encoder (tokenizers + onnxruntime) against training's ``TextEncoder.embed`` (torch fp32):
    max abs difference and the lowest cosine similarity over :data:`PARITY_PROMPTS`."""
    spec = contract.text_encoder
    embedder = PromptEmbedder(spec, spec.path(Path(".")), tokenizer_json)
    deployed = embedder.embed(list(PARITY_PROMPTS))
    trained = encoder.embed(list(PARITY_PROMPTS)).detach().numpy()
    return {"text_embeddings": _max_abs_diff(deployed, torch.from_numpy(trained)),
            "text_cosine_min": float(np.min(np.sum(deployed * trained, axis=1)))}


def export_segmenter(checkpoint: Path, out_dir: Path, opset: int = 18,
                     vocabulary: tuple[str, ...] | None = None) -> ExportResult:
    """Export an actiseg-train checkpoint to ``out_dir`` (see the module docstring).

    ``vocabulary``: the candidate names the contract offers when a narration names none (the gripper is always
    one); None keeps the vocabulary of an earlier export in ``out_dir``. Raises :class:`ActiSegError` (one line)
    for a missing / foreign checkpoint or a parity failure; in both cases nothing is written.
    """

    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    checkpoint_sha256 = file_sha256(checkpoint) if checkpoint.is_file() else None
    state = load_checkpoint(checkpoint)
    segmenter = model_from_checkpoint(state, checkpoint)
    config = segmenter.config
    previous = earlier_contract(out_dir)
    if vocabulary is None and previous is not None:
        vocabulary = previous.vocabulary
    contract = checkpoint_contract(config.input_height, config.input_width, vocabulary, config.name_embedding)
    encoder = build_text_encoder()
    segmenter_bytes = export_inference_graph(segmenter, opset)
    tokenizer_json = deployment_tokenizer_json(contract.text_encoder.max_length)
    parity = {**segmenter_parity(segmenter, segmenter_bytes), **text_parity(encoder, contract, tokenizer_json)}
    failed = {name: diff for name, diff in parity.items()
              if not (diff >= TEXT_MIN_COSINE if name == "text_cosine_min"
                      else diff <= (TEXT_PARITY_TOLERANCE if name == "text_embeddings" else PARITY_TOLERANCE))}
    if failed:
        raise ActiSegError(f"onnxruntime disagrees with torch beyond tolerance: {_format(failed)}; "
                           f"nothing written to {out_dir}")
    segmenter_sha256 = hashlib.sha256(segmenter_bytes).hexdigest()
    if previous is not None:
        contract = replace(contract, gate=previous.gate.kept_for(segmenter_sha256))

    result = ExportResult(out_dir=out_dir, segmenter_path=out_dir / SEGMENTER_FILE,
                          tokenizer_path=out_dir / contract.text_encoder.tokenizer,
                          metadata_path=out_dir / METADATA_FILE, contract=contract, parity=parity)
    atomic_write_bytes(result.segmenter_path, segmenter_bytes)
    atomic_write_bytes(result.tokenizer_path, tokenizer_json.encode("utf-8"))
    processing = processing_graphs(config.input_height, config.input_width)
    for name, data in processing.items():
        atomic_write_bytes(out_dir / name, data)
    if not (out_dir / CHECKPOINT_FILE).exists() or not (out_dir / CHECKPOINT_FILE).samefile(checkpoint):
        atomic_write_bytes(out_dir / CHECKPOINT_FILE, checkpoint.read_bytes())
    # model.json last: its presence means the folder is complete and its hashes match the files.
    graphs = {SEGMENTER_FILE: segmenter_bytes, **processing}
    source = {"checkpoint": str(checkpoint), "sha256": checkpoint_sha256, "step": state.get("step"),
              "data_hash": state.get("data_hash")}
    metadata = _metadata(segmenter, contract, source, opset, parity, graphs)
    density = kept_record(out_dir, segmenter_sha256)
    atomic_write_json(result.metadata_path, metadata | ({METADATA_KEY: density} if density else {}))
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


def _metadata(segmenter: ActiveObjectSegmenter, contract: Contract, source: dict[str, Any], opset: int,
              parity: dict[str, float], graphs: dict[str, bytes]) -> dict[str, Any]:
    config = segmenter.config
    return {
        "format": FORMAT,
        "contract": contract.to_dict(),
        "input": {"height": config.input_height, "width": config.input_width, "layout": "NCHW", "channels": "RGB",
                  "dtype": "float32"},
        "normalisation": "feed RGB float32 in 0..1 (uint8 / 255); the encoder's mean/std normalisation is inside "
                         "segmenter.onnx",
        "segmenter": {"file": SEGMENTER_FILE,
                      "inputs": ["images [B,3,H,W]", f"text_embeddings [K,{config.query_text_dim}]"],
                      "outputs": ["mask_logits [B*K,1,H,W] (row b*K+k)", "positive_logits [B*K]",
                                  "image_features [B,C] (pooled encoder strides 16 and 32)"]},
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
    parser.add_argument("--vocabulary", nargs="+", metavar="NAME", default=None,
                        help="candidate object names offered when a narration names none (default: those of an "
                             "earlier export in --out; the gripper, 'robot hand', is always one)")
    parser.add_argument("--if-stale", action="store_true",
                        help="do nothing if --out already holds a complete export of this exact checkpoint")
    args = parser.parse_args(argv)

    def handler() -> None:
        if args.if_stale and is_current_export(args.checkpoint, args.out):
            print(f"{PROG}: {args.out} is up to date with {args.checkpoint}")
            return
        vocabulary = tuple(args.vocabulary) if args.vocabulary else None
        result = export_segmenter(args.checkpoint, args.out, args.opset, vocabulary)
        print(f"{PROG}: wrote {result.out_dir} (parity max abs diff: {_format(result.parity)})")

    return run_command(PROG, handler)


if __name__ == "__main__":
    sys.exit(main())
