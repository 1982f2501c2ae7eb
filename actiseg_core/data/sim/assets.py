"""Access to robosuite: a quiet import and the paths of its texture files.

robosuite logs several warnings when imported (no private macro file, optional packages missing); they say nothing
about ActiSeg-Sim and would repeat in every worker process, so they are filtered below ERROR on its logger.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

_LOGGER_NAME = "robosuite_logs"


def _errors_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


def robosuite() -> ModuleType:
    """Import robosuite with its import-time warnings silenced (the filter survives robosuite's logger setup)."""
    logger = logging.getLogger(_LOGGER_NAME)
    if _errors_only not in logger.filters:
        logger.addFilter(_errors_only)
    import robosuite as module

    return module


def texture_file(name: str) -> Path:
    """Path of one of robosuite's texture PNGs, e.g. ``texture_file("light-wood")``."""
    path = Path(robosuite().__file__).parent / "models" / "assets" / "textures" / f"{name}.png"
    if not path.is_file():
        raise FileNotFoundError(f"robosuite has no texture {name!r} ({path})")
    return path
