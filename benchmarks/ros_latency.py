"""End-to-end latency of the ROS node over DDS, three separate processes, and whether a backlog builds up.

    bash -c 'source scripts/setup_env.sh && source scripts/ros_env.sh && python benchmarks/ros_latency.py'

A publisher process sends 640x480 rgb8 images at 30 Hz (sensor-data QoS, as cameras do) with one narration naming
K = 4 candidates; the node (``actiseg_ros.node``, the shipped default model, onnxruntime CPU) answers on
``active_objects``; a listener process records every answer. Latency = the listener's receive time minus the
image's header stamp (the publisher's wall clock at publication; one machine, one clock), so it covers DDS both
ways, deserialisation, decoding, the model, the gate and the answer. Backlog: the node's latest-frame slot holds at
most one frame by construction; the benchmark checks it from the outside too, as the latency trend from the first
to the last 30 s (a queue would make latency grow) and the node's own diagnostics (backlog, dropped frames).

Writes ``ros_latency.json``, ``ros_latency.md`` and ``ros_latency.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from provenance import machine, write_record  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

from actiseg_core.stream import CAMERA_SILENT  # noqa: E402

RESULTS = Path(__file__).parent / "results"
NAMES = "milk carton,robot hand,plate,ball"


def run(args: argparse.Namespace) -> dict[str, object]:
    env = {**os.environ, "ROS_DOMAIN_ID": str(args.domain_id),
           "FASTDDS_BUILTIN_TRANSPORTS": os.environ.get("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")}
    answers_file = Path(tempfile.mkdtemp()) / "answers.json"
    node = subprocess.Popen([sys.executable, "-m", "actiseg_ros.node", "--ros-args", "--params-file",
                             "config/segment.yaml", "-p", f"model_dir:={args.model}", "-p", f"threads:={args.threads}",
                             "-p", "diagnostics_period_s:=5.0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        listener = subprocess.Popen([sys.executable, "-m", "actiseg_ros.probe", "listen", "--duration",
                                     str(args.duration + 15), "--out", str(answers_file)], env=env,
                                    stdout=subprocess.PIPE, text=True)
        listener.stdout.readline()  # "listening": DDS participants are started one at a time (see probe.listen)
        publisher = subprocess.run([sys.executable, "-m", "actiseg_ros.probe", "publish", "--rate", str(args.rate),
                                    "--size", "480x640", "--duration", str(args.duration), "--delay", "2",
                                    "--narration", "pick up the milk carton", "--names", NAMES],
                                   env=env, capture_output=True, text=True, timeout=args.duration + 60)
        if publisher.returncode != 0:
            raise SystemExit(f"publisher failed: {publisher.stderr[-2000:]}")
        listener.wait(timeout=args.duration + 60)
    finally:
        node.terminate()
        node_log = node.communicate(timeout=30)[0]
    recorded = json.loads(answers_file.read_text())
    published = json.loads(publisher.stdout.strip().splitlines()[-1])
    return summarise(recorded, published, node_log, args)


def summarise(recorded: dict, published: dict, node_log: str, args: argparse.Namespace) -> dict[str, object]:
    answers = [a for a in recorded["answers"] if CAMERA_SILENT not in a["reasons"]]  # frames' answers only
    if not answers:
        raise SystemExit(f"the node answered nothing; its log:\n{node_log[-3000:]}")
    stamps = np.array([a["stamp_ns"] for a in answers], np.int64)
    latency = np.array([a["latency_ms"] for a in answers])
    seconds = (stamps - stamps[0]) / 1e9
    first, last = latency[seconds < 30], latency[seconds > seconds[-1] - 30]
    diagnostics = [d for d in recorded["diagnostics"] if "frames_received" in d]
    final = diagnostics[-1] if diagnostics else {}
    return {
        "setup": {"image": "640x480 rgb8", "rate_hz": args.rate, "queries": 4, "duration_s": args.duration,
                  "node_threads": args.threads, "model": args.model, "image_qos": "sensor_data (best effort)",
                  "transport": os.environ.get("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")},
        "published": published["published"], "answered": len(answers),
        "answered_fraction": round(len(answers) / published["published"], 4),
        "latency_ms": {"p50": round(float(np.percentile(latency, 50)), 2),
                       "p90": round(float(np.percentile(latency, 90)), 2),
                       "p99": round(float(np.percentile(latency, 99)), 2),
                       "max": round(float(latency.max()), 2)},
        "inference_ms_p50": round(float(np.median([a["inference_ms"] for a in answers])), 2),
        "backlog": {"first_30s_p50_ms": round(float(np.median(first)), 2),
                    "last_30s_p50_ms": round(float(np.median(last)), 2),
                    "slope_ms_per_minute": round(float(np.polyfit(seconds, latency, 1)[0] * 60), 3),
                    "node_backlog_max": max((int(d["backlog"]) for d in diagnostics), default=None),
                    "node_frames_received": final.get("frames_received"),
                    "node_frames_dropped": final.get("frames_dropped")},
        "headers_match": all(a["mask_stamp_ns"] == a["stamp_ns"] == a["gate_stamp_ns"] for a in answers),
        "series": {"t_s": [round(float(t), 3) for t in seconds], "latency_ms": [round(float(v), 2) for v in latency]},
    }


def markdown(report: dict) -> str:
    s, lat, backlog, m = report["setup"], report["latency_ms"], report["backlog"], report["machine"]
    return "\n".join([
        "# ROS node end-to-end latency (separate processes over DDS)", "",
        f"{s['image']} at {s['rate_hz']:g} Hz, K = {s['queries']}, {s['duration_s']:g} s, node on "
        f"{s['node_threads']} onnxruntime threads, image QoS {s['image_qos']}, Fast DDS transports {s['transport']}. "
        f"Machine: {m['cpu']} ({', '.join(m.get('isa', [])) or 'instruction set not recorded'}), {m['cores']} "
        f"cores (publisher, node and listener share them), commit {m['commit']}, "
        f"{report['measured_at']} (`benchmarks/ros_latency.py`).", "",
        "| published | answered | p50 ms | p90 ms | p99 ms | max ms | model p50 ms |", "|---|---|---|---|---|---|---|",
        f"| {report['published']} | {report['answered']} ({100 * report['answered_fraction']:.1f}%) | {lat['p50']} | "
        f"{lat['p90']} | {lat['p99']} | {lat['max']} | {report['inference_ms_p50']} |", "",
        f"Backlog: latency p50 {backlog['first_30s_p50_ms']} ms in the first 30 s and {backlog['last_30s_p50_ms']} ms "
        f"in the last 30 s (trend {backlog['slope_ms_per_minute']} ms per minute); the node's one-frame slot held "
        f"{backlog['node_backlog_max']} waiting frame(s) at most when sampled; it received "
        f"{backlog['node_frames_received']} frames and dropped "
        f"{backlog['node_frames_dropped']} (latest-frame-wins). Every answer's header (and its mask's and gate's) "
        f"equals its image's header: {report['headers_match']}.", "",
        "![latency over time](ros_latency.png)", ""])


def plot(report: dict, path: Path) -> None:
    series = report["series"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.plot(series["t_s"], series["latency_ms"], ".", markersize=2)
    left.set(xlabel="time (s)", ylabel="end-to-end latency (ms)", title="Latency over the run (no backlog growth)")
    right.hist(series["latency_ms"], bins=60)
    for name, style in (("p50", "-"), ("p99", "--")):
        right.axvline(report["latency_ms"][name], color="black", linestyle=style, label=name)
    right.set(xlabel="end-to-end latency (ms)", ylabel="answers", title="Distribution")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="models/default_int8", help="model folder (default: the node's default)")
    parser.add_argument("--domain-id", type=int, default=77)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    report = run(args)
    report["machine"] = machine()
    report["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_record(args.out, "ros_latency", report, markdown(report), lambda path: plot(report, path))


if __name__ == "__main__":
    main()
