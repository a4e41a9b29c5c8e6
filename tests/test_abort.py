"""Whatever happens to a run, it ends (exit 3, never a hang) and leaves nothing behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psutil
from conftest import ROOT, leftovers_of


def start(*extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "testbed.cli", "stress", "genode-race", "--variant", "fixed",
            "--duration", "60", "--json", "-", "--no-record", *extra]  # fmt: skip
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )


def title(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline()).strip()
    except psutil.Error:
        return ""


def wait_for_actors(proc: subprocess.Popen, n: int) -> list[psutil.Process]:
    """The run's actor processes, once all of them are up and working."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        objs = leftovers_of(proc.pid)
        kids = [  # each child's title: testbed ROLE SCENARIO/VARIANT run PREFIX
            p for p in psutil.Process(proc.pid).children(recursive=True)
            if title(p).startswith("testbed ")
        ]  # fmt: skip
        if objs and len(kids) >= n + 1:  # core and the actors
            time.sleep(0.3)
            return kids
        time.sleep(0.05)
    raise AssertionError("the run never started")


def test_a_killed_actor_aborts_the_run_with_exit_3():
    proc = start("--creators", "2")
    kids = wait_for_actors(proc, 2)
    victim = next(p for p in kids if title(p).split()[1] == "pd0.thread1")
    victim.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    doc = json.loads(out[out.index("{") :])
    assert doc["verdict"] == "aborted"
    assert f"(pid {victim.pid}) ended with signal 9" in doc["reasons"][0]
    assert leftovers_of(proc.pid) == []


def test_ctrl_c_aborts_cleanly():
    proc = start()
    wait_for_actors(proc, 2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "interrupted" in json.loads(out[out.index("{") :])["reasons"][0]
    assert leftovers_of(proc.pid) == []


def test_a_runner_killed_outright_is_cleaned_up_by_its_core():
    proc = start()
    wait_for_actors(proc, 2)
    assert leftovers_of(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)  # its children may still hold its pipes: do not read them
    deadline = time.monotonic() + 20
    while leftovers_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers_of(proc.pid) == []


def test_every_child_has_a_title_naming_its_run_and_role():
    proc = start("--creators", "2")
    try:
        kids = wait_for_actors(proc, 2)
        prefix = leftovers_of(proc.pid)[0].prefix.lstrip("/")
        titles = {title(p) for p in kids}
        assert titles == {
            f"testbed {role} genode-race/fixed run {prefix}"
            for role in ("core", "pd0.main", "pd0.thread1")
        }
        assert {p.name() for p in kids} == {"tb core", "tb pd0.main", "tb pd0.thread1"}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert leftovers_of(proc.pid) == []
