"""`testbed clean`: only the current user's objects of dead runs unless told otherwise, and
`--dry-run` removes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import posix_ipc
import pytest

from testbed.ipc import names


def dead_prefix() -> str:
    pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    return f"/{names.TAG}.{pid}.1.{os.urandom(3).hex()}"


@pytest.fixture
def objects():
    """A dead run's semaphore, a live run's (ours), and a dead run's of another user."""
    made = {
        "dead": dead_prefix() + ".lock.x",
        "live": names.new_prefix() + ".lock.y",
        "other": dead_prefix() + ".lock.z",
    }
    for n in made.values():
        posix_ipc.Semaphore(n, posix_ipc.O_CREX, initial_value=1).close()
    if os.getuid() == 0:
        os.chown(names.SHM_DIR / ("sem." + made["other"][1:]), 54321, -1)
    yield made
    for n in made.values():
        try:
            posix_ipc.unlink_semaphore(n)
        except posix_ipc.ExistentialError:
            pass


def exists(name: str) -> bool:
    return any(o.name == name for o in names.leftovers())


def clean_cli(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "testbed.cli", "clean", *args],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout


def only(objects, monkeypatch) -> None:
    """names.clean sees only this test's objects (other tests' runs share /dev/shm)."""
    mine = names.leftovers
    monkeypatch.setattr(
        names, "leftovers", lambda: [o for o in mine() if o.name in objects.values()]
    )


def test_dry_run_removes_nothing(objects, monkeypatch):
    only(objects, monkeypatch)
    removed, kept = names.clean(all_users=True, dry_run=True)
    assert {o.name for o in removed} == {objects["dead"], objects["other"]}
    assert [k.obj.name for k in kept] == [objects["live"]]
    assert all(exists(n) for n in objects.values())


@pytest.mark.skipif(os.getuid() != 0, reason="making another user's object needs root")
def test_clean_keeps_live_runs_and_other_users_objects(objects):
    # the one test that runs `testbed clean` for real (it removes every dead run's objects)
    assert f"would remove sem {objects['dead']}" in clean_cli("--dry-run")
    assert exists(objects["dead"])
    out = clean_cli()
    assert not exists(objects["dead"])
    assert f"kept sem {objects['live']} (its run is alive; --force removes it)" in out
    assert f"kept sem {objects['other']} (owned by uid 54321; --all removes it)" in out
    assert exists(objects["live"]) and exists(objects["other"])
    out = clean_cli("--all")
    assert not exists(objects["other"])
    assert exists(objects["live"])


def test_force_removes_a_live_run(objects, monkeypatch):
    only(objects, monkeypatch)
    removed, kept = names.clean(all_users=True, force=True)
    assert {o.name for o in removed} == set(objects.values()) and kept == []
