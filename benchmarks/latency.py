"""Runtime latency per backend, camera size and number of queried objects, with same-run ratios to torch eager.

    python benchmarks/latency.py --model models/default --threads 2

For every available backend (torch eager is the reference; onnxruntime CPU the default; onnxruntime CUDA /
TensorRT and native TensorRT where they load), on the fp32 model folder and its int8 copy (rows ``-int8``; the
node's CPU default), every camera size (240x320, 480x640) and K = 1, 4, 8, it times
``Segmenter.predict`` end to end (preprocess graph, segmenter, postprocess graph to the camera's resolution; prompt
embeddings are cached, as they are between narration changes) and the segmenter graph alone. Backends are
measured in interleaved rounds in one process, so a burst of load from elsewhere hits all of them alike and the
ratios are same-run comparisons. A backend that cannot load here is listed with its reason.

Writes ``latency.json``, ``latency.md`` and ``latency.png`` to ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from provenance import machine, write_record  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)
from tqdm import tqdm  # noqa: E402

from actiseg_core.errors import ActiSegError  # noqa: E402
from actiseg_core.runtime import BACKENDS, Segmenter  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SIZES = ((240, 320), (480, 640))
QUERIES = (1, 4, 8)
REFERENCE = "torch"
NAMES = ("robot hand", "milk carton", "red ball", "loaf of bread", "soda can", "cereal box", "lemon", "bottle")
NARRATION = "pick up the milk carton"


def test_image(height: int, width: int) -> np.ndarray:
    """A smooth colour ramp with a few blocks: deterministic, and not a constant the resizer could shortcut."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=-1)
    image[height // 3: height // 2, width // 4: width // 2] = (200, 30, 30)
    return image.astype(np.uint8)


def load_backends(model: Path, int8_model: Path | None, threads: int,
                  wanted: list[str]) -> tuple[dict[str, Segmenter], dict[str, str]]:
    """Every wanted backend on the fp32 folder, and the graph backends again on the int8 folder (suffix -int8)."""
    loaded, unavailable = {}, {}
    runs = [(name, model) for name in wanted]
    if int8_model is not None:
        runs += [(name, int8_model) for name in wanted if name != REFERENCE]  # torch runs model.pt: no int8 graph
    for name, folder in runs:
        label = name if folder == model else f"{name}-int8"
        try:
            loaded[label] = Segmenter.load(folder, backend=name, threads=threads)
        except ActiSegError as exc:
            unavailable[label] = str(exc)
    return loaded, unavailable


def measure(segmenters: dict[str, Segmenter], image: np.ndarray, queries: int, repeats: int,
            rounds: int) -> dict[str, dict[str, list[float]]]:
    """Per backend, ``repeats`` end-to-end and model-only timings (ms), taken in interleaved rounds."""
    names = list(NAMES[:queries])
    times: dict[str, dict[str, list[float]]] = {b: {"total": [], "model": []} for b in segmenters}
    for segmenter in segmenters.values():  # warm-up: first runs allocate, and the prompt cache fills
        for _ in range(5):
            segmenter.predict(image, NARRATION, names)
    per_round = max(repeats // rounds, 1)
    for _ in range(rounds):
        for backend, segmenter in segmenters.items():
            for _ in range(per_round):
                timings = segmenter.predict(image, NARRATION, names).timings_ms
                times[backend]["total"].append(timings["total"])
                times[backend]["model"].append(timings["model"])
    return times


def summary(samples: list[float]) -> dict[str, float]:
    values = np.array(samples)
    p50 = float(np.percentile(values, 50))
    return {"p50_ms": round(p50, 2), "p99_ms": round(float(np.percentile(values, 99)), 2),
            "mean_ms": round(float(values.mean()), 2), "fps_at_p50": round(1000.0 / p50, 1), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--int8-model", type=Path, default=Path("models/default_int8"),
                        help="int8 copy of --model (actiseg_core.export.quantize); 'none' to skip")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads of every backend")
    parser.add_argument("--repeats", type=int, default=100, help="timed calls per backend and configuration")
    parser.add_argument("--rounds", type=int, default=4, help="interleaving rounds the repeats are split into")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    int8_model = None if str(args.int8_model) == "none" else args.int8_model
    segmenters, unavailable = load_backends(args.model, int8_model, args.threads, args.backends)
    rows = []
    configurations = [(size, k) for size in SIZES for k in QUERIES]
    for (height, width), queries in tqdm(configurations, desc="latency", unit="config"):
        times = measure(segmenters, test_image(height, width), queries, args.repeats, args.rounds)
        reference = summary(times[REFERENCE]["total"])["p50_ms"] if REFERENCE in times else None
        for backend, samples in times.items():
            total = summary(samples["total"])
            rows.append({"backend": backend, "device": segmenters[backend].backend.description,
                         "image": f"{height}x{width}", "queries": queries, **total,
                         "model_p50_ms": summary(samples["model"])["p50_ms"],
                         "speedup_vs_torch_eager": round(reference / total["p50_ms"], 2) if reference else None})
    report = {"model": str(args.model), "int8_model": str(int8_model),
              "model_input": list(next(iter(segmenters.values())).input_size),
              "threads": args.threads, "repeats": args.repeats, "rounds": args.rounds, "rows": rows,
              "unavailable": unavailable, "machine": machine(),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_record(args.out, "latency", report, markdown(report), lambda path: plot(rows, path))


def markdown(report: dict[str, object]) -> str:
    m = report["machine"]
    lines = ["# Runtime latency", "",
             f"`Segmenter.predict` end to end (preprocess, segmenter, postprocess to the camera's resolution; cached "
             f"prompts), model `{report['model']}` and its int8 copy `{report['int8_model']}` (rows `-int8`; graph "
             f"input {report['model_input'][0]}x"
             f"{report['model_input'][1]}), {report['threads']} threads, {report['repeats']} calls per cell in "
             f"{report['rounds']} interleaved rounds. Machine: {m['cpu']} ({', '.join(m.get('isa', []))}), "
             f"{m['cores']} cores, commit {m['commit']}, "
             f"{report['measured_at']}.", "",
             "| backend | image | K | p50 ms | p99 ms | FPS @p50 | model p50 ms | speed-up vs torch eager (same run) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        ratio = f"{r['speedup_vs_torch_eager']:.2f}x" if r["speedup_vs_torch_eager"] else "-"
        lines.append(f"| {r['backend']} | {r['image']} | {r['queries']} | {r['p50_ms']} | {r['p99_ms']} | "
                     f"{r['fps_at_p50']} | {r['model_p50_ms']} | {ratio} |")
    devices = sorted({(r["backend"], r["device"]) for r in report["rows"]})
    lines += ["", "Devices: " + "; ".join(f"{b}: {d}" for b, d in devices) + "."]
    if report["unavailable"]:
        lines += ["", "Not measured here:", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in report["unavailable"].items()]
    lines += ["", "![latency](latency.png)", ""]
    return "\n".join(lines)


def plot(rows: list[dict[str, object]], path: Path) -> None:
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    configurations = list(dict.fromkeys((r["image"], r["queries"]) for r in rows))
    figure, axis = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(backends)
    for i, backend in enumerate(backends):
        values = {(r["image"], r["queries"]): r for r in rows if r["backend"] == backend}
        p50 = [values[c]["p50_ms"] if c in values else 0 for c in configurations]
        p99 = [values[c]["p99_ms"] if c in values else 0 for c in configurations]
        x = np.arange(len(configurations)) + i * width
        axis.bar(x, p50, width, label=f"{backend} p50")
        axis.scatter(x, p99, marker="_", color="black", s=80, label="p99" if i == 0 else None)
    axis.set_xticks(np.arange(len(configurations)) + width * (len(backends) - 1) / 2,
                    [f"{image}\nK={k}" for image, k in configurations])
    axis.set(ylabel="end-to-end latency (ms)", title="Segmenter.predict latency per backend")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
