"""The runner's side of a controlled run: one actor at a time, over real processes. Replay
and minimize (following a script) and explore (choosing each step) share it.

Each actor has two `sched` words (the point it waits at, `what << 16 | id`, or END,
BLOCKED, START; and the lock it found taken), a go handoff (the runner lets it take one
step) and an arrived handoff (it says where the step ended: its next point, a lock
another actor holds, or its end): testbed/ipc/handoff.py, a spin while the waiter has a CPU,
then its semaphore. An actor that finds a lock taken parks as blocked (the lock is the
run's real semaphore, tried without waiting), so the runner never guesses from a timeout
and nothing ever runs at the same time.
"""

from __future__ import annotations

from collections.abc import Callable

from testbed.harness import reuse
from testbed.harness.spec import RunSpec
from testbed.ipc import control, handoff
from testbed.ipc.handoff import Handoff
from testbed.ipc.segment import Segment
from testbed.trace import access_points
from testbed.trace.step import FINISH

END = (1 << 64) - 1  # schedule word of an actor that has finished
BLOCKED = END - 1  # ... of an actor about to block on a lock another actor holds
START = END - 2  # ... of an actor about to run its body: it waits there for its first go
SCHED_WORDS = 2  # per actor: the point it waits at, and the lock it found taken
ALIVE_CHECK_S = 0.2  # how often a wait for an actor checks that no process died
UNSEEN, PARKED, WAITING, FINISHED = "unseen", "parked", "waiting", "finished"  # WAITING: a lock


class ScheduleError(RuntimeError):
    """The schedule cannot go on: an actor went silent, ended or stalled before its point,
    or a deadlock (exit 3)."""


class Scheduler:
    """Where each actor is, and the one step it may take next.

    Fresh processes (replay) say START before their body and wait; reused ones (explore)
    wait in their iteration loop without a word, as after an END. `alive` is called while
    a wait lasts, so an actor that crashed ends the run at once, with its own reason."""

    def __init__(
        self,
        spec: RunSpec,
        seg: Segment,
        alive: Callable[[], None] = lambda: None,
        reused: bool = False,
    ):
        self.spec, self.alive = spec, alive
        self.n = len(spec.actors)
        self.names = [a.name for a in spec.actors]
        self.ctl = seg.words("control")
        self.sched = seg.words("sched")
        # who holds each lock: the reuse region's owner words, else the control block's
        self._holders, self._holder_word = (
            (seg.words(reuse.REGION), reuse.owner_word)
            if reused
            else (self.ctl, control.holder_word)
        )
        spin = spec.step_spin_s
        self.go = [Handoff(seg, spec.go_sem(i), i, True, spin) for i in range(self.n)]
        # a wait for a step's end stops spinning when the actor calls core (reused: counted)
        calls = [
            seg.address(reuse.REGION, reuse.core_calls_word(len(spec.locks), i)) if reused else 0
            for i in range(self.n)
        ]
        self.arrived = [
            Handoff(seg, spec.arrived_sem(i), i, False, spin, calls[i]) for i in range(self.n)
        ]
        self._busy = handoff.busy(seg)
        self._allowance = handoff.Allowance(seg, spec.handoff)
        self.state = [FINISHED if reused else UNSEEN] * self.n
        self.at = [""] * self.n  # the last point each actor reached ("" before its first)
        self.lock = [0] * self.n  # the lock index an actor in WAITING found taken
        self.steps = 0  # steps taken (to a point, a lock or an end), first steps included

    # -- moving ------------------------------------------------------------------------------
    def launch(self) -> None:
        """Run each actor, in index order, from its start to its first point (or a lock, or
        its end): the code before the first point runs before anything the runner orders,
        as in a real run where every actor starts at once, but never two at a time."""
        for i in range(self.n):
            if self.state[i] == UNSEEN:
                self._wait(i)  # its START
            self.at[i] = ""
            self.go[i].give()
            self._wait(i)

    def step(self, i: int) -> str:
        """Let actor i go from its point (or try its lock again) to where it stops next:
        the point it parks at, FINISH, or "" if it found a lock taken."""
        if self.state[i] == FINISHED:
            raise ScheduleError(f"{self.names[i]} has finished; it cannot take another step")
        self._wait(i, lambda t: self.go[i].give_and_wait(self.arrived[i], t))
        return {PARKED: self.at[i], FINISHED: FINISH, WAITING: ""}[self.state[i]]

    def release_all(self) -> None:
        """End control: actors stop waiting at points. Each unfinished actor gets one go:
        it is parked, or about to wait (it read the flag just before it was set), or it
        will see the flag and leave the go unused."""
        self.ctl[control.FREE_RUN] = 1
        for i in range(self.n):
            if self.state[i] != FINISHED:
                self.go[i].give()

    # -- reused processes --------------------------------------------------------------------
    def abandon(self) -> None:
        """Drop the iteration: every unfinished actor unwinds its body and reports its end."""
        self.ctl[control.ABANDON] = 1
        for i in range(self.n):
            if self.state[i] != FINISHED:
                self.go[i].give()
                self._wait(i)
                if self.state[i] != FINISHED:
                    raise ScheduleError(f"{self.names[i]} did not drop its iteration")
        self.ctl[control.ABANDON] = 0

    def stop(self) -> None:
        """No more iterations: the actors leave their loop and end."""
        self.ctl[control.STOP] = 1
        for h in self.go:
            h.give()

    # -- what the runner sees ----------------------------------------------------------------
    def holder(self, lock: int) -> int:
        """The actor holding lock `lock` (an index of spec.locks), -1 if none."""
        return self._holders[self._holder_word(lock)] - 1

    def enabled(self) -> list[int]:
        """Actors that can take a step: parked at a point, or waiting on a lock now free."""
        return [
            i
            for i in range(self.n)
            if self.state[i] == PARKED
            or (self.state[i] == WAITING and self.holder(self.lock[i]) < 0)
        ]

    def finished(self) -> bool:
        return all(s == FINISHED for s in self.state)

    def wait_for(self) -> list[tuple[int, str, int]]:
        """(actor, lock, holder) for every actor waiting on a lock; holder -1 if none."""
        return [
            (i, self.spec.locks[self.lock[i]], self.holder(self.lock[i]))
            for i in range(self.n)
            if self.state[i] == WAITING
        ]

    def where(self, i: int) -> str:
        return f"point {self.at[i]!r}" if self.at[i] else "its start"

    def handoffs(self) -> dict[str, int]:
        """How the runner's waits for an actor's report were answered: spinning or asleep."""
        out = {"spun": 0, "slept": 0}
        for h in self.arrived:
            for key, n in h.stats().items():
                out[key] += n
        return out

    def close(self) -> None:
        for h in (*self.go, *self.arrived):
            h.close()

    # -- reports -----------------------------------------------------------------------------
    def _wait(self, i: int, first: Callable[[float], bool] | None = None) -> None:
        """Wait for actor i's next report: a point, a lock taken, its start or its end
        (`first`: the first wait, with the go that starts the step)."""
        timeout, waited = self.spec.lock_timeout, 0.0
        first = first or self.arrived[i].wait
        given = first(min(ALIVE_CHECK_S, timeout))
        while not given:
            self.alive()
            waited += ALIVE_CHECK_S
            if waited >= timeout:
                raise ScheduleError(
                    f"{self.names[i]} said nothing for {timeout:g} s after {self.where(i)}"
                )
            given = self.arrived[i].wait(min(ALIVE_CHECK_S, timeout - waited), spin=False)
        at = self.sched[SCHED_WORDS * i]
        self.steps += at != START
        if at == END:
            self.state[i] = FINISHED
            if self.finished():  # a reset comes next, no step soon: spinners block
                self._busy()
                self._allowance()  # and may they spin in the next schedule?
        elif at == START:
            self.state[i] = PARKED
        elif at == BLOCKED:
            self.state[i] = WAITING
            self.lock[i] = self.sched[SCHED_WORDS * i + 1]
        else:
            self.state[i] = PARKED
            self.at[i] = access_points.name(self.spec.points, at & 0xFFFF, at >> 16)
