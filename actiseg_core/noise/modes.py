"""The modes of the two noise algorithms: the authors' released generators' (the defaults) and our extensions.

The released code is ``mylwx/ActiSeg-NL`` at commit ``cf7dd3819720642a1bbf81d9a86d27661f4cdbab`` (DESIGN §5):
``dataset/generate_prompt_name_noise.py`` (Alg. 1) and ``dataset/generate_annotations_mask_noise.py`` (Alg. 2).
Kept free of heavy imports so that command-line parsers can list the choices without loading OpenCV.
"""

from __future__ import annotations

from actiseg_core.errors import ActiSegError

# Alg. 1, text prompt noise (actiseg_core.noise.text)
FLIP_ONLY = "flip_only"  # the released generator: a name changes only when its class is flipped
FLIP_OR_SYNONYM = "flip_or_synonym"  # extension: an unflipped object takes a random name of its own class
TEXT_NOISE_MODES = (FLIP_ONLY, FLIP_OR_SYNONYM)
DEFAULT_TEXT_NOISE_MODE = FLIP_ONLY

# Alg. 2, mask annotation noise (actiseg_core.noise.mask)
OFFICIAL = "official"  # the released generator: active objects dilated, inactive ones pasted undilated
ALL_OBJECTS = "all_objects"  # extension: every object dilated, overlaps first-hit in object order
MASK_NOISE_MODES = (OFFICIAL, ALL_OBJECTS)
DEFAULT_MASK_NOISE_MODE = OFFICIAL

#: One line per mode, for reports.
MODE_DESCRIPTIONS = {
    FLIP_ONLY: "the released generator's; a name changes only when its class is flipped.",
    FLIP_OR_SYNONYM: "our extension; an unflipped object takes a random name of its own class (synonyms).",
    OFFICIAL: "the released generator's; only active objects are dilated, inactive ones are pasted undilated into "
    "the pixels still free (active objects win overlaps).",
    ALL_OBJECTS: "our extension; every object is dilated and overlaps go to the first object in palette order.",
}


def validate_text_mode(mode: str) -> str:
    """One of :data:`TEXT_NOISE_MODES`; anything else is a one-line :class:`ActiSegError`."""
    if mode not in TEXT_NOISE_MODES:
        raise ActiSegError(f"text noise mode must be one of {', '.join(TEXT_NOISE_MODES)}, got {mode!r}")
    return mode


def validate_mask_mode(mode: str) -> str:
    """One of :data:`MASK_NOISE_MODES`; anything else is a one-line :class:`ActiSegError`."""
    if mode not in MASK_NOISE_MODES:
        raise ActiSegError(f"mask noise mode must be one of {', '.join(MASK_NOISE_MODES)}, got {mode!r}")
    return mode
