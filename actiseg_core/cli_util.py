"""Shared command-line plumbing: bad input gets one line and a non-zero exit, never a raw traceback."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

from actiseg_core.errors import ActiSegError

EXIT_USAGE = 2
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line (``prog: error: reason``) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_USAGE)


def run_command(prog: str, handler: Callable[[], int | None]) -> int:
    """Run a CLI body, turning user-facing errors into one line on stderr and an exit status."""
    try:
        return handler() or 0
    except ActiSegError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted; finished work is kept, rerun the same command to resume\n")
        return EXIT_INTERRUPTED


def _bounded_int(text: str, minimum: int, kind: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a {kind} integer, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _bounded_int(text, 1, "positive")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (e.g. 0 switches a periodic action off)."""
    return _bounded_int(text, 0, "non-negative")


def seed_int(text: str) -> int:
    """argparse type: a random seed, an integer >= 0 (numpy's SeedSequence rejects negatives)."""
    return non_negative_int(text)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (learning rate, clipping norm)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def unit_float(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value
