"""Losses and training strategies (DESIGN §6): the ActionVOS baseline, later the robust learners and PMHM.

``get_learner(name, context, **hyper)`` builds one by name; every learner implements :class:`Learner`.
"""

from actiseg_core.learners.base import Learner, LearnerContext, QueryBatch, StepInfo
from actiseg_core.learners.baseline import BaselineConfig, BaselineLearner
from actiseg_core.learners.registry import get_learner, learner_names

__all__ = [
    "BaselineConfig",
    "BaselineLearner",
    "Learner",
    "LearnerContext",
    "QueryBatch",
    "StepInfo",
    "get_learner",
    "learner_names",
]
