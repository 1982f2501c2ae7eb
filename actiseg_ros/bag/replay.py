"""``actiseg-bag replay``: what the segmenter answers to a bag, scored against the bag's ground truth.

Offline (default) the frames go through :class:`actiseg_core.stream.StreamProcessor` in this process, which is
what the node runs: ``Segmenter.predict`` on the model folder, on any backend, and the folder's fitted gate.
``live`` plays the bag over DDS to a running node instead (:mod:`actiseg_ros.bag.live`) and scores the node's
``/active_objects`` answers; a frame the node skipped has no answer (scored as an empty prediction, and without a
verdict). Either way :class:`actiseg_core.evaluation.Scorer` scores it: the ActionVOS metrics and the gate's
figures (unsafe-GO rate, GO availability, NO-GO precision / recall, with counts; failure = frame p-IoU < 0.5),
printed per frame and written as ``replay.json``; ``video`` writes an overlay video.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from actiseg_core.atomic import atomic_write_json
from actiseg_core.errors import ActiSegError
from actiseg_core.evaluation import Answer, FrameScore, Scorer, answer_stream
from actiseg_core.evaluation.outputs import result_json
from actiseg_core.stream import ImageDecodeError, StreamProcessor, render_overlay
from actiseg_ros.bag.format import BagFrame, bag_image, frame_truth, read_bag, stream_items

PROG = "actiseg-bag"


def replay_offline(frames: list[BagFrame], model: Path, backend: str = "onnxruntime", progress: bool = False
                   ) -> tuple[StreamProcessor, Iterator[tuple[BagFrame, np.ndarray | None, Answer | None]]]:
    """The processor (with the model folder's gate) and, lazily, each frame with its decoded image (None if it
    could not be decoded) and the processor's answer, in this process."""
    from actiseg_core.runtime import Segmenter

    processor = StreamProcessor(Segmenter.load(model, backend=backend))
    items = tqdm(stream_items(frames), total=len(frames), desc=f"{PROG} replay", unit="frame", disable=not progress)
    answers = ((item.ref, item.image if isinstance(item.image, np.ndarray) else None, answer)
               for item, answer in answer_stream(processor, items))
    return processor, answers


def replay(bag: Path, out: Path, model: Path, backend: str = "onnxruntime", live: bool = False, rate: float = 1.0,
           video: bool = False, progress: bool = True, print_frames: bool = True) -> dict[str, Any]:
    """Replay ``bag`` offline (or ``live`` through a running node) and score it; writes ``out/replay.json``."""
    frames = list(read_bag(bag))
    gate_config = None
    if live:
        from actiseg_ros.bag.live import replay_live

        answers = replay_live(frames, rate, progress)
        stream: Iterator[tuple[BagFrame, np.ndarray | None, Answer | None]] = (
            (frame, None, answers.get(frame.stamp_ns)) for frame in frames)
    else:
        processor, stream = replay_offline(frames, model, backend, progress)
        gate_config = asdict(processor.gate.config)
    scorer = Scorer(references=False)
    reasons: Counter[str] = Counter()
    writer = None
    for frame, image, answer in stream:
        score, _ = scorer.add(frame_truth(frame), answer)
        reasons.update(score.reasons)
        if print_frames:
            print(_frame_line(frame, score), flush=True)
        image = image if image is not None or not video else _decoded(frame)
        if video and image is not None:
            overlay = render_overlay(image, answer.label_map if answer else None, bool(score.go), score.reasons,
                                     frame.narration)
            writer = writer or _video_writer(out / "overlay.mp4", overlay.shape)
            writer.write(overlay[:, :, ::-1])
    if writer is not None:
        writer.release()
    figures = scorer.gate()
    answered = [frame for frame in scorer.frames if frame.answered]
    latencies = [frame.latency_ms for frame in answered if np.isfinite(frame.latency_ms)]
    report = {
        "bag": str(bag), "mode": "live (node over DDS)" if live else f"offline ({backend})",
        "model": None if live else str(model), "gate_config": gate_config,
        "frames": len(scorer.frames), "answered": len(answered), "gate": figures.as_json(),
        "no_go_reasons": dict(reasons.most_common()),
        "metrics": result_json(scorer.results()["model"]),
        "latency_ms": {"p50": round(float(np.percentile(latencies, 50)), 2),
                       "p99": round(float(np.percentile(latencies, 99)), 2)} if latencies else None,
        "frames_detail": [frame.as_json() for frame in scorer.frames],
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "replay.json", report)
    return report


def _frame_line(frame: BagFrame, score: FrameScore) -> str:
    verdict = "GO   " if score.go else "NO-GO"
    p_iou = f"{score.p_iou:.2f}" if score.has_target else "n/a "
    why = "" if score.go else " " + ",".join(score.reasons)
    return f"{frame.stamp_s:.3f}  {verdict}  p-IoU {p_iou}  \"{frame.narration}\"{why}"


def _decoded(frame: BagFrame) -> np.ndarray | None:
    try:
        return bag_image(frame.image_message)
    except ImageDecodeError:
        return None


def _video_writer(path: Path, shape: tuple[int, ...]) -> Any:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (shape[1], shape[0]))
    if not writer.isOpened():
        raise ActiSegError(f"{path}: OpenCV cannot write an mp4 video here")
    return writer
