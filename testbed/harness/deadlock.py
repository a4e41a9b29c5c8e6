"""Naming a deadlock from the actors' side, instead of a lock timeout: each actor keeps a
word in shared memory naming the lock it waits for (who holds each lock is the lock's own
holder word in the control block), and waits for a lock in short slices; between slices it
follows "waits for L, held by B, who waits for M, held by ..." and, if that comes back to
itself twice in a row, it is in a cycle: it reports the actors and the locks, and gives up
its wait.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from testbed.ipc.locks import NamedLock
from testbed.ipc.segment import Layout

REGION = "waits"
WORDS = 1  # per actor: the lock it waits for (k + 1, 0 for none)
SLICE_S = 0.02  # a wait's slice: a cycle is named within two or three of them


class Deadlock(RuntimeError):
    """This actor waits in a cycle of actors each waiting for a lock another one holds."""

    def __init__(self, cycle: list[tuple[str, str, str]]):
        self.cycle = cycle  # (actor, lock it waits for, the actor holding that lock)
        super().__init__(
            "deadlock: " + "; ".join(f"{a} waits for {lock}, held by {b}" for a, lock, b in cycle)
        )

        self.waiting: list[str] = []  # actors outside the cycle that wait on it

    def document(self) -> str:
        """The cycle as compact JSON (it goes into a stats slot's message words)."""
        return json.dumps(
            {
                "actors": [a for a, _, _ in self.cycle],
                "locks": [lock for _, lock, _ in self.cycle],
                "waiting": self.waiting,
            },
            separators=(",", ":"),
        )


class WaitsOnDeadlock(RuntimeError):
    """This actor waits for a lock held by a member of a reported cycle (a bystander): it
    gives up its wait, and the run reports it with the cycle."""

    def __init__(self, actor: str, lock: str, holder: str):
        self.wait = f"{actor} waits for {lock}, held by {holder}"
        super().__init__(f"{self.wait}, who is in a deadlock")


def add_region(layout: Layout, nactors: int) -> None:
    layout.add_words(REGION, WORDS * nactors)


class WaitFor:
    """Every actor's waiting word and every lock's holder word (`holder_word(k)` in
    `holders`: actor index + 1, 0 for none); `cycle(me)` follows the waits-for chain from
    actor `me`."""

    def __init__(
        self,
        words,
        holders,
        holder_word: Callable[[int], int],
        actors: list[str],
        locks: list[str],
    ):
        self.words, self.actors, self.locks = words, actors, locks
        self.holders, self.holder_word = holders, holder_word

    def waits(self, me: int) -> WaitsOnDeadlock:
        """What actor `me` waits for, as a bystander of a reported deadlock."""
        lock = self.words[WORDS * me] - 1
        holder = self.holders[self.holder_word(lock)] - 1
        return WaitsOnDeadlock(
            self.actors[me],
            self.locks[lock],
            self.actors[holder] if holder >= 0 else "nobody (released just now)",
        )

    def waiting_on(self, cycle: list[tuple[str, str, str]]) -> list[str]:
        """The actors outside `cycle` whose chain of waits leads into it ("c waits for L,
        held by a"), seen as the cycle is reported, before its members unwind."""
        members = {self.actors.index(a) for a, _, _ in cycle}
        out = []
        for actor in range(len(self.actors)):
            if actor in members:
                continue
            chain, a = [], actor
            while a not in members and a not in chain and self.words[WORDS * a]:
                holder = self.holders[self.holder_word(self.words[WORDS * a] - 1)] - 1
                if holder < 0:
                    break
                chain.append(a)
                a = holder
            if chain and a in members:
                lock = self.locks[self.words[WORDS * actor] - 1]
                first = self.holders[self.holder_word(self.words[WORDS * actor] - 1)] - 1
                out.append(f"{self.actors[actor]} waits for {lock}, held by {self.actors[first]}")
        return out

    def cycle(self, me: int) -> list[tuple[str, str, str]] | None:
        w = self.words
        chain: list[tuple[int, int, int]] = []
        seen: set[int] = set()
        actor = me
        while actor not in seen:
            seen.add(actor)
            waiting = w[WORDS * actor]
            if not waiting:
                return None
            lock = waiting - 1
            holder = self.holders[self.holder_word(lock)] - 1
            if holder < 0:
                return None
            chain.append((actor, lock, holder))
            actor = holder
        if actor != me:
            return None  # a cycle further on, not through this actor: its members name it
        return [(self.actors[a], self.locks[k], self.actors[b]) for a, k, b in chain]


class WatchedLock:
    """A NamedLock (which keeps its holder word) that keeps this actor's waiting word and
    names a deadlock it is in. `found(Deadlock)` is called once the cycle is sure; then
    Deadlock is raised. Once `reported()` (a cycle was reported by its members), an actor
    still waiting outside the cycle gives up too: WaitsOnDeadlock names what it waits for,
    rather than a lock timeout seconds later."""

    __slots__ = ("lock", "name", "k", "mine", "wait_for", "me", "found", "reported")

    def __init__(
        self,
        lock: NamedLock,
        k: int,
        wait_for: WaitFor,
        me: int,
        found: Callable[[Deadlock], None],
        reported: Callable[[], bool],
    ):
        self.lock, self.name, self.k = lock, lock.name, k
        self.wait_for, self.me, self.found = wait_for, me, found
        self.reported = reported
        self.mine = wait_for.words[WORDS * me :][:WORDS]

    def acquire(self) -> None:
        if not self.lock.try_acquire(0):
            self._wait()

    def _wait(self) -> None:
        self.mine[0] = self.k + 1
        try:
            deadline = time.monotonic() + self.lock.timeout
            last = None
            while not self.lock.try_acquire(SLICE_S):
                cycle = self.wait_for.cycle(self.me)
                if cycle is not None and cycle == last:
                    error = Deadlock(cycle)
                    error.waiting = self.wait_for.waiting_on(cycle)
                    self.found(error)
                    raise error
                if cycle is None and self.reported():
                    raise self.wait_for.waits(self.me)
                last = cycle
                if time.monotonic() > deadline:
                    raise self.lock.timed_out()
        finally:
            self.mine[0] = 0

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> WatchedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
