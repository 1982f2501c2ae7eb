"""Narration templates: each action has several phrasings (verb synonyms), like EPIC-KITCHENS' free-form verbs.

The written verb (``pick-up``, ``grab`` ...) is the phrasing's verb, hyphenated as EPIC writes multi-word verbs;
``verb_class`` is the action, shared by all its phrasings, as EPIC's verb classes group synonyms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIONS: tuple[str, ...] = ("pick", "put", "push", "move")
# v2 adds two multi-object actions; verb classes index this tuple, so v1's keep their numbers.
V2_ACTIONS: tuple[str, ...] = ACTIONS + ("stack", "move_next")

_PHRASES: dict[str, tuple[tuple[str, str], ...]] = {
    "pick": (
        ("pick-up", "pick up the {target}"),
        ("lift", "lift the {target}"),
        ("grab", "grab the {target}"),
        ("take", "take the {target}"),
    ),
    "put": (
        ("put", "put the {target} {preposition} the {destination}"),
        ("place", "place the {target} {preposition} the {destination}"),
        ("set", "set the {target} {preposition} the {destination}"),
    ),
    "push": (
        ("push", "push the {target} toward the {destination}"),
        ("slide", "slide the {target} toward the {destination}"),
        ("push", "push the {target} towards the {destination}"),
    ),
    "move": (
        ("move", "move the {target} to the {side}"),
        ("shift", "shift the {target} to the {side}"),
        ("move", "move the {target} over to the {side}"),
    ),
    "stack": (
        ("stack", "stack the {target} on the {destination}"),
        ("stack", "stack the {target} on top of the {destination}"),
        ("put", "put the {target} on top of the {destination}"),
    ),
    "move_next": (
        ("move", "move the {target} next to the {destination}"),
        ("place", "place the {target} next to the {destination}"),
        ("put", "put the {target} beside the {destination}"),
    ),
}


@dataclass(frozen=True)
class Narration:
    text: str
    verb: str
    verb_class: int


def narrate(
    rng: np.random.Generator,
    action: str,
    target: str,
    destination: str | None = None,
    preposition: str = "on",
    side: str | None = None,
) -> Narration:
    """A narration for ``action`` with a randomly chosen phrasing; names are used exactly as given."""
    phrases = _PHRASES[action]
    verb, template = phrases[int(rng.integers(len(phrases)))]
    text = template.format(target=target, destination=destination, preposition=preposition, side=side)
    return Narration(text=text, verb=verb, verb_class=V2_ACTIONS.index(action))
