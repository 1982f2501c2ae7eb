"""Losses and training strategies (DESIGN §6): the ActionVOS baseline and its BCE-head variant, the paper's robust
learners, PMHM, our combined recipe for mixed noise (``pmhm_select``) and its ablation without PMHM
(``query_select``), and relabelling of flipped prompts (``relabel``, ``pmhm_relabel``).

``get_learner(name, context, **hyper)`` builds one by name; every learner implements :class:`Learner`.
"""

from actiseg_core.learners.apl import APLConfig, APLLearner
from actiseg_core.learners.base import Learner, LearnerContext, QueryBatch, StepInfo
from actiseg_core.learners.baseline import BaselineConfig, BaselineLearner, BCEHeadLearner
from actiseg_core.learners.coteaching import CoTeachingConfig, CoTeachingLearner
from actiseg_core.learners.elr import ELRConfig, ELRLearner
from actiseg_core.learners.gce import GCEConfig, GCELearner
from actiseg_core.learners.npn import NPNConfig, NPNLearner
from actiseg_core.learners.pmhm import PMHMConfig, PMHMLearner
from actiseg_core.learners.pmhm_select import PMHMSelectConfig, PMHMSelectLearner
from actiseg_core.learners.query_select import QuerySelectConfig, QuerySelectLearner
from actiseg_core.learners.registry import check_learner_args, get_learner, learner_names, learner_type
from actiseg_core.learners.relabel import (
    BaselineRelabelConfig,
    PMHMRelabelConfig,
    PMHMRelabelLearner,
    RelabelConfig,
    RelabelLearner,
)
from actiseg_core.learners.sce import SCEConfig, SCELearner

__all__ = [
    "APLConfig",
    "APLLearner",
    "BaselineConfig",
    "BaselineLearner",
    "BaselineRelabelConfig",
    "BCEHeadLearner",
    "CoTeachingConfig",
    "CoTeachingLearner",
    "ELRConfig",
    "ELRLearner",
    "GCEConfig",
    "GCELearner",
    "Learner",
    "LearnerContext",
    "NPNConfig",
    "NPNLearner",
    "PMHMConfig",
    "PMHMLearner",
    "PMHMRelabelConfig",
    "PMHMRelabelLearner",
    "PMHMSelectConfig",
    "PMHMSelectLearner",
    "QuerySelectConfig",
    "QuerySelectLearner",
    "QueryBatch",
    "RelabelConfig",
    "RelabelLearner",
    "SCEConfig",
    "SCELearner",
    "StepInfo",
    "check_learner_args",
    "get_learner",
    "learner_names",
    "learner_type",
]
