"""Issue 20, item 8: `testbed clean` keeps a live run's objects even when its runner is in
another PID namespace (the runner holds a flock on its segment), cleans a killed bench's
`tbbench.*` objects, and a run whose objects are removed under it ends exit 3 saying so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import posix_ipc
import pytest

from testbed.ipc import names

STRESS = [sys.executable, "-m", "testbed.cli", "stress", "genode-race", "--variant", "fixed",
          "--no-record", "--json", "-"]  # fmt: skip


def _wait_for_run(proc: subprocess.Popen, pid_field: str) -> str:
    """The prefix of the run whose runner's pid (as its names carry it) is `pid_field`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for obj in names.leftovers():
            if obj.kind == "shm" and obj.prefix.split(".")[1] == pid_field:
                return obj.prefix
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the run never created its segment")


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "-p", "-f", "--mount-proc", "true"], capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare of a PID namespace")
def test_clean_keeps_a_live_run_whose_runner_is_in_another_pid_namespace(tmp_path):
    proc = subprocess.Popen(
        ["unshare", "-p", "-f", "--mount-proc", *STRESS, "--duration", "6"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        prefix = _wait_for_run(proc, "1")  # pid 1 in its namespace: the runner
        assert not names.owner_alive(prefix)  # its pid says nothing here
        assert names.in_use(prefix)
        _, kept = names.clean(dry_run=True)
        assert any(k.obj.prefix == prefix and "alive" in k.why for k in kept)
    finally:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out[out.index("{") :])["verdict"] == "pass"


def test_a_run_whose_objects_are_removed_under_it_ends_exit_3_saying_so(tmp_path):
    proc = subprocess.Popen(
        [*STRESS, "--duration", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        prefix = _wait_for_run(proc, str(proc.pid))
        time.sleep(0.5)
        for obj in names.leftovers(prefix):  # what `testbed clean --force` does to it
            obj.unlink()
    finally:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    doc = json.loads(out[out.index("{") :])
    assert "was removed while the run was going" in doc["reasons"][0]
    assert "Traceback" not in err
    assert names.leftovers(prefix) == []


def test_clean_removes_a_dead_benchs_objects():
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    name = f"/tbbench.{dead}.abcdef.spin"
    posix_ipc.SharedMemory(name, posix_ipc.O_CREX, size=4096).close_fd()
    try:
        found = [o for o in names.leftovers() if o.name == name]
        assert found and found[0].prefix == f"/tbbench.{dead}.abcdef"
        assert not names.owner_alive(found[0].prefix) or os.path.exists(f"/proc/{dead}")
        removed, _ = names.clean()
        assert name in [o.name for o in removed]
    finally:
        try:
            posix_ipc.unlink_shared_memory(name)
        except posix_ipc.ExistentialError:
            pass
