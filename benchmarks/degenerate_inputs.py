"""Verdicts of the shipped model folders on frames no camera should be trusted with (DESIGN §8).

    python benchmarks/degenerate_inputs.py [--data data/actiseg_sim] [--out benchmarks/results]

Each input goes through :class:`actiseg_core.stream.StreamProcessor` (the node's logic, the folder's gate) with the
narration and candidate objects of a real ActiSeg-Sim val clip: all black (a covered or dead camera),
all white (blown out), uniform grey (a lens cap, a flat wall), uniform noise (a broken sensor link), a real
ActiSeg-Sim val frame sent twice (a frozen driver), the same frame under a heavy blur (defocus), and the frame
itself once as the control. Writes ``degenerate_inputs.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from provenance import machine, write_record

from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.runtime import Segmenter
from actiseg_core.stream import StreamProcessor

REPO = Path(__file__).resolve().parents[1]
FOLDERS = (REPO / "models" / "default_int8", REPO / "models" / "default")


NOISE = "uniform noise"


def inputs(frame: np.ndarray) -> dict[str, list[np.ndarray]]:
    """Each case as the frames sent one after another (the verdict is the last frame's)."""
    shape = frame.shape
    noise = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    blurred = np.asarray(Image.fromarray(frame).filter(ImageFilter.GaussianBlur(8)))
    return {"control: a val frame": [frame], "all black": [np.zeros(shape, np.uint8)],
            "all white": [np.full(shape, 255, np.uint8)], "uniform grey": [np.full(shape, 128, np.uint8)],
            NOISE: [noise], "the val frame repeated": [frame, frame.copy()],
            "heavy blur (Gaussian, radius 8)": [blurred]}


def verdicts(folder: Path, frame: np.ndarray, narration: str, names: list[str]) -> dict[str, dict[str, object]]:
    segmenter = Segmenter.load(folder)
    results = {}
    for case, frames in inputs(frame).items():
        processor = StreamProcessor(segmenter)
        processor.set_narration(narration, names, 1.0)
        for index, image in enumerate(frames):
            result = processor.process(image, 1.0 + 0.1 * index, 1.0 + 0.1 * index)
        active = [name for name, is_active in zip(result.object_names, result.active, strict=True) if is_active]
        results[case] = {"go": result.go, "reasons": list(result.reasons), "active": active,
                         "max_positive_score": round(float(np.max(result.scores)), 4) if len(result.scores) else None}
    return results


def markdown(report: dict) -> str:
    lines = ["# Degenerate camera inputs", "", f"`python benchmarks/degenerate_inputs.py` (commit "
             f"{report['machine']['commit']}): narration \"{report['narration']}\" with candidates "
             f"{', '.join(report['candidates'])} (the clip of `{report['frame']}`, the control), the folder's own "
             "gate, the node's logic (`StreamProcessor`). A GO here is unsafe: none of these frames shows a scene to "
             "act on (the control excepted).", ""]
    for folder, results in report["folders"].items():
        lines += [f"## `{folder}`", "",
                  "| input | verdict | reasons | objects judged active | highest positive score |",
                  "|---|---|---|---|---|"]
        for case, result in results.items():
            lines.append(f"| {case} | {'GO' if result['go'] else 'NO-GO'} | {', '.join(result['reasons']) or '-'} | "
                         f"{', '.join(result['active']) or '-'} | {result['max_positive_score']} |")
        unsafe = [case for case, result in results.items() if result["go"] and not case.startswith("control")]
        lines += ["", f"Unsafe GO: {len(unsafe)} of {len(results) - 1} degenerate inputs"
                  + (f" ({', '.join(unsafe)})." if unsafe else "."), ""]
    lines += ["The input statistics cannot tell uniform noise (a broken sensor link) from a busy scene; the "
              "distribution-shift score on the encoder's pooled features (`out_of_distribution`, "
              "`actiseg_core/feature_density.py`) can, where the folder carries a feature density: "
              + "; ".join(f"`{folder}`: {_noise_verdict(results)}" for folder, results in report["folders"].items())
              + ".", ""]
    return "\n".join(lines)


def _noise_verdict(results: dict[str, dict[str, object]]) -> str:
    refused = "out_of_distribution" in results[NOISE]["reasons"]  # type: ignore[operator]
    return "refused as out of distribution" if refused else "not refused by it"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "actiseg_sim_v2")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    dataset = ActionVOSDataset(args.data, "val")
    ref = dataset.frames[0]
    frame, names = dataset.load_image(ref), [obj.name for _, obj in sorted(ref.sequence.objects.items())]
    report = {"frame": f"val/{ref.sequence.folder}/{ref.frame}", "narration": ref.sequence.narration,
              "candidates": names, "machine": machine(),
              "folders": {str(folder.relative_to(REPO)): verdicts(folder, frame, ref.sequence.narration, names)
                          for folder in FOLDERS}}
    write_record(args.out, "degenerate_inputs", report, markdown(report))


if __name__ == "__main__":
    main()
