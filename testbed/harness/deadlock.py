"""Naming a deadlock from the actors' side, instead of a lock timeout: each actor keeps two
words in shared memory, the locks it holds (a bit a lock) and the lock it waits for, and
waits for a lock in short slices; between slices it follows "waits for L, held by B, who
waits for M, held by ..." and, if that comes back to itself twice in a row, it is in a
cycle: it reports the actors and the locks, and gives up its wait.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from testbed.ipc.locks import NamedLock
from testbed.ipc.segment import Layout

REGION = "waits"
WORDS = 2  # per actor: locks held (bit k: lock k), lock waited for (k + 1, 0 for none)
HELD, WAITING = 0, 1
MAX_LOCKS = 64  # locks beyond the first 64 are waited for without deadlock detection
SLICE_S = 0.02  # a wait's slice: a cycle is named within two or three of them


class Deadlock(RuntimeError):
    """This actor waits in a cycle of actors each waiting for a lock another one holds."""

    def __init__(self, cycle: list[tuple[str, str, str]]):
        self.cycle = cycle  # (actor, lock it waits for, the actor holding that lock)
        super().__init__(
            "deadlock: " + "; ".join(f"{a} waits for {lock}, held by {b}" for a, lock, b in cycle)
        )

    def document(self) -> str:
        """The cycle as compact JSON (it goes into a stats slot's message words)."""
        return json.dumps(
            {
                "actors": [a for a, _, _ in self.cycle],
                "locks": [lock for _, lock, _ in self.cycle],
            },
            separators=(",", ":"),
        )


def add_region(layout: Layout, nactors: int) -> None:
    layout.add_words(REGION, WORDS * nactors)


class WaitFor:
    """Every actor's two words; `cycle(me)` follows the waits-for chain from actor `me`."""

    def __init__(self, words, actors: list[str], locks: list[str]):
        self.words, self.actors, self.locks = words, actors, locks

    def cycle(self, me: int) -> list[tuple[str, str, str]] | None:
        w, n = self.words, len(self.actors)
        chain: list[tuple[int, int, int]] = []
        seen: set[int] = set()
        actor = me
        while actor not in seen:
            seen.add(actor)
            waiting = w[WORDS * actor + WAITING]
            if not waiting:
                return None
            lock = waiting - 1
            bit = 1 << lock
            holder = next((b for b in range(n) if w[WORDS * b + HELD] & bit), None)
            if holder is None:
                return None
            chain.append((actor, lock, holder))
            actor = holder
        if actor != me:
            return None  # a cycle further on, not through this actor: its members name it
        return [(self.actors[a], self.locks[k], self.actors[b]) for a, k, b in chain]


class WatchedLock:
    """A NamedLock that keeps this actor's held/waiting words and names a deadlock it is
    in. `found(Deadlock)` is called once the cycle is sure; then Deadlock is raised."""

    __slots__ = ("lock", "name", "bit", "k", "mine", "wait_for", "me", "found")

    def __init__(
        self,
        lock: NamedLock,
        k: int,
        wait_for: WaitFor,
        me: int,
        found: Callable[[Deadlock], None],
    ):
        self.lock, self.name, self.k, self.bit = lock, lock.name, k, 1 << k
        self.wait_for, self.me, self.found = wait_for, me, found
        self.mine = wait_for.words[WORDS * me :][:WORDS]

    def acquire(self) -> None:
        if not self.lock.try_acquire(0):
            self._wait()
        self.mine[HELD] |= self.bit

    def _wait(self) -> None:
        self.mine[WAITING] = self.k + 1
        try:
            deadline = time.monotonic() + self.lock.timeout
            last = None
            while not self.lock.try_acquire(SLICE_S):
                cycle = self.wait_for.cycle(self.me)
                if cycle is not None and cycle == last:
                    error = Deadlock(cycle)
                    self.found(error)
                    raise error
                last = cycle
                if time.monotonic() > deadline:
                    raise self.lock.timed_out()
        finally:
            self.mine[WAITING] = 0

    def release(self) -> None:
        self.mine[HELD] &= ~self.bit
        self.lock.release()

    def __enter__(self) -> WatchedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
