"""int8 model folder: onnxruntime static quantization of ``segmenter.onnx``, calibrated on real frames.

    python -m actiseg_core.export.quantize --model models/default --data data/actiseg_sim --out models/default_int8

EfficientNet-Lite0 was designed to quantize well (no squeeze-excite, ReLU6), and CPUs with VNNI run int8
convolutions much faster than fp32 (``benchmarks/results/latency.md``; without VNNI int8 can be slower: name the
CPU). Weights are int8 per output channel,
activations uint8 per tensor (QDQ format, which onnxruntime CPU and TensorRT both read), calibrated on
``--frames`` frames spread over ``--split`` with their real prompts (MinMax ranges). The rest of the folder (text
tokenizer, pre/post graphs, checkpoint, the contract) is copied unchanged, so the result is an ordinary model folder
for the runtime, the node and ``actiseg-evaluate``; ``model.json`` records the quantization and the masks'
agreement with the fp32 graph on the calibration frames. A gate is fitted for one graph, so the int8 folder keeps
only a gate fitted for exactly its own quantized graph (from an earlier ``model.json`` in ``--out``), never the fp32
folder's. Measure accuracy with ``actiseg-evaluate`` before use.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from actiseg_core.atomic import atomic_write_bytes, atomic_write_json
from actiseg_core.cli_util import OneLineParser, positive_int, run_command
from actiseg_core.contract import METADATA_FILE, GateSpec, earlier_contract
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.errors import ActiSegError
from actiseg_core.feature_density import METADATA_KEY, kept_record
from actiseg_core.runtime import Segmenter
from actiseg_core.runtime.model_dir import CHECKPOINT_FILE, file_sha256

PROG = "actiseg-quantize"


class _Frames(CalibrationDataReader):
    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def calibration_feeds(segmenter: Segmenter, data: Path, split: str, frames: int) -> list[dict[str, np.ndarray]]:
    """Graph inputs of ``frames`` frames spread evenly over the split, with each frame's real prompts."""
    dataset = ActionVOSDataset(data, split)
    if not dataset.frames:
        raise ActiSegError(f"{data}: split {split!r} has no frames to calibrate on")
    chosen = np.linspace(0, len(dataset.frames) - 1, min(frames, len(dataset.frames))).round().astype(int)
    feeds = []
    for index in sorted(set(chosen.tolist())):
        ref = dataset.frames[index]
        names = [obj.name for _, obj in sorted(ref.sequence.objects.items())]
        (images,) = segmenter.preprocess.run(None, {"image": dataset.load_image(ref)})
        feeds.append({"images": images, "text_embeddings": segmenter.prompt_embeddings(ref.sequence.narration,
                                                                                       names)})
    return feeds


def mask_agreement(reference: Segmenter, quantized: Segmenter, feeds: list[dict[str, np.ndarray]]) -> float:
    """Mean IoU of the active masks (the contract's pixel and positive thresholds) of the two graphs over ``feeds``."""
    pixel_logit, positive_logit = (_logit(t) for t in (reference.pixel_threshold, reference.positive_threshold))
    ious = []
    for feed in feeds:
        masks = []
        for segmenter in (reference, quantized):
            logits, positives, _ = segmenter.backend.run(feed["images"], feed["text_embeddings"])
            masks.append((logits[:, 0] >= pixel_logit) & (positives >= positive_logit)[:, None, None])
        union = (masks[0] | masks[1]).sum()
        ious.append((masks[0] & masks[1]).sum() / union if union else 1.0)
    return float(np.mean(ious))


def _logit(probability: float) -> float:
    return float(np.log(probability / (1.0 - probability)))


def quantize_model_folder(model: Path, out: Path, data: Path, split: str = "train", frames: int = 32) -> dict[str, Any]:
    """Write the int8 copy of model folder ``model`` to ``out``; returns its ``quantization`` metadata."""
    model, out = Path(model), Path(out)
    if out.resolve() == model.resolve():
        raise ActiSegError(f"{out}: the int8 folder must differ from the source folder")
    reference = Segmenter.load(model)
    feeds = calibration_feeds(reference, data, split, frames)
    with tempfile.TemporaryDirectory() as scratch:
        prepared, quantized = Path(scratch) / "prepared.onnx", Path(scratch) / "int8.onnx"
        # The dynamo graph's Concat of dynamic shapes defeats symbolic shape inference; ONNX's own suffices here.
        quant_pre_process(str(reference.model_dir.segmenter_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(quantized), _Frames(feeds), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        graph = quantized.read_bytes()
    out.mkdir(parents=True, exist_ok=True)
    folder = reference.model_dir
    unchanged = {*folder.metadata["sha256"], folder.tokenizer_path.name, CHECKPOINT_FILE}
    for name in sorted(unchanged - {folder.segmenter_path.name}):
        if (folder.root / name).is_file():
            shutil.copy2(folder.root / name, out / name)
    segmenter_name = reference.model_dir.segmenter_path.name
    atomic_write_bytes(out / segmenter_name, graph)
    metadata = json.loads(json.dumps(reference.model_dir.metadata))
    metadata["sha256"][segmenter_name] = file_sha256(out / segmenter_name)
    previous = earlier_contract(out)
    gate = previous.gate.kept_for(metadata["sha256"][segmenter_name]) if previous is not None else GateSpec()
    metadata["contract"]["gate"] = asdict(gate)
    metadata.pop(METADATA_KEY, None)  # the fp32 graph's features: the int8 folder gets its own fit
    density = kept_record(out, metadata["sha256"][segmenter_name])
    if density:
        metadata[METADATA_KEY] = density
    info = {"method": "onnxruntime static, QDQ, int8 weights per channel, uint8 activations, MinMax",
            "calibration": {"data": data.name, "split": split, "frames": len(feeds)}, "source_folder": str(model),
            "source_sha256": folder.sha256(segmenter_name)}
    metadata["quantization"] = info
    atomic_write_json(out / METADATA_FILE, metadata)  # last: the folder is complete
    info["mask_iou_vs_fp32"] = round(mask_agreement(reference, Segmenter.load(out), feeds), 4)
    metadata["quantization"] = info
    atomic_write_json(out / METADATA_FILE, metadata)
    return info


def is_current_int8(model: Path, out: Path) -> bool:
    """True if ``out`` is a complete int8 folder made from exactly the folder now in ``model`` (same format, same
    graphs but the quantized one)."""
    try:
        source = json.loads((Path(model) / METADATA_FILE).read_text(encoding="utf-8"))
        made = json.loads((Path(out) / METADATA_FILE).read_text(encoding="utf-8"))
        segmenter = source["segmenter"]["file"]
        same_files = all(made["sha256"].get(name) == digest for name, digest in source["sha256"].items()
                         if name != segmenter)
        same_contract = ({k: v for k, v in made["contract"].items() if k != "gate"}
                         == {k: v for k, v in source["contract"].items() if k != "gate"})
        return (made["format"] == source["format"] and same_files and same_contract
                and "mask_iou_vs_fp32" in made["quantization"]
                and made["quantization"]["source_sha256"] == source["sha256"][segmenter])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="fp32 model folder (model.json + ONNX graphs)")
    parser.add_argument("--data", type=Path, required=True, help="ActionVOS-layout root with calibration frames")
    parser.add_argument("--split", default="train", help="split to calibrate on (default: %(default)s)")
    parser.add_argument("--frames", type=positive_int, default=32, help="calibration frames (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="int8 model folder to write")
    parser.add_argument("--if-stale", action="store_true",
                        help="do nothing if --out is already the int8 copy of --model's current graph")
    args = parser.parse_args(argv)

    def handler() -> None:
        if args.if_stale and is_current_int8(args.model, args.out):
            print(f"{PROG}: {args.out} is up to date with {args.model}")
            return
        info = quantize_model_folder(args.model, args.out, args.data, args.split, args.frames)
        print(f"{PROG}: wrote {args.out} ({info['calibration']['frames']} calibration frames; active-mask IoU "
              f"with the fp32 graph {info['mask_iou_vs_fp32']:.3f})")

    return run_command(PROG, handler)


if __name__ == "__main__":
    sys.exit(main())
