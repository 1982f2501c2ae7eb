"""Prompt text: how an object name and a narration become the text the segmenter is conditioned on.

Training, evaluation and the runtime build prompts with these two functions; a model folder records the template
and the normalisation it was trained with (``actiseg_core.contract``), so a deployed model is prompted the way it
learnt.
"""

from __future__ import annotations

import re

#: ActionVOS ``promptaction``: ``"<object name> used in the action of <narration>"``.
PROMPT_TEMPLATE = "{object} used in the action of {narration}"
#: What :func:`normalise_text` does, as recorded in a model folder.
TEXT_NORMALISATION = "lower-case, whitespace collapsed"


def normalise_text(text: str) -> str:
    """Lower-case and collapse whitespace, so that cached text embeddings key on meaning, not spacing."""
    return " ".join(text.lower().split())


def build_prompt(object_name: str, narration: str, template: str = PROMPT_TEMPLATE) -> str:
    """``template`` filled with the object name and the narration, normalised."""
    return normalise_text(template.format(object=object_name, narration=narration))


def texts_per_query(with_name: bool) -> int:
    """How many embeddings :func:`query_texts` concatenates into one query's text input."""
    return 2 if with_name else 1


def query_texts(object_name: str, narration: str, template: str = PROMPT_TEMPLATE,
                with_name: bool = False) -> list[str]:
    """The texts one query is embedded from, in order: the prompt, then (``with_name``) the object's name alone.

    The prompts of one narration's objects differ only in their first words (cosine ~0.8-0.99 under MiniLM), so a
    model that sees only the prompt confuses the narration's objects with each other; the name's own embedding is
    the cue it can ground on (``benchmarks/results/target_failures/``).
    """
    return [build_prompt(object_name, narration, template), normalise_text(object_name)][:texts_per_query(with_name)]


def mentions(narration: str, object_name: str) -> bool:
    """Whether ``object_name`` occurs in ``narration`` as whole words, after :func:`normalise_text` ("mug" is in
    "pick up the red mug", "cup" is not in "pick up the cupboard")."""
    name = normalise_text(object_name)
    return bool(name) and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", normalise_text(narration)) is not None


def contradicts_narration(narration: str, object_name: str, active: bool, hand_names: frozenset[str]) -> bool:
    """Whether an object's activity label disagrees with its narration: active but not named in it, or inactive
    but named in it. Never for a name in ``hand_names`` (normalised): the hand is active without being narrated.

    In ActionVOS an object is active when the narration names it or the hand works with it, and text noise (Alg. 1
    of paper 003) renames objects but never the narration, so a renamed active object is usually contradicted.
    """
    return normalise_text(object_name) not in hand_names and mentions(narration, object_name) != active
