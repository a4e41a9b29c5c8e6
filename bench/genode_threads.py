"""The Genode model run by threads of one Python process: threading locks, an in-process
core, the thread list and bitmaps in process memory. What a user would test without the
testbed; the kill-rate bench's baseline, and the subject frontrun (a peer) explores.
"""

from __future__ import annotations

import ctypes
import random
import threading
import time
from collections.abc import Callable

from kernel_model.genode.core import Core, CoreConnection
from kernel_model.genode.errors import StackAllocFailed
from kernel_model.genode.layout import AREA_PAGES, AREA_SIZE, NUM_SLOTS
from kernel_model.genode.mutants import AbaFreeStack
from kernel_model.genode.thread_list import ThreadList
from testbed.ipc.native import Atomics, Bitmap
from testbed.scenarios.genode_mutants import ALLOCATORS
from testbed.scenarios.genode_race import RECORDS


class LockWaitTimeout(RuntimeError):
    """A lock wait outlived its timeout: the threads are in a deadlock (or near one)."""


class TimedLock:
    """threading.Lock whose acquire gives up after `timeout` seconds."""

    def __init__(self, timeout: float):
        self._lock, self.timeout = threading.Lock(), timeout

    def acquire(self) -> None:
        if not self._lock.acquire(timeout=self.timeout):
            raise LockWaitTimeout(f"a lock wait outlived {self.timeout:g} s")

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> TimedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _words(n: int) -> tuple[ctypes.Array, memoryview]:
    buf = (ctypes.c_uint64 * n)()
    return buf, memoryview(buf).cast("B").cast("Q")


class World:
    """One PD's shared state and core, for threads; `conflicts` and `deadlocks` count the
    bugs' outcomes."""

    def __init__(self, variant: str, lock_timeout: float = 1.0):
        self.variant = variant
        self._threads, self.threads_words = _words(ThreadList.words_needed(RECORDS))
        ThreadList(self.threads_words).reset()
        self._slots, self.slot_words = _words(Bitmap.words(NUM_SLOTS))
        self._pages, _ = _words(Bitmap.words(AREA_PAGES))
        self._free, self.free_words = _words(1 + NUM_SLOTS)
        AbaFreeStack.fill(self.free_words)
        pages = Bitmap(ctypes.addressof(self._pages), AREA_PAGES)
        self.core = Core(1, lambda pd: pages, ram_quota=AREA_SIZE)
        self._core_lock = threading.Lock()
        self.threads_lock, self.alloc_lock = TimedLock(lock_timeout), TimedLock(lock_timeout)
        self.conflicts = self.deadlocks = self.oks = 0

    def _call(self, op: int, a0: int = 0, a1: int = 0, a2: int = 0) -> tuple[int, int]:
        with self._core_lock:
            st, value = self.core.serve(op, 0, a0, a1, a2)
        return int(st), value

    def allocator(self):
        alloc = ALLOCATORS[self.variant](
            ThreadList(self.threads_words),
            self.threads_lock,
            self.alloc_lock,
            CoreConnection(self._call),
            Bitmap(ctypes.addressof(self._slots), NUM_SLOTS),
        )
        alloc.slot_words, alloc.free_words = self.slot_words, self.free_words
        cas, head = Atomics().cas, ctypes.addressof(self._free)
        alloc.cas = lambda expected, desired: cas(head, expected, desired)
        return alloc

    def round(self, alloc, children: int, rng: random.Random | None = None) -> None:
        """One creator's round: create `children` threads, then destroy them."""
        stacks = []
        try:
            for _ in range(children):
                try:
                    stacks.append(alloc.create(16 * 1024))
                    self.oks += 1
                except StackAllocFailed as e:
                    if e.reason.value == "region_conflict":
                        self.conflicts += 1
            if rng is not None:
                rng.shuffle(stacks)
            for stack in stacks:
                alloc.destroy(stack)
        except LockWaitTimeout:
            self.deadlocks += 1

    @property
    def killed(self) -> bool:
        return bool(self.conflicts or self.deadlocks)


def stress(
    variant: str, budget_s: float, seed: int, creators: int = 2, children: int = 4
) -> dict[str, float | int | None]:
    """Creator threads in rounds until a bug's outcome or `budget_s`: the time to it."""
    world = World(variant)
    stop = threading.Event()
    first: list[float] = []
    t0 = time.monotonic()

    def creator(k: int) -> None:
        alloc, rng = world.allocator(), random.Random(seed * 1000 + k)
        while not stop.is_set():
            world.round(alloc, children, rng)
            if world.killed and not first:
                first.append(time.monotonic() - t0)
                stop.set()

    threads = [threading.Thread(target=creator, args=(k,), daemon=True) for k in range(creators)]
    for t in threads:
        t.start()
    stop.wait(budget_s)
    stop.set()
    for t in threads:
        t.join(5)
    return {"first_failure_s": first[0] if first else None, "creations": world.oks}


def frontrun_explore(variant: str, budget_s: float, seed: int) -> dict[str, object]:
    """frontrun's DPOR over two threads, each one round of 2 creations and destructions:
    found or not, its time and interleavings; an error if frontrun is not installed."""
    try:
        import frontrun
        from frontrun._cooperative import patch_locks, unpatch_locks
    except ImportError:
        return {"error": "frontrun not installed (pip install -e '.[bench]')"}

    def worker(world: World) -> None:
        world.round(world.allocator(), 2)

    t0 = time.monotonic()
    found: Callable[[World], bool] = lambda w: not w.killed  # noqa: E731
    patch_locks()  # what `frontrun pytest` does: its scheduler sees threading's locks
    try:
        res = frontrun.explore(
            setup=lambda: World(variant, lock_timeout=0.5),
            workers=[worker, worker],
            invariant=found,
            total_timeout=budget_s,
            reproduce_on_failure=0,
        )
    except Exception as e:  # frontrun gives up in its own ways (inconclusive, internal)
        return {"error": f"{type(e).__name__}: {e}"[:200], "time_s": time.monotonic() - t0}
    finally:
        unpatch_locks()
    return {
        "found": not getattr(res, "property_holds", True),
        "time_s": time.monotonic() - t0,
        "interleavings": getattr(res, "num_explored", None),
    }
