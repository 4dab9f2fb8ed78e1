"""What machine this is: for benchmark results, metrics files and the bf16 decision."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_name() -> str:
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slower."""
    flags = _cpuinfo()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def bf16_by_default() -> bool:
    """Whether a Predictor built without a choice runs in bf16: the ``bf16`` setting (``MODERATO_BF16``) when set, so
    that a command (evaluate, calibrate) can read a model as a service on another machine would; otherwise where
    the CPU computes bf16 natively."""
    from service.config import ComputeSettings

    setting = ComputeSettings().bf16
    return cpu_has_bf16() if setting is None else setting


def machine() -> dict[str, object]:
    return {
        "cpu": cpu_name(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "bf16_native": cpu_has_bf16(),
    }


def git_commit() -> str:
    """The checked-out commit, marked ``-dirty`` when tracked files have uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty else "")


def release_freed_heap() -> None:
    """glibc's malloc_trim(0): hand freed heap pages back to the system. A no-op without glibc."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """Looked up once: find_library runs `ldconfig -p` in a subprocess each time it is asked."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
