"""The environment envelope every result document carries: which tool, commit, machine and
command produced the figures, so a number read later can be traced to where it came from."""

from __future__ import annotations

import functools
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

_REPO = Path(__file__).resolve().parents[2]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """The commit of the checkout the tool runs from (None for an installed copy)."""
    if not (_REPO / ".git").exists():
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(_REPO), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    return {
        "tool": "testbed",
        "tool_version": _version("testbed"),
        "git_commit": _git_commit(),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu_count": psutil.cpu_count(logical=True),
        "cpus_usable": len(psutil.Process().cpu_affinity()),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "posix_ipc": _version("posix_ipc"),
    }


def envelope(**extra: Any) -> dict[str, Any]:
    """The envelope now: the static part, the time (UTC, ISO 8601) and the command line."""
    return {
        **_static(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": shlex.join(sys.argv),
        **extra,
    }
