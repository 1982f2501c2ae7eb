"""Does this CPU run int8 convolutions fast? An int8 graph is only worth it where it does.

onnxruntime's int8 kernels beat fp32 on CPUs with dot-product int8 instructions (x86 VNNI in AVX-512 or AVX, AMX;
ARM's dot product), and can be slower than fp32 without them (measured: DESIGN §10). The flags come from
``/proc/cpuinfo`` (Linux); elsewhere nothing is known and the answer is "no".
"""

from __future__ import annotations

from pathlib import Path

#: instruction-set flags (as /proc/cpuinfo spells them) with fast int8 dot products, best first
FAST_INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni", "asimddp")
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The first processor's flags (x86 ``flags``, ARM ``Features``) in ``cpuinfo`` (default: /proc/cpuinfo)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def fast_int8_flag(flags: frozenset[str]) -> str | None:
    """The best fast-int8 flag among ``flags``, or None when the CPU has none."""
    return next((flag for flag in FAST_INT8_FLAGS if flag in flags), None)
