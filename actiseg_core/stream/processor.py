"""Narration + camera stream -> per-frame active-object masks and a GO / NO-GO verdict, with fault accounting.

Everything the ROS node does besides talking ROS lives here, so it is unit-tested without ROS: which narration is
current, which candidate objects to query, what happens to a bad image or a bad narration (never an exception out
of :meth:`StreamProcessor.process`: a NO-GO result whose reasons say why, and a fault counted), and the gate.

Policy for bad input (the node stays up and the planner is told, frame by frame):

* a frame that cannot be decoded -> NO-GO with the decoder's reason (``bad_image_encoding``, ``bad_image_step``,
  ``empty_image``, ``image_too_large``, ...), no mask;
* no narration yet -> NO-GO ``no_narration``; an invalid narration (empty, too long, not text, unknown object names
  when the vocabulary is enforced) *replaces* the current one -> NO-GO ``invalid_narration`` until a valid one
  arrives: acting on the previous action after the operator said something else would be wrong;
* a model failure (should not happen; e.g. a GPU error) -> NO-GO ``inference_error``;
* an unstamped image (stamp 0) where stamps are required (a live stream) -> segmented, but NO-GO
  ``unstamped_image``: its age, and so its staleness, cannot be known;
* no image for longer than the caller's silence bound -> :meth:`StreamProcessor.silent` gives a NO-GO
  ``camera_silent`` verdict to publish in place of a frame's, so a planner never holds on to the last GO.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from actiseg_core.contract import GRIPPER_NAME
from actiseg_core.errors import ActiSegError
from actiseg_core.gating import Gate, GateConfig, GateDecision
from actiseg_core.input_sanity import image_statistics
from actiseg_core.prompts import normalise_text
from actiseg_core.runtime.segmenter import InputError, Segmenter, check_prompts

#: the reason of the verdict published while no image arrives (:meth:`StreamProcessor.silent`)
CAMERA_SILENT = "camera_silent"


@dataclass(frozen=True)
class Narration:
    """The current action: text, the candidate objects to query, and when it was given (seconds, node clock)."""

    text: str
    object_names: tuple[str, ...]
    stamp_s: float


@dataclass
class FrameResult:
    """One processed frame. ``label_map`` is None when the frame could not be segmented (see ``reasons``)."""

    go: bool
    reasons: tuple[str, ...]
    narration: str = ""
    object_names: tuple[str, ...] = ()
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    label_map: np.ndarray | None = None
    union_probability: np.ndarray | None = None
    decision: GateDecision | None = None
    inference_ms: float = 0.0
    detail: str = ""  # the human-readable message behind a fault reason, for logs

    @property
    def p_confidence(self) -> float:
        return self.decision.p_confidence if self.decision else 0.0

    @property
    def n_risk(self) -> float:
        return self.decision.n_risk if self.decision else 1.0

    @property
    def boundary_uncertainty(self) -> float:
        return self.decision.boundary_uncertainty if self.decision else 1.0

    @property
    def temporal_stability(self) -> float:
        return self.decision.temporal_stability if self.decision else 0.0


class StreamProcessor:
    """Holds the segmenter, the gate, the current narration and the fault counters of one stream.

    Args:
        segmenter: a loaded runtime :class:`Segmenter`.
        gate_config: gate thresholds (None: the ones fitted for the segmenter's model, from its contract).
        vocabulary: candidate object names used when a narration names none (None: the contract's).
        enforce_vocabulary: reject narrations whose candidate names are not in ``vocabulary`` (a robot that only
            knows some objects should not be asked about others).
        require_stamps: a frame stamped 0 is NO-GO ``unstamped_image`` (live streams; offline data has no stamps).
        hand_names: the candidates that are the robot's own hand (the gate's target check needs another object).
    """

    def __init__(self, segmenter: Segmenter, gate_config: GateConfig | None = None,
                 vocabulary: tuple[str, ...] | None = None, enforce_vocabulary: bool = False,
                 require_stamps: bool = False, hand_names: tuple[str, ...] = (GRIPPER_NAME,)) -> None:
        self.segmenter = segmenter
        config = gate_config if gate_config is not None else segmenter.contract.gate_config()
        self.gate = Gate(config, segmenter.pixel_threshold, segmenter.positive_threshold, segmenter.feature_density)
        self.vocabulary = tuple(vocabulary if vocabulary is not None else segmenter.contract.vocabulary)
        self.enforce_vocabulary = enforce_vocabulary
        self.require_stamps = require_stamps
        self.hand_names = frozenset(normalise_text(name) for name in hand_names)
        self._hand = np.zeros(0, bool)  # [K] which of the current narration's candidates are the robot's hand
        self._familiarity: np.ndarray | None = None  # [K] their names' similarity to the training names
        self.narration: Narration | None = None
        self.narration_fault: str = ""
        self.faults: Counter[str] = Counter()  # input faults by reason (bad images, bad narrations, errors)
        self.verdicts: Counter[str] = Counter()  # the gate's NO-GO reasons on frames that were segmented
        self.frames = 0
        self.go_frames = 0

    def set_narration(self, text: object, object_names: list[str] | tuple[str, ...], stamp_s: float) -> str:
        """Make ``text`` the current action; returns "" if accepted, else the reason it was refused (and counted)."""
        names = tuple(object_names) if object_names else self.vocabulary
        try:
            check_prompts(text, list(names))
            if not names:
                raise InputError("no candidate objects: the narration names none and the vocabulary is empty")
            known = {normalise_text(name) for name in self.vocabulary}
            unknown = [name for name in names if normalise_text(name) not in known]
            if self.enforce_vocabulary and unknown:
                raise InputError(f"object names not in the vocabulary: {', '.join(unknown)}")
        except InputError as exc:
            self.narration, self.narration_fault = None, str(exc)
            self.faults["invalid_narration"] += 1
            return str(exc)
        self.narration, self.narration_fault = Narration(str(text), names, stamp_s), ""
        self._hand = np.array([normalise_text(name) in self.hand_names for name in names], bool)
        density = self.gate.density
        self._familiarity = (None if density is None or not density.names.size
                             else density.familiarity(self.segmenter.text.embed(list(names))))
        return ""

    def process(self, image: np.ndarray | InputError, image_stamp_s: float, now_s: float) -> FrameResult:
        """Segment and gate one frame (``image``: decoded RGB, or the error decoding it raised)."""
        self.frames += 1
        if isinstance(image, InputError):
            return self._fault(getattr(image, "reason", "bad_image"), str(image))
        if self.narration is None:
            if self.narration_fault:
                return self._fault("invalid_narration", self.narration_fault)
            return self._fault("no_narration", "no narration received yet")
        narration = self.narration
        try:
            prediction = self.segmenter.predict(image, narration.text, list(narration.object_names))
        except InputError as exc:
            return self._fault(getattr(exc, "reason", "bad_image"), str(exc))
        except (ActiSegError, RuntimeError) as exc:  # a backend failure must not kill the stream
            return self._fault("inference_error", f"{type(exc).__name__}: {exc}")
        decision = self.gate.decide(prediction.object_probabilities, prediction.positive_scores, narration.text,
                                    narration_age_s=max(_age(now_s, narration.stamp_s), 0.0),
                                    image_age_s=_age(now_s, image_stamp_s), image=image_statistics(image),
                                    hand=self._hand, image_features=prediction.image_features,
                                    familiarity=self._familiarity)
        if self.require_stamps and not image_stamp_s > 0.0:
            decision = replace(decision, go=False, reasons=(*decision.reasons, "unstamped_image"))
        self.verdicts.update(decision.reasons)
        self.go_frames += decision.go
        return FrameResult(go=decision.go, reasons=decision.reasons, narration=narration.text,
                           object_names=narration.object_names, scores=prediction.positive_scores,
                           active=prediction.active, label_map=prediction.label_map,
                           union_probability=prediction.union_probability, decision=decision,
                           inference_ms=prediction.timings_ms.get("total", 0.0))

    def silent(self, silence_s: float) -> FrameResult:
        """The verdict to publish when no image has arrived for ``silence_s`` seconds: NO-GO ``camera_silent``."""
        self.verdicts[CAMERA_SILENT] += 1
        narration = self.narration
        return FrameResult(go=False, reasons=(CAMERA_SILENT,), narration=narration.text if narration else "",
                           object_names=narration.object_names if narration else (),
                           detail=f"no image for {silence_s:.2f} s")

    def _fault(self, reason: str, detail: str) -> FrameResult:
        self.faults[reason] += 1
        narration = self.narration
        return FrameResult(go=False, reasons=(reason,), narration=narration.text if narration else "",
                           object_names=narration.object_names if narration else (), detail=detail)


def _age(now_s: float, stamp_s: float) -> float:
    """Seconds since ``stamp_s`` (negative: stamped in the future, which the gate judges); an unset (zero) stamp has
    no age."""
    if stamp_s <= 0.0 or not math.isfinite(stamp_s):
        return 0.0
    return now_s - stamp_s
