"""Compiles a scenario's C sources (`Scenario.native`) with the system compiler into a shared
library, cached by a hash of the sources, the flags and the compiler, outside the user's tree.

A compile error is a ConfigError (exit 2) naming the file, with the compiler's message, raised
when the scenario loads: before any process starts.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from testbed.scenario import ConfigError, Scenario

_HERE = Path(__file__).resolve().parent
INCLUDE = _HERE.parent / "include"  # testbed.h
SHIM = _HERE / "shim.c"
FLAGS = ("-O2", "-g", "-fPIC", "-shared")  # -g: testbed explain names C source lines
ABI = "2"  # testbed.h's TB_ABI: a new layout of tb_env compiles anew


def include_dir() -> Path:
    """The directory of testbed.h (`testbed.native_include()`)."""
    return INCLUDE


def cache_dir() -> Path:
    """Where compiled libraries live: $TESTBED_CACHE_DIR, else $XDG_CACHE_HOME/testbed/native,
    else ~/.cache/testbed/native."""
    if os.environ.get("TESTBED_CACHE_DIR"):
        return Path(os.environ["TESTBED_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "testbed" / "native"


def sources(scenario: Scenario) -> list[Path]:
    """The scenario's C sources, made absolute from its file's directory."""
    declared = scenario.native
    if isinstance(declared, str):
        declared = (declared,)
    if not isinstance(declared, tuple) or not all(isinstance(s, str) for s in declared):
        raise ConfigError(
            f"scenario {scenario.name!r}: native {declared!r}: expected a C file (a str) or "
            "several (a tuple of str), relative to the scenario's file"
        )
    module = sys.modules.get(type(scenario).__module__)
    origin = getattr(module, "__file__", None)
    base = Path(origin).resolve().parent if origin else Path.cwd()
    out = []
    for name in declared:
        path = (base / name).resolve()
        if not path.is_file():
            raise ConfigError(f"scenario {scenario.name!r}: native source {path}: no such file")
        out.append(path)
    return out


def compiler() -> list[str]:
    """$CC (may hold flags) or cc, as an argv; ConfigError saying which was looked for."""
    cc = shlex.split(os.environ.get("CC") or "cc")
    if not cc or shutil.which(cc[0]) is None:
        raise ConfigError(
            f"native actors need a C compiler: {cc[0] if cc else '$CC'!r} ($CC, else cc) is "
            "not on the PATH; install one (e.g. apt-get install gcc) or set CC"
        )
    return [shutil.which(cc[0]) or cc[0], *cc[1:]]


def _key(cc: list[str], files: list[Path]) -> str:
    h = hashlib.sha256()
    exe = Path(cc[0]).resolve()
    st = exe.stat()
    h.update(f"{ABI}\0{exe}\0{st.st_size}\0{st.st_mtime_ns}\0{cc[1:]}\0{FLAGS}\0".encode())
    for path in [*files, SHIM, INCLUDE / "testbed.h"]:
        h.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def library(scenario: Scenario) -> Path:
    """The compiled library of the scenario's sources: from the cache, or compiled now."""
    files = sources(scenario)
    cc = compiler()
    target = cache_dir() / f"{_key(cc, files)}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # into a file of our own, then renamed: two processes compiling at once both succeed
    fd, tmp = tempfile.mkstemp(suffix=".so.tmp", dir=target.parent)
    os.close(fd)
    argv = [*cc, *FLAGS, "-I", str(INCLUDE), *map(str, files), str(SHIM), "-o", tmp]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=target.parent, timeout=120)
        if proc.returncode != 0:
            raise ConfigError(_error(scenario, files, proc.stderr or proc.stdout))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _error(scenario: Scenario, files: list[Path], message: str) -> str:
    """The compiler's message, led by the file it names first (else the scenario's first)."""
    named = next((f for f in files if str(f) in message or f.name in message), files[0])
    return f"scenario {scenario.name!r}: native source {named} does not compile:\n{message.strip()}"


def prepare(scenario: Scenario) -> Scenario:
    """The scenario, its native sources compiled (if it declares any)."""
    if getattr(scenario, "native", ()):
        library(scenario)
    return scenario
