"""What a careless user meets is an exit 2 (or a clean exit 3) with no traceback from any
process: every output option checked writable before anything runs (as root too: /proc
takes no file), a trace given to `report`, `--version`, rtems-isolation's default shares
on small stacks, Ctrl-C while the processes start, and a plain script calling testbed.run
without `if __name__ == "__main__":` (tests/scenarios/plain_script.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli, leftovers_of

import testbed

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
NOWHERE = "/proc/testbed-nowhere"  # a directory in which nobody, root included, makes a file
STRESS = ("stress", "genode-race", "--variant", "racy", "--rounds", "1")
EXPLORE = ("explore", "genode-race", "--variant", "racy")
CAMPAIGN = ("campaign", "genode-race", "--variants", "racy")


def outputs(trace: str) -> list[tuple[str, ...]]:
    return [
        (*STRESS, "--json", "/proc/x.json"),
        (*STRESS, "--junit", "/proc/x.xml"),
        (*STRESS, "--core-log", "/proc/c.jsonl"),
        (*STRESS, "--trace-dir", NOWHERE),
        (*EXPLORE, "--json", "/proc/x.json"),
        (*EXPLORE, "--trace-dir", NOWHERE),
        (*CAMPAIGN, "--json", "/proc/x.json"),
        (*CAMPAIGN, "--html", "/proc/x.html"),
        (*CAMPAIGN, "--junit", "/proc/x.xml"),
        (*CAMPAIGN, "--trace-dir", NOWHERE),
        ("bench", "pingpong", "--json", "/proc/x.json"),
        ("bench", "pingpong", "--html", "/proc/x.html"),
        ("demo", "--seconds", "0.1", "--json", "/proc/x.json"),
        ("replay", trace, "--json", "/proc/x.json"),
        ("minimize", trace, "-o", "/proc/x.json"),
        ("show", trace, "--png", "/proc/x.png"),
        ("show", trace, "--perfetto", "/proc/x.json"),
    ]


@pytest.fixture(scope="module")
def trace(tmp_path_factory) -> str:
    """A real trace of the racy allocator (its first failure)."""
    d = tmp_path_factory.mktemp("trace")
    r = cli("stress", "genode-race", "--variant", "racy", "--pin", "same", "--max-failures", "1",
            "--duration", "20", "--seed", "1", "--trace-dir", str(d))  # fmt: skip
    assert r.doc and r.doc["trace_files"], r.err
    return r.doc["trace_files"][0]


@pytest.mark.parametrize("case", range(17))
def test_every_output_that_cannot_be_written_is_exit_2_before_anything_runs(case, trace):
    args = outputs(trace)[case]
    started = time.monotonic()
    r = cli(*args)
    assert r.code == 2, r.out + r.err
    assert f"{args[-2]} {args[-1]}" in r.err.replace("-o/--output", "-o"), r.err
    assert "Traceback" not in r.err
    assert time.monotonic() - started < 30  # refused up front, not after the run


def test_report_of_a_trace_is_exit_2_naming_it(trace, tmp_path):
    page = tmp_path / "r.html"
    r = cli("report", trace, "--html", str(page))
    assert r.code == 2 and "a trace, not a result document" in r.err and "testbed show" in r.err
    assert not page.exists() and "Traceback" not in r.err


def test_version_is_the_package_version():
    r = cli("--version")
    assert r.code == 0 and r.out.strip() == f"testbed {testbed.__version__}"
    from importlib.metadata import version

    assert version("testbed") == testbed.__version__  # one source: testbed/_version.py


def test_rtems_default_shares_fit_small_stacks_and_typed_ones_are_checked():
    r = cli("stress", "rtems-isolation", "--variant", "strict", "--tasks", "2", "--stack-size",
            "8K", "--rounds", "2")  # fmt: skip
    assert r.code == 0, r.err
    assert r.doc["config"]["shares"] == 1  # two pages a stack: one shared, one probed
    r = cli("stress", "rtems-isolation", "--variant", "strict", "--tasks", "2", "--stack-size",
            "8K", "--shares", "2", "--rounds", "2")  # fmt: skip
    assert r.code == 2 and "--shares 2 with --tasks 2 and --stack-size 8K" in r.err
    r = cli("stress", "rtems-isolation", "--variant", "strict", "--rounds", "2")
    assert r.code == 0 and r.doc["config"]["shares"] == 2  # the default where it fits


def test_a_plain_script_calling_run_without_a_main_guard(tmp_path):
    script = tmp_path / "my_check.py"
    shutil.copy(SCENARIOS / "plain_script.py", script)
    proc = subprocess.Popen([sys.executable, str(script), "atomic"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "RuntimeError" not in err, err
    results = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert results == [{"verdict": "pass", "exit_code": 0}], out  # one run: not one a child
    assert out.splitlines()[0] == "STARTED"
    assert leftovers_of(proc.pid) == []


def _wait_until_python_catches_sigint(pid: int) -> None:
    """Until the interpreter has its SIGINT handler: a Ctrl-C before that (on a loaded
    machine, 0.4 s can be) ends any Python process by the default action, exit -2, before a
    line of ours runs; the delays below count from here."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = int(next(x for x in status.splitlines() if x.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (signal.SIGINT - 1)):
            return
        time.sleep(0.005)
    raise AssertionError(f"pid {pid} did not install a SIGINT handler within 60 s")


def _interrupt(args: list[str], after_s: float, cwd: Path) -> tuple[int, str]:
    proc = subprocess.Popen([sys.executable, "-m", "testbed.cli", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    _wait_until_python_catches_sigint(proc.pid)
    time.sleep(after_s)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole process group
    out, err = proc.communicate(timeout=60)
    assert leftovers_of(proc.pid) == []
    return proc.returncode, err


@pytest.mark.parametrize("after_s", [0.4, 1.0, 1.6, 2.4])
def test_ctrl_c_while_the_processes_start_prints_no_traceback(after_s, tmp_path):
    code, err = _interrupt(
        ["stress", "genode-race", "--variant", "racy", "--duration", "5", "--no-record"],
        after_s, tmp_path,
    )  # fmt: skip
    assert "Traceback" not in err, err
    assert code == 3, err


@pytest.mark.parametrize("after_s", [1.5, 3.0])
def test_ctrl_c_during_replay_repeat_prints_no_traceback(after_s, trace, tmp_path):
    code, err = _interrupt(["replay", trace, "--repeat", "200"], after_s, tmp_path)
    assert "Traceback" not in err, err
    assert code == 3, err
