"""Where a benchmark number was measured: CPU, cores, Python and commit, written beside every result."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from actiseg_core.runtime.cpu import FAST_INT8_FLAGS, cpu_flags

#: the instruction sets that decide CPU timings here: SIMD width and fast int8 dot products
ISA_FLAGS = ("avx2", "avx512f", *FAST_INT8_FLAGS)


def machine() -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "isa": sorted(cpu_flags() & set(ISA_FLAGS)), "cores": os.cpu_count(),
            "python": platform.python_version(), "commit": commit}
