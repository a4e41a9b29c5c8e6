"""Names of a run's shared-memory segment and semaphores, and cleaning up after dead runs.

Every name carries the owner's pid and start time plus a random token, so parallel runs
and pytest-xdist workers never collide, and `testbed clean` can tell a dead owner from a
live one even after the pid is reused.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import posix_ipc
import psutil

TAG = "tbrun"
BENCH_TAG = "tbbench"  # bench/pingpong.py's objects: /tbbench.PID.TOKEN.WHAT
SHM_DIR = Path("/dev/shm")


def _start_time(pid: int) -> int | None:
    try:
        return int(psutil.Process(pid).create_time() * 100)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def new_prefix() -> str:
    pid = os.getpid()
    return f"/{TAG}.{pid}.{_start_time(pid):x}.{secrets.token_hex(3)}"


def owner_alive(prefix: str) -> bool:
    """Is the process that created `prefix` still running (same pid and start time; a
    bench's objects carry no start time: the pid alone)?"""
    try:
        if prefix.lstrip("/").startswith(BENCH_TAG + "."):
            return psutil.pid_exists(int(prefix.lstrip("/").split(".")[1]))
        _, pid, start, _ = prefix.lstrip("/").split(".")[:4]
        return _start_time(int(pid)) == int(start, 16)
    except ValueError:
        return False


def hold(segment: str) -> int:
    """The runner's claim on its run: a shared flock on the run's segment file, held for the
    run's life (an fd to close at the end). `in_use` sees it from any PID namespace, where
    the owner's pid says nothing."""
    fd = os.open(SHM_DIR / segment.lstrip("/"), os.O_RDONLY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def in_use(prefix: str) -> bool:
    """Is the run of `prefix` held by a live runner (its segment's flock, see `hold`)?"""
    try:
        fd = os.open(SHM_DIR / (prefix.lstrip("/") + ".seg"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Leftover:
    kind: str  # "shm" or "sem"
    name: str  # the posix_ipc name, with its leading slash
    prefix: str
    uid: int = -1  # the user who owns the object (-1: unknown)

    def unlink(self) -> bool:
        cls = posix_ipc.SharedMemory if self.kind == "shm" else posix_ipc.Semaphore
        try:
            cls(self.name).unlink()
            return True
        except posix_ipc.ExistentialError:
            return False


def leftovers(prefix: str | None = None) -> list[Leftover]:
    """Objects in /dev/shm made by testbed runs (all, or those of one run prefix)."""
    found = []
    try:
        entries = sorted(os.listdir(SHM_DIR))
    except FileNotFoundError:
        return []
    for entry in entries:
        kind, base = ("sem", entry[4:]) if entry.startswith("sem.") else ("shm", entry)
        if base.startswith(TAG + "."):
            run = "/" + ".".join(base.split(".")[:4])
        elif base.startswith(BENCH_TAG + "."):
            run = "/" + ".".join(base.split(".")[:3])
        else:
            continue
        if prefix is None or run == prefix:
            try:
                uid = (SHM_DIR / entry).stat().st_uid
            except FileNotFoundError:
                continue  # unlinked meanwhile
            found.append(Leftover(kind, "/" + base, run, uid))
    return found


@dataclass(frozen=True)
class Kept:
    obj: Leftover
    why: str


def clean(
    all_users: bool = False, force: bool = False, dry_run: bool = False
) -> tuple[list[Leftover], list[Kept]]:
    """Unlink the current user's objects of runs whose owner is gone: (removed, kept with
    why). `all_users`: other users' too; `force`: also runs still alive (a live run then
    fails); `dry_run`: decide, remove nothing."""
    me = os.getuid()
    removed, kept = [], []
    held: dict[str, bool] = {}
    for obj in leftovers():
        if obj.prefix not in held:
            held[obj.prefix] = in_use(obj.prefix)
        if obj.uid != me and not all_users:
            kept.append(Kept(obj, f"owned by uid {obj.uid}; --all removes it"))
        elif held[obj.prefix] and not force:
            kept.append(
                Kept(obj, "its run is alive (its runner holds it, perhaps from another PID "
                     "namespace); --force removes it")
            )  # fmt: skip
        elif owner_alive(obj.prefix) and not force:
            kept.append(Kept(obj, "its run is alive; --force removes it"))
        elif dry_run or obj.unlink():
            removed.append(obj)
    return removed, kept
