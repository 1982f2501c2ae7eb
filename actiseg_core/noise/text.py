"""Text prompt noise: Alg. 1 of paper 003 (Segment-to-Act / ActiSeg-NL, Section III-A).

Alg. 1 corrupts the referent object NAME of a prompt ``"<name> used in the action of <narration>"``; the narration
itself is never changed (a narration "take knife" stays so even when the knife's name is flipped to "fridge"). With
probability rho the object's class is flipped uniformly to another class of the class map and a name of that class
is drawn uniformly (symmetric noise). What happens otherwise is the mode
(:data:`actiseg_core.noise.modes.TEXT_NOISE_MODES`):

- ``"flip_only"`` (the default): the name is kept verbatim. This is the authors' released generator
  (``dataset/generate_prompt_name_noise.py`` of ``mylwx/ActiSeg-NL``, commit ``cf7dd38``), which rewrites an
  expression only when it flips the class, and draws the new class uniformly among all classes but the object's
  own and the new name uniformly among that class's names, as here.
- ``"flip_or_synonym"``, our extension: a name of the object's own class is drawn uniformly (synonym substitution,
  "container" -> "food container", as the paper's text describes), so the name may change within the class.
  Note that the noisy prompt sets the authors ship beside their generator (``dataset/prompt_name_noise/``) do show
  such renames of unflipped objects ("container" -> "yeast can" with ``class_id == class_id_org``): they match
  this mode, not the released script.

Differences from the released generator, in both modes: the classes to flip to are those of the class map (the
released one takes every class id of train and val); a corrupted sequence keeps each object's TRUE ``class_id``
and carries the noisy ``name`` (the released one overwrites ``class_id`` and keeps ``class_id_org``), so training
sees the noise while analysis can still measure it. What was changed is recorded in the sequence's
``extra["text_noise"]`` (written into the ImageSets record, where VISOR readers ignore it)::

    {"rate": 0.4, "mode": "flip_only", "objects": {"3": {"clean_name": "fridge", "noisy_class_id": 21}, ...}}

one entry per object; an object was flipped when ``noisy_class_id != class_id``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter

import numpy as np

from actiseg_core.data.classes import ClassMap
from actiseg_core.data.layout import ObjectInfo, Sequence
from actiseg_core.errors import ActiSegError
from actiseg_core.noise.modes import DEFAULT_TEXT_NOISE_MODE, FLIP_ONLY, validate_text_mode
from actiseg_core.prompts import contradicts_narration, normalise_text

TEXT_NOISE_KEY = "text_noise"
OTHERS = "Others"


def validate_rate(rate: float) -> float:
    """A noise rate is a probability; anything else (NaN included) is a one-line :class:`ActiSegError`."""
    if not (isinstance(rate, (int, float)) and 0.0 <= rate <= 1.0):
        raise ActiSegError(f"text noise rate must lie in [0, 1], got {rate!r}")
    return float(rate)


def _check_class_map(class_map: ClassMap, rate: float) -> None:
    if rate > 0 and len(class_map) < 2:
        raise ActiSegError(f"text noise rate {rate} needs at least 2 classes to flip between, got {len(class_map)}")


def noisy_name(
    name_class_id: int,
    class_map: ClassMap,
    rate: float,
    rng: np.random.Generator,
    *,
    clean_name: str | None = None,
    mode: str = DEFAULT_TEXT_NOISE_MODE,
) -> tuple[str, int, bool]:
    """Alg. 1 of paper 003 for one object: returns (noisy name, its class id, whether the class was flipped).

    ``"flip_only"`` returns ``clean_name`` (required there) unchanged when the class is not flipped;
    ``"flip_or_synonym"`` draws a name of the object's own class then. The uniform draw is made even when no flip
    can happen, so one generator yields the same flips at every rate: an object flipped at rho = 0.2 is flipped (to
    the same class and name) at rho = 0.4 too, which makes the noise levels nested and their comparison fair. A
    flip draws the same numbers in both modes, so the two modes flip the same objects to the same names.
    """
    rate = validate_rate(rate)
    mode = validate_text_mode(mode)
    _check_class_map(class_map, rate)
    if name_class_id not in class_map:
        raise ActiSegError(f"class id {name_class_id} is not in the class map (known: {sorted(class_map)})")
    if mode == FLIP_ONLY and clean_name is None:
        raise ValueError("flip_only text noise keeps the clean name of an unflipped object: pass clean_name")
    flip = rng.uniform(0.0, 1.0) < rate
    if flip:
        others = [c for c in sorted(class_map) if c != name_class_id]
        noisy_class = others[int(rng.integers(len(others)))]
    else:
        noisy_class = name_class_id
        if mode == FLIP_ONLY:
            assert clean_name is not None
            return clean_name, noisy_class, False
    names = class_map[noisy_class].names
    return names[int(rng.integers(len(names)))], noisy_class, flip


def object_rng(seed: int, seq_id: int, index: int) -> np.random.Generator:
    """One generator per (seed, sequence, object): the noise of an object does not depend on which others exist."""
    return np.random.default_rng([seed, seq_id, index])


def corrupt_names(
    sequences: list[Sequence], class_map: ClassMap, rate: float, seed: int, mode: str = DEFAULT_TEXT_NOISE_MODE
) -> list[Sequence]:
    """Alg. 1 applied to every object of ``sequences``; new sequences, the inputs are left untouched.

    Deterministic for ``seed`` (and ``mode``). ``rate`` 0 is the benchmark's clean-name condition and returns the
    names unchanged in both modes: ``"flip_or_synonym"`` at rho = 0 would still substitute synonyms, which is noise
    of its own.
    """
    rate = validate_rate(rate)
    mode = validate_text_mode(mode)
    if rate == 0:
        return [dataclasses.replace(seq, objects=dict(seq.objects), extra=dict(seq.extra)) for seq in sequences]
    _check_class_map(class_map, rate)
    corrupted = []
    for seq in sequences:
        objects: dict[int, ObjectInfo] = {}
        record: dict[str, dict[str, object]] = {}
        for index, obj in sorted(seq.objects.items()):
            rng = object_rng(seed, seq.seq_id, index)
            name, noisy_class, _ = noisy_name(obj.class_id, class_map, rate, rng, clean_name=obj.name, mode=mode)
            objects[index] = dataclasses.replace(obj, name=name)
            record[str(index)] = {"clean_name": obj.name, "noisy_class_id": noisy_class}
        extra = {**seq.extra, TEXT_NOISE_KEY: {"rate": rate, "mode": mode, "objects": record}}
        corrupted.append(dataclasses.replace(seq, objects=objects, extra=extra))
    return corrupted


def prompt_class_ids(seq: Sequence) -> list[int]:
    """The class each object's prompt names: the noisy class where text noise was applied, else the true one."""
    record = seq.extra.get(TEXT_NOISE_KEY, {}).get("objects", {})
    return [int(record.get(str(i), {}).get("noisy_class_id", obj.class_id)) for i, obj in sorted(seq.objects.items())]


def was_flipped(seq: Sequence, obj: ObjectInfo) -> bool:
    """Whether Alg. 1 flipped ``obj``'s class (its recorded noisy class differs from its true one)."""
    entry = seq.extra.get(TEXT_NOISE_KEY, {}).get("objects", {}).get(str(obj.index), {})
    return int(entry.get("noisy_class_id", obj.class_id)) != obj.class_id


def count_flips(sequences: list[Sequence]) -> tuple[int, int, int]:
    """(objects, objects whose name changed, objects whose class was flipped) over corrupted sequences."""
    objects = renamed = flipped = 0
    for seq in sequences:
        record = seq.extra.get(TEXT_NOISE_KEY, {}).get("objects", {})
        for index, obj in seq.objects.items():
            objects += 1
            renamed += obj.name != record.get(str(index), {}).get("clean_name", obj.name)
            flipped += was_flipped(seq, obj)
    return objects, renamed, flipped


def flip_census(sequences: list[Sequence]) -> dict[str, int]:
    """Where Alg. 1's flips landed, per object of corrupted sequences: flipped active / inactive objects, and flips
    whose new class is an *active* object's class in the same clip (a renamed inactive object then shares its prompt
    with a true referent of the frame: what relabelling can repair), another object's class in the clip, or a class
    absent from it (the prompt then names nothing in the frame)."""
    census = {"flipped_active": 0, "flipped_inactive": 0, "to_active_class_in_clip": 0, "to_class_in_clip": 0,
              "to_absent_class": 0}
    for seq in sequences:
        record = seq.extra.get(TEXT_NOISE_KEY, {}).get("objects", {})
        for index, obj in seq.objects.items():
            if not was_flipped(seq, obj):
                continue
            census["flipped_active" if obj.positive else "flipped_inactive"] += 1
            new = int(record[str(index)]["noisy_class_id"])
            others = [other for key, other in seq.objects.items() if key != index]
            if any(other.class_id == new and other.positive for other in others):
                census["to_active_class_in_clip"] += 1
            elif any(other.class_id == new for other in others):
                census["to_class_in_clip"] += 1
            else:
                census["to_absent_class"] += 1
    return census


def narration_census(sequences: list[Sequence], hand_names: frozenset[str]) -> dict[str, int]:
    """What the narration check (:func:`actiseg_core.prompts.contradicts_narration`, ``mention_select``) makes of
    corrupted sequences' objects: flipped ones it contradicts (caught) or not (missed), clean ones it contradicts
    (supervision it would drop), and objects with a hand's name, which it does not judge.

    Missed flips are split by activity: a missed active one trains the model to segment an object under a name the
    narration does not use (harmful); a missed inactive one was renamed to another name the narration does not use
    either, and "not active" stays true of it (harmless)."""
    census = {"flipped_contradicted": 0, "flipped_active_missed": 0, "flipped_inactive_missed": 0,
              "clean_contradicted": 0, "hand_named": 0}
    for seq in sequences:
        for obj in seq.objects.values():
            if normalise_text(obj.name) in hand_names:
                census["hand_named"] += 1
            elif contradicts_narration(seq.narration, obj.name, obj.positive, hand_names):
                census["flipped_contradicted" if was_flipped(seq, obj) else "clean_contradicted"] += 1
            elif was_flipped(seq, obj):
                census["flipped_active_missed" if obj.positive else "flipped_inactive_missed"] += 1
    return census


def class_proportions(sequences: list[Sequence], class_map: ClassMap) -> dict[str, float]:
    """Fig. 2 of paper 003: the share of each class label among all object prompts of ``sequences``."""
    counts = Counter(class_map[c].label if c in class_map else str(c) for s in sequences for c in prompt_class_ids(s))
    total = sum(counts.values())
    return {label: count / total for label, count in sorted(counts.items())} if total else {}


def category_shift(
    clean: dict[str, float], noisy: dict[str, dict[str, float]], threshold: float = 0.01
) -> dict[str, dict[str, float]]:
    """Fig. 2's table: "major" classes (share > ``threshold`` in the clean set) kept, all others summed as Others.

    ``noisy`` maps a condition name (e.g. ``"rho=0.2"``) to its proportions; the result maps ``"clean"`` and each
    condition to {major class: share, "Others": share}, each summing to 1.
    """
    major = sorted((label for label, share in clean.items() if share > threshold), key=lambda k: (-clean[k], k))

    def fold(shares: dict[str, float]) -> dict[str, float]:
        folded = {label: shares.get(label, 0.0) for label in major}
        folded[OTHERS] = math.fsum(share for label, share in shares.items() if label not in major)
        return folded

    return {"clean": fold(clean), **{condition: fold(shares) for condition, shares in noisy.items()}}
