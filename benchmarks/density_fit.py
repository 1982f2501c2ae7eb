"""Fit a model folder's training-feature density, the gate's distribution-shift reference (``feature_density``).

    python benchmarks/density_fit.py --model models/default --data data/actiseg_sim_v2 --split train \
        --frames 3000 --write-model

Runs ``--frames`` frames of the training split, evenly spaced, through the folder's own segmenter graph (the
features depend on the graph: fp32 and int8 folders are fitted separately) and keeps each frame's pooled encoder
features, and embeds every object name the split's sequences use with the folder's text encoder (the
density's name-familiarity reference). Clips are dealt to the fit set and the reference set in turn (every
``--reference-every``-th clip is a reference clip), so the reference distances, which define the score, come
from clips the Gaussian never saw.
Writes ``density_fit.{json,md}`` (what was fitted, distance quantiles) to ``--out``; ``--write-model`` stores the
density in the model folder (``actiseg_core.feature_density.write_density``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from provenance import machine, write_record  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)
from tqdm import tqdm

from actiseg_core.data.split_info import load_split, split_hash
from actiseg_core.errors import ActiSegError
from actiseg_core.feature_density import SHRINKAGE, FeatureDensity, write_density
from actiseg_core.runtime import Segmenter

RESULTS = Path(__file__).parent / "results"


def frame_features(segmenter: Segmenter, data: Path, split: str, frames: int) -> tuple[np.ndarray, list[str], str]:
    """[N, C] pooled encoder features of ``frames`` evenly spaced frames, their clip names and the split's hash."""
    dataset = load_split(data, split)
    chosen = sorted(set(np.linspace(0, len(dataset.frames) - 1, min(frames, len(dataset.frames))).round()
                        .astype(int).tolist()))
    features, clips = [], []
    for index in tqdm(chosen, desc=f"features {split}", unit="frame"):
        ref = dataset.frames[index]
        name = next(obj.name for _, obj in sorted(ref.sequence.objects.items()))
        prediction = segmenter.predict(dataset.load_image(ref), ref.sequence.narration, [name])
        if prediction.image_features is None:
            raise ActiSegError("this model folder's segmenter graph has no image_features output: export it again")
        features.append(prediction.image_features)
        clips.append(ref.sequence.folder)
    return np.stack(features), clips, split_hash(dataset)


def training_names(data: Path, split: str) -> list[str]:
    """Every object name the split's sequences use (the names the model was trained on), gripper names included.
    Not the class map's: one map serves every split of a root, held-out classes included."""
    return sorted({obj.name for seq in load_split(data, split).sequences for obj in seq.objects.values()})


def fit_density(features: np.ndarray, clips: list[str], reference_every: int) -> tuple[FeatureDensity, np.ndarray]:
    """The density and which frames were reference frames (clips dealt in turn, see the module doc)."""
    order = {clip: i for i, clip in enumerate(dict.fromkeys(clips))}
    reference = np.array([order[clip] % reference_every == 0 for clip in clips])
    return FeatureDensity.fit(features[~reference], features[reference]), reference


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model folder")
    parser.add_argument("--data", type=Path, default=Path("data/actiseg_sim_v2"))
    parser.add_argument("--split", default="train")
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--reference-every", type=int, default=3, help="every N-th clip is a reference clip")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--write-model", action="store_true", help="store the density in the --model folder")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    segmenter = Segmenter.load(args.model)
    features, clips, data_hash = frame_features(segmenter, args.data, args.split, args.frames)
    density, reference = fit_density(features, clips, args.reference_every)
    names = training_names(args.data, args.split)
    density = density.with_names(segmenter.text.embed(names))
    fitted = {"by": "benchmarks/density_fit.py", "data": args.data.name, "split": args.split, "data_hash": data_hash,
              "frames": {"fit": int((~reference).sum()), "reference": int(reference.sum())}, "names": len(names),
              "shrinkage": SHRINKAGE, "commit": machine()["commit"]}
    if args.write_model:
        write_density(args.model, density, fitted)
    distances = density.distances(features)
    report = {"model": str(args.model), **fitted, "dim": density.dim,
              "distance_quantiles": {role: {q: round(float(np.quantile(distances[mask], q / 100)), 3)
                                            for q in (50, 90, 99)}
                                     for role, mask in (("fit", ~reference), ("reference", reference))},
              "written_to_model": args.write_model, "wall_s": round(time.perf_counter() - started, 1)}
    write_record(args.out, "density_fit", report, density_text(report))


def density_text(report: dict) -> str:
    """The record's Markdown: what was fitted on what, and the distance quantiles of fit and reference frames."""
    lines = [f"# Feature density of {report['model']}", "",
             f"Fitted on {report['data']}/{report['split']} (hash {report['data_hash']}), {report['frames']['fit']} "
             f"fit and {report['frames']['reference']} reference frames, {report['dim']} dims, shrinkage "
             f"{report['shrinkage']}, {report['names']} training names; commit {report['commit']}.", "",
             "| frames | p50 | p90 | p99 |", "|---|---|---|---|"]
    lines += [f"| {role} | " + " | ".join(str(v) for v in quantiles.values()) + " |"
              for role, quantiles in report["distance_quantiles"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
