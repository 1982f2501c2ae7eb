"""One registry from learner names to factories, shared by ``actiseg-train --learner`` and the benchmark runner.

Entries are listed explicitly (no import-time decorators), so the set of learners is visible in one place and
registration cannot depend on which modules happen to have been imported. The order is DESIGN §6's (baseline
first, with its BCE-head variant, then the paper's robust learners, then PMHM), then our combined recipe for mixed
noise (PMHM + small-loss query selection) and its ablation without PMHM, then relabelling of flipped prompts by
matching the frame's annotated masks, on the ActionVOS loss (``relabel``) and on PMHM (``pmhm_relabel``), then
the check of each query's label against its narration (``mention_select``); :func:`learner_names` keeps the order
for help and error texts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from actiseg_core.errors import ActiSegError
from actiseg_core.learners.apl import APLLearner
from actiseg_core.learners.base import Learner, LearnerContext
from actiseg_core.learners.baseline import BaselineLearner, BCEHeadLearner
from actiseg_core.learners.coteaching import CoTeachingLearner
from actiseg_core.learners.elr import ELRLearner
from actiseg_core.learners.gce import GCELearner
from actiseg_core.learners.mention_select import MentionSelectLearner
from actiseg_core.learners.npn import NPNLearner
from actiseg_core.learners.pmhm import PMHMLearner
from actiseg_core.learners.pmhm_select import PMHMSelectLearner
from actiseg_core.learners.query_select import QuerySelectLearner
from actiseg_core.learners.relabel import PMHMRelabelLearner, RelabelLearner
from actiseg_core.learners.sce import SCELearner

#: name -> Learner subclass, built as ``cls(context, **hyper)``; ``cls.config_type`` lists the hyper-parameters.
_REGISTRY: dict[str, type[Learner]] = {
    "baseline": BaselineLearner,
    "baseline_bce": BCEHeadLearner,
    "coteaching": CoTeachingLearner,
    "gce": GCELearner,
    "sce": SCELearner,
    "apl": APLLearner,
    "elr": ELRLearner,
    "npn": NPNLearner,
    "pmhm": PMHMLearner,
    "pmhm_select": PMHMSelectLearner,
    "query_select": QuerySelectLearner,
    "relabel": RelabelLearner,
    "pmhm_relabel": PMHMRelabelLearner,
    "mention_select": MentionSelectLearner,
}


def learner_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def learner_type(name: str) -> type[Learner]:
    """The learner class, so the trainer can read its needs (aux head, stage outputs, augmentation) first."""
    if name not in _REGISTRY:
        raise ActiSegError(f"unknown learner {name!r}; known learners: {', '.join(learner_names())}")
    return _REGISTRY[name]


def check_learner_args(name: str, hyper: dict[str, Any]) -> type[Learner]:
    """The learner class of ``name`` if it takes every key of ``hyper``; else a one-line :class:`ActiSegError`
    (checked before any training starts, so a typo costs nothing)."""
    cls = learner_type(name)
    known = [f.name for f in dataclasses.fields(cls.config_type)]
    unknown = sorted(set(hyper) - set(known))
    if unknown:
        raise ActiSegError(f"learner {name!r} has no parameter {', '.join(unknown)}; "
                           f"its parameters: {', '.join(known) or 'none'}")
    return cls


def get_learner(name: str, context: LearnerContext, **hyper: Any) -> Learner:
    """Build learner ``name``; an unknown name or hyper-parameter is a one-line :class:`ActiSegError`."""
    return check_learner_args(name, hyper)(context, **hyper)
