"""The gate's figures over a set of frames (DESIGN §8), each a rate with the counts it is made of.

Populations (failure, good and no-target frames as :mod:`actiseg_core.evaluation.frames` defines them): only
frames that got a verdict count (a frame the node never answered has none); of those, frames without a truly
active object are counted apart (``without_target``, and how many of them got GO) and are in none of the rates.
Over the frames with a target:

* **unsafe-GO rate** = failing frames among the GO verdicts (lower is better);
* **GO availability** = GO verdicts among the good frames (higher is better);
* **NO-GO precision** = failing frames among the NO-GO verdicts; **NO-GO recall** = NO-GO verdicts among the
  failing frames.

Each rate carries its exact (Clopper-Pearson) 95% interval, and the unsafe-GO rate also its one-sided 95% upper
bound: what a calibration can promise about a rate measured on a few hundred frames. That bound treats frames as
independent draws, and frames of one clip are not (a clip the model gets wrong tends to be GO and wrong on many
frames). Where the frames' clips are known, the **unsafe-GO clip rate** counts clips instead: clips with a failing
GO frame among the clips with a GO frame, whose bound holds when clips are the independent units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import beta

from actiseg_core.evaluation.frames import FAILURE_P_IOU, FrameScore, failing


@dataclass(frozen=True)
class Rate:
    """``count`` of ``of`` frames; ``value`` is None when ``of`` is 0 (nothing to take a rate of)."""

    count: int
    of: int

    @property
    def value(self) -> float | None:
        return self.count / self.of if self.of else None

    def interval(self, confidence: float = 0.95) -> tuple[float, float] | None:
        """The exact two-sided Clopper-Pearson interval of the true rate; None when ``of`` is 0."""
        if not self.of:
            return None
        tail = (1.0 - confidence) / 2
        lower = float(beta.ppf(tail, self.count, self.of - self.count + 1)) if self.count else 0.0
        return lower, self.upper_bound(1.0 - tail)

    def upper_bound(self, confidence: float = 0.95) -> float:
        """The one-sided Clopper-Pearson upper bound: the true rate is below it with ``confidence`` (1.0 if
        ``of`` is 0: nothing measured, nothing promised)."""
        if self.count >= self.of:
            return 1.0
        return float(beta.ppf(confidence, self.count + 1, self.of - self.count))

    def as_json(self, with_bound: bool = False) -> dict[str, Any]:
        """Rate, counts and 95% interval; ``with_bound`` adds the one-sided 95% upper bound (``upper95``)."""
        value, interval = self.value, self.interval()
        figures = {"rate": None if value is None else round(value, 4), "count": self.count, "of": self.of,
                   "ci95": None if interval is None else [round(bound, 4) for bound in interval]}
        return {**figures, "upper95": round(self.upper_bound(), 4)} if with_bound else figures

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rate:
        return cls(int(data["count"]), int(data["of"]))

    def __str__(self) -> str:
        """``value (count/of)``, e.g. ``0.045 (12/265)``."""
        value = self.value
        return f"{'n/a' if value is None else f'{value:.3f}'} ({self.count}/{self.of})"


@dataclass(frozen=True)
class GateFigures:
    """Verdict counts and the four rates (module docstring)."""

    verdicts: int
    go: int
    no_go: int
    failures: int
    good: int
    without_target: int
    without_target_go: int
    unsafe_go: Rate
    availability: Rate
    no_go_precision: Rate
    no_go_recall: Rate
    unsafe_go_clips: Rate | None = None  # None where the frames' clips are not known

    @classmethod
    def from_arrays(cls, go: ArrayLike, p_iou: ArrayLike, sequences: ArrayLike | None = None) -> GateFigures:
        """From per-frame verdicts (bool, True = GO) and p-IoUs (NaN = no active object) of frames with a verdict;
        with ``sequences`` (each frame's clip) also the unsafe-GO clip rate."""
        go = np.asarray(go, bool)
        p_iou = np.asarray(p_iou, np.float64)
        if go.shape != p_iou.shape or go.ndim != 1:
            raise ValueError(f"go {go.shape} and p_iou {p_iou.shape} must be two 1-D arrays of one length")
        target = ~np.isnan(p_iou)
        failure = failing(p_iou)
        good = target & ~failure
        no_go = ~go
        clips = None
        if sequences is not None:
            sequences = np.asarray(sequences, str)
            if sequences.shape != go.shape:
                raise ValueError(f"sequences {sequences.shape} must be as long as go {go.shape}")
            clips = Rate(len(set(sequences[go & failure])), len(set(sequences[go & target])))
        return cls(
            verdicts=int(go.size), go=int(go.sum()), no_go=int(no_go.sum()), failures=int(failure.sum()),
            good=int(good.sum()), without_target=int((~target).sum()), without_target_go=int((go & ~target).sum()),
            unsafe_go=Rate(int((go & failure).sum()), int((go & target).sum())),
            availability=Rate(int((go & good).sum()), int(good.sum())),
            no_go_precision=Rate(int((no_go & failure).sum()), int((no_go & target).sum())),
            no_go_recall=Rate(int((no_go & failure).sum()), int(failure.sum())), unsafe_go_clips=clips,
        )

    @classmethod
    def from_frames(cls, frames: Iterable[FrameScore]) -> GateFigures:
        """From scored frames; frames without a verdict (unanswered, or no gate) are left out."""
        judged = [frame for frame in frames if frame.go is not None]
        return cls.from_arrays([frame.go for frame in judged], [frame.p_iou for frame in judged],
                               [frame.sequence for frame in judged])

    def as_json(self) -> dict[str, Any]:
        figures = {"failure": failure_definition(), "verdicts": self.verdicts, "go": self.go, "no_go": self.no_go,
                   "true_failures": self.failures, "good_frames": self.good,
                   "without_target": {"frames": self.without_target, "go": self.without_target_go},
                   "unsafe_go_rate": self.unsafe_go.as_json(with_bound=True)}
        if self.unsafe_go_clips is not None:
            figures["unsafe_go_clips"] = self.unsafe_go_clips.as_json(with_bound=True)
        return {**figures, "go_availability": self.availability.as_json(),
                "no_go_precision": self.no_go_precision.as_json(), "no_go_recall": self.no_go_recall.as_json()}

    def summary(self) -> str:
        """One line for a terminal."""
        line = (f"gate: GO {self.go} / NO-GO {self.no_go}; unsafe-GO rate {self.unsafe_go} (95% upper bound "
                f"{self.unsafe_go.upper_bound():.3f}), GO availability "
                f"{self.availability}, NO-GO precision {self.no_go_precision}, recall {self.no_go_recall} "
                f"(failure: {failure_definition()})")
        if self.unsafe_go_clips is not None:
            line += (f"; by clip, unsafe GO {self.unsafe_go_clips} (bound {self.unsafe_go_clips.upper_bound():.3f})")
        if self.without_target:
            line += f"; {self.without_target} frames without an active object ({self.without_target_go} GO)"
        return line


def failure_definition() -> str:
    return f"frame p-IoU < {FAILURE_P_IOU}"
