"""The controlled gate (replay, minimize, a forced script): the runner lets one actor take one
step at a time. An actor parks at every point (and, under --points access, every access),
and at a lock another actor holds, saying where in its `sched` words; it goes on at the
runner's go (harness/scheduler.py; the handoff both ways is testbed/ipc/handoff.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from testbed.harness import reuse
from testbed.harness.scheduler import BLOCKED, END, SCHED_WORDS, START
from testbed.ipc import control
from testbed.ipc.handoff import Handoff
from testbed.ipc.locks import Holder, LockTimeout, NamedLock
from testbed.trace import access_points

if TYPE_CHECKING:
    from testbed.harness.actor import Env
    from testbed.scenario import Scenario


class Controlled:
    records_accesses = False  # the runner orders the steps: nothing to record

    def __init__(self, env: Env):
        self.env = env
        spec, index = env.spec, env.actor.index
        self.ctl = env.ctl
        self._sched = env.seg.words("sched")[SCHED_WORDS * index :][:SCHED_WORDS]
        self._go = Handoff(env.seg, spec.go_sem(index), index, True, spec.step_spin_s)
        self._arrived = Handoff(env.seg, spec.arrived_sem(index), index, False, 0.0)
        self._point_index = env.point_index
        self._lock_index = {name: k for k, name in enumerate(spec.locks)}
        self.point: Callable[[str], None] = self._point
        self.lock_point = self._point  # a lock's points park as any other

    def _point(self, name: str) -> None:
        if self.ctl[control.FREE_RUN]:
            return
        if self.ctl[control.ABANDON]:  # still unwinding a dropped iteration
            raise reuse.Abandoned
        self._park(self._point_index[name], name)

    def before_access(self) -> Callable[[int], None] | None:
        return self._access

    def _access(self, code: int) -> None:
        """An access point: `code` is what << 16 | point id."""
        if self.ctl[control.FREE_RUN]:
            return
        self._park(code)  # (its name only if the wait times out)

    def _contended(self, lock: str) -> bool:
        """A lock is taken: park as blocked until the runner says try again (True), or,
        once the run is free, block for real (False)."""
        if self.ctl[control.FREE_RUN]:
            return False
        if self.ctl[control.ABANDON]:
            raise reuse.Abandoned
        self._sched[1] = self._lock_index[lock]
        self._park(BLOCKED, lock)
        return True

    def lock(self, name: str) -> Any:
        env, spec = self.env, self.env.spec
        k = self._lock_index[name]
        holder = Holder(
            env.ctl, control.holder_word(k), env.actor.index + 1, [a.name for a in spec.actors]
        )
        # (no deadlock watch: the runner sees every actor blocked and names the cycle)
        return NamedLock(
            spec.lock_sem(name), spec.lock_timeout, lambda _: self._contended(name), holder
        )

    def core_call(self, call: Callable[..., tuple[int, int]]) -> Callable[..., tuple[int, int]]:
        return call

    def _report(self, where: int) -> None:
        self._sched[0] = where
        self._arrived.give()

    def _park(self, where: int, name: str = "") -> None:
        """Say where this actor stopped (an access point's `name` is its code's), and wait
        there for its next go."""
        self._sched[0] = where
        if not self._arrived.give_and_wait(self._go, self.env.spec.lock_timeout):
            points = self.env.spec.points
            self._went(False, name or access_points.name(points, where & 0xFFFF, where >> 16))
        if self.ctl[control.ABANDON]:
            raise reuse.Abandoned

    def _wait_go(self, name: str) -> None:
        self._went(self._go.wait(self.env.spec.lock_timeout), name)

    def _went(self, given: bool, name: str) -> None:
        if not given:
            raise LockTimeout(
                f"{self.env.actor.name} waited {self.env.spec.lock_timeout:g} s at schedule "
                f"point {name!r} for its turn"
            )
        if self.ctl[control.ABANDON]:
            raise reuse.Abandoned

    def live(self, scenario: Scenario) -> None:
        """Wait for the first go before a line of the body runs; then the body (one
        iteration of an iterating scenario, its arbiter run by the last to end)."""
        env = self.env
        if not self.ctl[control.FREE_RUN]:
            self._park(START, "its start")
        if env.spec.iterate:
            env.begin_iteration(env.spec.first_iteration)
        if env.run_body(scenario) and env.spec.iterate:
            env.end_body()
        env.done()
        self._report(END)
