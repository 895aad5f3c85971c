"""What the CPU can do, read without importing torch (docsbot's web side uses it too)."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16: bf16 matrix units, where bf16 compute runs ~2x float32. Without them
    bf16 is emulated and float32 is the fast choice. ``DOCSBOT_CPU_BF16=off`` treats the CPU as
    float32-only (to measure, on a bf16 machine, what a machine without bf16 units runs)."""
    if os.environ.get("DOCSBOT_CPU_BF16", "auto").lower() == "off":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
