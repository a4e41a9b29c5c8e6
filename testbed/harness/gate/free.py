"""The free gate (stress): the OS schedules. A point records its event (a C builtin when
recording: no Python frame a point) after perturbation has acted; a lock is watched for
deadlocks; iterations pass the start gate (harness/iteration.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from testbed.harness import deadlock, iteration
from testbed.ipc import control
from testbed.ipc.locks import Holder, NamedLock

if TYPE_CHECKING:
    from testbed.harness.actor import Env
    from testbed.scenario import Scenario


def _no_point(name: str) -> None:
    pass


class Free:
    def __init__(self, env: Env):
        self.env = env
        spec = env.spec
        self.records_accesses = env.recorder is not None
        self._wait_for = deadlock.WaitFor(
            env.seg.words(deadlock.REGION),
            env.ctl,
            control.holder_word,
            [a.name for a in spec.actors],
            spec.locks,
        )
        self.point: Callable[[str], None] = self._point() or _no_point
        # the points the harness adds at a lock at named level record and do not perturb: a
        # yield there, after the critical section's write and before the release's ticket,
        # would let other actors see the write out of the recorded order, and a named-level
        # replay diverge (perturbation acts at the named points, as before)
        recorder = env.recorder
        self.lock_point: Callable[[str], None] = (
            recorder.point_hook(env.record_ids) if recorder is not None else _no_point
        )

    def _point(self) -> Callable[[str], None] | None:
        """Record the event, perturbation first; None if neither acts."""
        env = self.env
        pert, counter = env.pert, env.seg.address("control", control.TICKET)
        if env.recorder is not None:
            if pert is None:
                return env.recorder.point_hook(env.record_ids)
            # perturb first, then record: a yield or a delay between the event's ticket and
            # its step would let other actors' events in between, and the trace would then
            # force an order that never happened (the access points do the same)
            recorded, load = env.recorder.point_hook(env.record_ids), env.atomics.load

            def point(name: str) -> None:
                pert(name, load(counter))
                recorded(name)

            return point
        if pert is not None:
            fetch_add = env.atomics.fetch_add

            def point(name: str) -> None:
                pert(name, fetch_add(counter, 1))

            return point
        return None

    def before_access(self) -> Callable[[int], None] | None:
        """Perturb, given the ticket the access is about to take (or a fresh one)."""
        env = self.env
        pert, points = env.pert, env.spec.points
        if pert is None:
            return None
        counter = env.seg.address("control", control.TICKET)
        if env.recorder is not None:
            load = env.atomics.load
            return lambda code: pert(points[code & 0xFFFF], load(counter))
        fetch_add = env.atomics.fetch_add
        return lambda code: pert(points[code & 0xFFFF], fetch_add(counter, 1))

    def lock(self, name: str) -> Any:
        env, spec = self.env, self.env.spec
        k = spec.locks.index(name)
        holder = Holder(
            env.ctl, control.holder_word(k), env.actor.index + 1, [a.name for a in spec.actors]
        )
        address = env.seg.address("control", control.holder_word(k))
        lock = NamedLock(spec.lock_sem(name), spec.lock_timeout, None, holder, address)
        ctl, word = env.ctl, control.DEADLOCK
        return deadlock.WatchedLock(
            lock, k, self._wait_for, env.actor.index, env.deadlocked, lambda: ctl[word] != 0
        )

    def core_call(self, call: Callable[..., tuple[int, int]]) -> Callable[..., tuple[int, int]]:
        return call

    def live(self, scenario: Scenario) -> None:
        env = self.env
        if env.spec.iterate:
            self._iterations(scenario)
        else:
            env.run_body(scenario)
        env.done()

    def _iterations(self, scenario: Scenario) -> None:
        """All released together at the start gate, each body once an iteration."""
        env = self.env
        gate = iteration.StartGate(env, scenario, env.spec.spin_start)
        try:
            k = env.spec.first_iteration
            last = gate.arrive()
            while gate.pass_(last):
                env.begin_iteration(k)
                gate.entered(k)
                if env.run_body(scenario):
                    last = env.end_body()
                else:  # a deadlock, counted; the run stops (Env.deadlocked): no arbiter
                    last = gate.arrive()
                k += 1
        finally:
            gate.close()
