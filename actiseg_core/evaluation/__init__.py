"""The one scorer (DESIGN §2, §4, §8): a split or a stream of bag frames through the deployment runtime, scored with
the ActionVOS metrics, one definition of a failing frame, and the gate's figures. numpy + onnxruntime only.

- :mod:`~actiseg_core.evaluation.frames`: a frame's truth and answer, its p-IoU and the failure definition;
- :mod:`~actiseg_core.evaluation.figures`: unsafe-GO rate, GO availability, NO-GO precision / recall;
- :mod:`~actiseg_core.evaluation.scorer`: the metrics of the model and of the trivial references, frame by frame;
- :mod:`~actiseg_core.evaluation.stream`: frames answered by :class:`actiseg_core.stream.StreamProcessor`;
- :mod:`~actiseg_core.evaluation.split`: an ActionVOS-layout split as such a stream;
- :mod:`~actiseg_core.evaluation.cli`: ``actiseg-evaluate`` (:func:`evaluate`).
"""

from actiseg_core.evaluation.figures import GateFigures, Rate, failure_definition
from actiseg_core.evaluation.frames import (
    FAILURE_P_IOU,
    Answer,
    FrameScore,
    FrameTruth,
    failing,
    frame_p_iou,
    palette_labels,
    score_frame,
)
from actiseg_core.evaluation.scorer import MODEL, REFERENCES, Scorer
from actiseg_core.evaluation.split import score_split, split_stream
from actiseg_core.evaluation.stream import StreamItem, answer_stream, score_stream

__all__ = [
    "FAILURE_P_IOU", "MODEL", "REFERENCES", "Answer", "FrameScore", "FrameTruth", "GateFigures", "Rate", "Scorer",
    "StreamItem", "answer_stream", "failing", "failure_definition", "frame_p_iou", "palette_labels", "score_frame",
    "score_split", "score_stream", "split_stream",
]
