"""The reused gate (explore): controlled steps on processes kept from schedule to schedule.
Each schedule is one iteration from the state the runner reset (harness/reuse.py); the lock
owners and the requests to core are noted in the `reuse` region, so the runner sees what
each step did."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from testbed.harness import reuse
from testbed.harness.gate.controlled import Controlled
from testbed.harness.scheduler import END
from testbed.ipc import control
from testbed.ipc.locks import NamedLock

if TYPE_CHECKING:
    from testbed.scenario import Scenario


class Reused(Controlled):
    def lock(self, name: str) -> Any:
        spec, k = self.env.spec, self._lock_index[name]
        word = reuse.owner_word(k)
        owner = self.env.seg.words(reuse.REGION)[word : word + 1]
        log = self.env.log_access
        return _OwnedLock(
            spec.lock_sem(name),
            spec.lock_timeout,
            lambda _: self._contended(name),
            owner,
            self.env.actor.index + 1,
            lambda: log(k, reuse.LOG_LOCK),  # the runner: this step touched the lock
        )

    def core_call(self, call: Callable[..., tuple[int, int]]) -> Callable[..., tuple[int, int]]:
        spec = self.env.spec
        calls = self.env.seg.words(reuse.REGION)
        word = reuse.core_calls_word(len(spec.locks), self.env.actor.index)

        env = self.env

        def counted(op: int, a0: int = 0, a1: int = 0, a2: int = 0) -> tuple[int, int]:
            calls[word] += 1  # the runner sees which steps talked to core
            status, value = call(op, a0, a1, a2)
            env.log_core(int(op), a0, a1, a2, int(status), value)  # and which request
            return status, value

        return counted

    def live(self, scenario: Scenario) -> None:
        """One iteration a schedule: wait for the runner's go (no word said: the runner
        knows the actor is there, as after an END), run the body, report the end."""
        env = self.env
        self._wait_go("start")
        while True:
            if self.ctl[control.STOP]:
                return
            if env.opaque:  # the reset cleared the step log's flag
                env.reach_by_address()
            env.begin_iteration(env.spec.first_iteration)
            try:
                if env.run_body(scenario) and env.spec.iterate:
                    env.end_body()
            except reuse.Abandoned:
                pass
            self._park(END, "start")


class _OwnedLock(NamedLock):
    """A lock that notes its holder in the `reuse` region: the runner's wait-for graph."""

    __slots__ = ("_owner", "_owner_id", "_touched")

    def __init__(self, name: str, timeout: float, contended, owner: memoryview, me: int, touched):
        super().__init__(name, timeout, contended)
        self._owner, self._owner_id, self._touched = owner, me, touched

    def acquire(self) -> None:
        super().acquire()
        self._owner[0] = self._owner_id
        self._touched()

    def try_acquire(self, timeout: float) -> bool:
        self._touched()  # taken or not, the step read the lock
        if not super().try_acquire(timeout):
            return False
        self._owner[0] = self._owner_id
        return True

    def release(self) -> None:
        self._touched()
        self._owner[0] = 0
        super().release()
