"""Facts about this machine's CPU, read once from Linux's /proc/cpuinfo: its model name (every speed
figure names it) and its flags (bf16 in hardware or not). Stdlib only; "" / empty where there is no
/proc/cpuinfo."""

from __future__ import annotations

import functools
import platform


@functools.cache
def cpuinfo() -> str:
    """This machine's /proc/cpuinfo, read once (callers ask on every forward pass)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cpu_model_name(text: str | None = None) -> str:
    """The CPU's model name ("AMD EPYC 9B14"), else what the platform module knows."""
    names = [line.split(":", 1)[1].strip() for line in (cpuinfo() if text is None else text).splitlines()
             if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()
