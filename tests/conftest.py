"""Shared helpers: run the real CLI in a subprocess and check that it left nothing behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testbed.ipc import names

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = Path(__file__).resolve().parent / "scenarios"  # the tests' scenario files


def native_cache(tmp_path_factory) -> Iterator[Path]:
    """A compile cache of the calling test module's own (the CLI's children inherit it):
    `yield from` it in a module-scoped fixture."""
    home = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(home))
        mp.delenv("TESTBED_CACHE_DIR", raising=False)
        yield home / "testbed" / "native"


def user_files(directory: Path, *names: str) -> Path:
    """Copy scenario files of tests/scenarios/ into `directory`, a user's directory outside
    the repository, from where a test runs them by path as a user would; `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SCENARIOS / name, directory / name)
    return directory


def scenario_text(name: str) -> str:
    """The text of a scenario file of tests/scenarios/, for a test that writes a variant of it."""
    return (SCENARIOS / name).read_text()


def vary(text: str, old: str, new: str) -> str:
    """`text` with `old` replaced by `new`; `old` must be there (else the variant is no variant)."""
    assert old in text, f"{old!r} is not in the scenario's text"
    return text.replace(old, new)


@dataclass
class CliResult:
    code: int
    out: str
    err: str
    doc: dict | None


def leftovers_of(pid: int) -> list[names.Leftover]:
    return [o for o in names.leftovers() if o.prefix.split(".")[1] == str(pid)]


def cli(*args: str, timeout: float = 90) -> CliResult:
    """Run `testbed ARGS` with --json - where it applies; assert no object of it remains."""
    argv = [sys.executable, "-m", "testbed.cli", *args]
    wants_json = args and args[0] == "stress" and "--json" not in args
    if wants_json:
        argv += ["--json", "-"]
    with tempfile.TemporaryDirectory() as cwd:  # traces and the like land here, not in the tree
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd
        )
        out, err = proc.communicate(timeout=timeout)
    assert leftovers_of(proc.pid) == [], "the run left named objects in /dev/shm"
    doc = None
    if wants_json and out.strip().startswith("{"):
        doc = json.loads(out[out.index("{") :])
    return CliResult(proc.returncode, out, err, doc)


@pytest.fixture
def no_leftovers():
    """In-process runs: nothing with this process's pid may remain in /dev/shm."""
    import os

    yield
    assert leftovers_of(os.getpid()) == []


def run_cli(cwd: Path, *args: str) -> tuple[int, dict | None, str]:
    """`testbed ARGS` from `cwd` (a user's directory); nothing of it may stay in /dev/shm."""
    argv = [sys.executable, "-m", "testbed.cli", *args]
    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = proc.communicate(timeout=180)
    assert leftovers_of(proc.pid) == [], "the run left named objects in /dev/shm"
    doc = json.loads(out[out.index("{") :]) if "--json" in args and "{" in out else None
    return proc.returncode, doc, err


def explore(cwd: Path, scenario: str, *args: str) -> tuple[int, dict]:
    """`testbed explore SCENARIO --seed 1 ARGS --json -` from `cwd`: exit code, document."""
    code, doc, err = run_cli(cwd, "explore", scenario, "--seed", "1", *args, "--json", "-")
    assert doc is not None, err
    return code, doc
