"""Prompt text of the ActionVOS ``promptaction`` setting."""

from __future__ import annotations


def normalise_text(text: str) -> str:
    """Lower-case and collapse whitespace, so that cached text embeddings key on meaning, not spacing."""
    return " ".join(text.lower().split())


def build_prompt(object_name: str, narration: str) -> str:
    """``"<object name> used in the action of <narration>"`` (ActionVOS promptaction), normalised."""
    return normalise_text(f"{object_name} used in the action of {narration}")
