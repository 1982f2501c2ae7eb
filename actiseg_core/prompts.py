"""Prompt text: how an object name and a narration become the text the segmenter is conditioned on.

Training, evaluation and the runtime build prompts with these two functions; a model folder records the template
and the normalisation it was trained with (``actiseg_core.contract``), so a deployed model is prompted the way it
learnt.
"""

from __future__ import annotations

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
