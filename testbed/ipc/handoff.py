"""The step handoff of a controlled run: the runner gives an actor one step, the actor says
where it stopped. Each is a count in shared memory the waiter spins on while it has a CPU,
then blocks on its semaphore (handoff.c): a semaphore a step costs a cross-core wake-up
each way (25-30 us here), a spin a cache line's trip.

At most two processes want a CPU at once: an actor that said where it stopped spins for its
next go only until the runner gives a step to anybody (the `turn` word moves), so the actor
that runs next never waits for a CPU a spinner holds; the runner spins for an actor's report
only until the actor calls core.

Faster still, on this machine, is nobody spinning and everybody on one CPU (`one-cpu`): a
search runs one of its processes at a time, and a semaphore's wake-up on the waker's own CPU
costs a few us (harness/run.py's `one_cpu` places them).
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from testbed.ipc.native import lib, sem_open
from testbed.ipc.segment import Layout, Segment

REGION = "handoff"
# one-cpu: the runner, core and the actors on one CPU, blocking at once; spin: spinning on two
# CPUs (while the machine has one spare: the runner's Allowance, under auto); sem: blocking at
# once wherever the kernel puts them; auto: one-cpu for a search (explore), else as spin
MODES = ("auto", "one-cpu", "spin", "sem")
# how long a waiter spins before it blocks: the iteration gate's (harness/iteration.py),
# longer than most steps, short enough to give a busy machine its CPU back soon
SPIN_S = 200e-6
TURN = 0  # bumped at every go the runner gives, and when it will be busy (a reset)
ALLOW = 1  # 1 while waits may spin: the runner clears it while the machine has no CPU to spare
# Linux's pressure stall information: the share of the last 10 s in which some runnable task
# waited for a CPU. Above this, a spinner holds a CPU somebody is waiting for: waits block
# (a 2-CPU machine running other test suites beside: 98%; the run's own third process, core,
# waiting now and then for a spinner's CPU stays far below)
PRESSURE = Path("/proc/pressure/cpu")
BUSY_PRESSURE = 50.0
PRESSURE_EVERY_S = 0.5  # how often the runner looks again
LINE = 8  # words a cache line: the header, then one line an actor
GO, GO_SLEEPING, ARRIVED, ARRIVED_SLEEPING = range(4)  # an actor's words in its line


def add_region(layout: Layout, nactors: int) -> None:
    layout.add_words(REGION, LINE * (1 + nactors))


def spin_s(mode: str) -> float:
    """How long a waiter spins before it blocks: `sem` never, the others when this process
    (the runner, never pinned) and an actor can be on two CPUs at once (an actor's own
    pinning leaves it that: the runner takes the other CPU). On one CPU a spinner only
    keeps the process it waits for from running."""
    if mode in ("sem", "one-cpu") or len(os.sched_getaffinity(0)) < 2:
        return 0.0
    return SPIN_S


def busy(seg: Segment) -> Callable[[], None]:
    """What the runner calls before it is busy a while (a reset): a spinning actor blocks."""
    return partial(lib().tb_handoff_bump, seg.address(REGION, TURN))


def cpu_pressure() -> float | None:
    """Some avg10 of /proc/pressure/cpu (percent), None where the kernel does not say."""
    try:
        return float(PRESSURE.read_text().split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


class Allowance:
    """The runner's side of ALLOW: `auto` lets waits spin while the machine's CPU pressure is
    below BUSY_PRESSURE (looked at every PRESSURE_EVERY_S, when `__call__`ed), `spin`
    always. A loaded machine's processes then block, as the semaphore alone had them do:
    there a spinner only delays the process it waits for."""

    def __init__(self, seg: Segment, mode: str):
        self.words, self.auto, self.next = seg.words(REGION), mode == "auto", 0.0
        self.words[ALLOW] = 1
        self()

    def __call__(self) -> None:
        if self.auto and time.monotonic() >= self.next:
            self.next = time.monotonic() + PRESSURE_EVERY_S
            pressure = cpu_pressure()
            self.words[ALLOW] = int(pressure is None or pressure < BUSY_PRESSURE)


def _word(actor: int, which: int) -> int:
    return LINE * (1 + actor) + which


class Handoff:
    """One direction of one actor's handoff, as one side holds it: `give` (the giver) or
    `wait` (the waiter; one waiter a direction, in one process, for the segment's life).
    A go's waiter stops spinning when the runner gives a go to anybody; an arrival's, when
    the word at `watch` moves (an actor's count of requests to core: core needs the CPU)."""

    __slots__ = ("_h", "_so", "_watch")

    def __init__(self, seg: Segment, sem: str, actor: int, go: bool, spin: float, watch: int = 0):
        so = self._so = lib()
        count = _word(actor, GO if go else ARRIVED)
        turn = seg.address(REGION, TURN)
        self._watch = turn if go else watch
        h = so.tb_handoff_new(
            seg.address(REGION, count), seg.address(REGION, count + 1), self._watch or None,
            turn if go else None, seg.address(REGION, ALLOW), sem_open(sem), spin,
        )  # fmt: skip
        if not h:
            raise MemoryError("tb_handoff_new")
        self._h = h

    def give(self) -> None:
        _check(self._so.tb_handoff_give(self._h))

    def watched(self) -> int:
        """The watched word now: what `wait` compares with, read before the partner moves it."""
        return self._so.tb_load(self._watch) if self._watch else 0

    def wait(self, timeout_s: float, spin: bool = True, seen: int | None = None) -> bool:
        """Take the next give within `timeout_s` (spinning first if `spin`); whether."""
        seen = self.watched() if seen is None else seen
        return _waited(self._so.tb_handoff_wait(self._h, seen, spin, timeout_s), self, timeout_s)

    def give_and_wait(self, other: Handoff, timeout_s: float) -> bool:
        """Give this, then wait on `other` (spinning first), in one call: an actor's arrival
        and its next go, or the runner's go and the arrival."""
        return _waited(self._so.tb_handoff_pass(self._h, other._h, timeout_s), other, timeout_s)

    def stats(self) -> dict[str, int]:
        """The waiter's: waits answered while spinning and while blocked."""
        stat = self._so.tb_handoff_stat
        return {"spun": stat(self._h, 0), "slept": stat(self._h, 1)}

    def close(self) -> None:
        if self._h:
            self._so.tb_handoff_free(self._h)
            self._h = None


def _waited(rc: int, h: Handoff, timeout_s: float) -> bool:
    """A wait's answer; a signal's EINTR waits again (Python ran its handlers in between)."""
    while rc == -errno.EINTR:
        rc = h._so.tb_handoff_wait(h._h, 0, False, timeout_s)
    _check(rc)
    return rc == 1


def _check(rc: int) -> None:
    if rc < 0:
        raise OSError(-rc, f"step handoff: {os.strerror(-rc)}")
