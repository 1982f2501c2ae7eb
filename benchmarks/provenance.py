"""Where a benchmark number was measured (CPU, cores, Python and commit, written beside every result) and the
files a result is written as: ``STEM.json``, ``STEM.md`` and, for results people compare, ``STEM.png``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actiseg_core.runtime.cpu import FAST_INT8_FLAGS, cpu_flags

#: the instruction sets that decide CPU timings here: SIMD width and fast int8 dot products
ISA_FLAGS = ("avx2", "avx512f", *FAST_INT8_FLAGS)


def machine() -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "isa": sorted(cpu_flags() & set(ISA_FLAGS)), "cores": os.cpu_count(),
            "python": platform.python_version(), "commit": commit}


def write_record(out: Path, stem: str, report: dict[str, Any], text: str,
                 plot: Callable[[Path], None] | None = None) -> None:
    """``out/STEM.json`` (``report``; sets and other iterables as lists), ``out/STEM.md`` (``text``) and, with
    ``plot``, ``out/STEM.png`` drawn by it; ``text`` is printed too."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1, default=list))
    (out / f"{stem}.md").write_text(text)
    if plot is not None:
        plot(out / f"{stem}.png")
    print(text)
