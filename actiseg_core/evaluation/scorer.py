"""Accumulates a run's scores: the ActionVOS metrics of the model and of the trivial references, and every frame's
p-IoU and verdict (the gate figures). Every scorer of the project (``actiseg-evaluate``, ``actiseg-bag replay``,
the gate fit, training's validation) feeds frames through :meth:`Scorer.add`.

References, scored on the same frames so that a number means something: ``empty`` (predict nothing) and
``gripper-only`` (the GT masks of the hand-class objects only: the gripper, VISOR's hands).
"""

from __future__ import annotations

import numpy as np

from actiseg_core.evaluation.figures import GateFigures
from actiseg_core.evaluation.frames import Answer, FrameScore, FrameTruth, score_frame
from actiseg_core.metrics import ActionVOSMetrics, MetricResult

MODEL = "model"
REFERENCES = ("empty", "gripper-only")


class Scorer:
    """Metrics for :data:`MODEL` (and, with ``references``, each of :data:`REFERENCES`) and the frame scores.

    ``keep_records`` keeps the model's per-object records (for ``objects.csv``).
    """

    def __init__(self, references: bool = True, keep_records: bool = False) -> None:
        self.metrics = {MODEL: ActionVOSMetrics(keep_records)}
        if references:
            self.metrics |= {name: ActionVOSMetrics(False) for name in REFERENCES}
        self.frames: list[FrameScore] = []

    def add(self, truth: FrameTruth, answer: Answer | None) -> tuple[FrameScore, np.ndarray]:
        """Score one frame (``answer`` None: it was never answered); returns its score and predicted palette map."""
        score, predicted = score_frame(truth, answer)
        tags = {"sequence": truth.sequence, "frame": truth.frame}
        self.metrics[MODEL].update(truth.labels, predicted, truth.positives, **tags)
        if "empty" in self.metrics:
            self.metrics["empty"].update(truth.labels, np.zeros_like(truth.labels), truth.positives, **tags)
        if "gripper-only" in self.metrics:
            hands = np.where(np.isin(truth.labels, truth.hand_ids), truth.labels, 0).astype(np.uint8)
            self.metrics["gripper-only"].update(truth.labels, hands, truth.positives, **tags)
        self.frames.append(score)
        return score, predicted

    def results(self) -> dict[str, MetricResult]:
        return {name: metrics.result() for name, metrics in self.metrics.items()}

    def gate(self) -> GateFigures:
        return GateFigures.from_frames(self.frames)
