"""The iteration, jcstress's and litmus7's unit: fresh state, every actor released at once,
each actor's body once, then the arbiter reads the final state.

Free runs (stress) pass a gate between iterations: the last actor to arrive runs the arbiter
of the iteration just done, decides whether another follows, puts the state back as a fresh
run has it (regions zeroed and `init_shared`, the rings and the ticket, core's service), and
releases everybody by bumping one generation word. The others spin on that word in C (when
each actor has a CPU of its own) and timestamp their release there, so they start within a
microsecond or two of each other; otherwise, or after SPIN_S, they sleep on a semaphore of
their own. A failure's history is then its iteration: its trace is bounded whenever it came.

Controlled runs (replay, explore) run one iteration, one actor at a time; the last actor to
end its body runs the arbiter (`finish_body`), so all three modes share the same code.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import posix_ipc

from testbed.harness import recorder
from testbed.ipc import control
from testbed.ipc.locks import LockTimeout
from testbed.ipc.native import AtomicWord, Bitmap, lib
from testbed.ipc.segment import Layout, Segment
from testbed.scenario import ConfigError, Scenario

if TYPE_CHECKING:
    from testbed.harness.actor import Env

REGION = "iteration"
GEN = 0  # releases so far: the k-th release starts iteration first_iteration + k - 1
DONE = 1  # actors that ended their body (or, before the first, arrived) since the last release
COMPLETED = 2  # iterations whose every body returned (and whose arbiter ran)
STOPPED = 3  # the last release was the end: nobody runs another body
HEADER = 8
HIST_BUCKETS = 128  # the start spread: four buckets an octave, up to 2^31 ns
# how long a waiting actor spins before it sleeps (when it spins at all): longer than the
# gap between two actors' ends in a short body, short enough that a spinner whose partner
# was preempted on a busy machine gives its CPU back soon
SPIN_S = 200e-6
PROBE_EVERY = 64  # sleeps between two tries at spinning again, once spinning stopped paying
SPINS = 1 << 10  # pauses a C call spins before Python looks at the abort flag again
CORE_TIMEOUT_S = 10.0


def words(nactors: int) -> int:
    return HEADER + 3 * nactors + HIST_BUCKETS


def add_region(layout: Layout, nactors: int) -> None:
    layout.add_words(REGION, words(nactors))


def start_word(i: int) -> int:
    """When actor i was last released (CLOCK_MONOTONIC ns)."""
    return HEADER + i


def body_word(n: int, i: int) -> int:
    """The iteration actor i is in (+ 1), 0 while it waits at the gate: who never returns."""
    return HEADER + n + i


def sleep_word(n: int, i: int) -> int:
    """1 while actor i sleeps on its semaphore (the releaser posts it and clears the word)."""
    return HEADER + 2 * n + i


def hist_word(n: int) -> int:
    return HEADER + 3 * n


class FreshState:
    """Puts the scenario's regions back as a new run has them: zeroed, then `init_shared`
    (one memset a region: this runs between every two iterations). It runs where every
    region is mapped, each PD's own included: in core when the run has one (core rebuilds
    its service at the same moment: no handoff of its own), else in the runner (explore)
    or the last actor to arrive (a run without a core has no PD's own regions)."""

    def __init__(self, seg: Segment, scenario: Scenario, config: dict[str, Any]):
        self.seg, self.scenario, self.config = seg, scenario, config
        self.spans = [seg.span(r) for r in scenario.regions(config)]
        self.init = type(scenario).init_shared is not Scenario.init_shared

    def __call__(self) -> None:
        for addr, nbytes in self.spans:
            ctypes.memset(addr, 0, nbytes)
        if self.init:
            self.scenario.init_shared(self.seg, self.config)


def reset_core(
    ctl: memoryview, doorbell: posix_ipc.Semaphore, epoch: int, alive: Callable[[], None]
) -> None:
    """Have core put the scenario's regions back (FreshState) and build its service afresh
    for `epoch` (core looks at EPOCH after each batch it serves), and wait until it did."""
    ctl[control.EPOCH] = epoch
    doorbell.release()  # core may be asleep on it; a spare post only wakes it once
    deadline = time.monotonic() + CORE_TIMEOUT_S
    while ctl[control.CORE_EPOCH] != epoch:
        alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"core did not reset its service within {CORE_TIMEOUT_S:g} s")
        time.sleep(0)


def spread_summary(hist: list[int]) -> dict[str, Any] | None:
    """Median and 99th percentile of the start spread, each as the upper bound of its
    bucket (the histogram's resolution is a quarter octave: the true value is within 25%
    below it); None before two releases were seen."""
    total = sum(hist)
    if not total:
        return None

    def upper_us(k: int) -> float:
        if k == 0:
            return 0.0
        b, f = divmod(k - 1, 4)
        return (1 << b) * (1 + (f + 1) / 4) / 1000.0

    out: dict[str, Any] = {"iterations": total, "resolution": "25%"}
    for name, q in (("median_us", 0.5), ("p99_us", 0.99)):
        seen, want = 0, q * total
        for k, count in enumerate(hist):
            seen += count
            if seen >= want:
                out[name] = round(upper_us(k), 3)
                break
    return out


class ArbiterEnv:
    """What `Scenario.arbiter` gets: the final state of the iteration, read alone (every
    body has returned), so reads are plain memory, no schedule points; `record` counts as
    an actor's `env.record` does (a FORBIDDEN outcome writes the iteration's trace)."""

    def __init__(self, env: Env):
        self._env = env
        self.config = env.config

    @property
    def rng(self):
        return self._env.rng

    @property
    def iteration(self) -> int:
        return self._env.iteration

    def _shared(self, region: str) -> int:
        """The words of a shared region; a PD's own is refused whoever runs the arbiter
        (the last actor to end, of any PD: the answer must not depend on which)."""
        words = self._env._declared(region)
        pd = self._env.seg.layout.owner.get(region)
        if pd is not None:
            raise PermissionError(
                f"the arbiter reads region {region!r}, which belongs to PD {pd} "
                "(Scenario.pd_owned): the arbiter runs in whichever actor ends last, so it "
                "reads only regions every actor shares"
            )
        return words

    def words(self, region: str) -> memoryview:
        self._shared(region)
        return self._env.seg.words(region)

    def address(self, region: str, word: int = 0) -> int:
        self._shared(region)
        return self._env.seg.address(region, word)

    def bitmap(self, region: str, nbits: int | None = None) -> Bitmap:
        words = self._shared(region)
        nbits = 64 * words if nbits is None else nbits
        if not 0 < nbits <= 64 * words:  # as Env.bitmap: a bitmap past its region is refused
            raise ConfigError(
                f"bitmap {region!r} of {nbits} bits: the region holds 1..{64 * words} bits"
            )
        return Bitmap(self._env.seg.address(region), nbits)

    def atomic(self, region: str, word: int = 0) -> AtomicWord:
        self._shared(region)
        return AtomicWord(self._env.seg.address(region, word))

    def point(self, name: str) -> None:
        pass

    def stopping(self) -> bool:
        return self._env.stopping()

    def record(self, outcome: str, at: str | None = None, *, n: int = 1) -> None:
        self._env.record(outcome, at, n=n)


class StartGate:
    """An actor's side of the gate between iterations of a free run."""

    def __init__(self, env: Env, scenario: Scenario, spin: bool):
        spec, seg = env.spec, env.seg
        self.env, self.spec, self.seg, self.scenario = env, spec, seg, scenario
        self.n, self.me = len(spec.actors), env.actor.index
        self.w = seg.words(REGION)
        self.ctl = seg.words("control")
        self.so = lib()
        self.gen_addr = seg.address(REGION, GEN)
        self.done_addr = seg.address(REGION, DONE)
        self.spin_s = SPIN_S if spin else 0.0
        self.budget = self.spin_s  # what the next wait may spin (adapts, see _wait)
        self.sleeps = 0
        # with a core, core puts the regions back when it rebuilds its service (reset_core)
        self.fresh = None if spec.has_core else FreshState(seg, scenario, spec.config)
        self.sems = [posix_ipc.Semaphore(spec.start_sem(i)) for i in range(self.n)]
        self.sleep_addr = [seg.address(REGION, sleep_word(self.n, i)) for i in range(self.n)]
        self.doorbell = posix_ipc.Semaphore(spec.doorbell) if spec.has_core else None
        self.rings = (
            [seg.words(recorder.ring_region(a.index)) for a in spec.actors]
            + [seg.words(recorder.CORE_RING)]
            if spec.record
            else []
        )
        self.released = 0  # releases this actor has passed
        self.woken = (ctypes.c_uint64 * self.n)()  # who the releaser found asleep
        self.so.tb_gate_bind(
            seg.address(REGION),
            self.n,
            HIST_BUCKETS,
            seg.address("control", control.STOP),
            seg.address("control", control.ABORT),
            spec.rounds,
            ctypes.addressof(self.woken),
        )

    def arrive(self) -> bool:
        """Count this actor in; answers whether it is the last of them."""
        return self.so.tb_fetch_add(self.done_addr, 1) == self.n - 1

    def pass_(self, last: bool) -> bool:
        """Wait for the next release (the last to arrive gives it); False: no next iteration."""
        self.released += 1
        self.w[body_word(self.n, self.me)] = 0
        if last:
            self._release()
        else:
            self._wait(self.released)
        return not self.w[STOPPED]

    def entered(self, index: int) -> None:
        """This actor runs the body of iteration `index` now."""
        self.w[body_word(self.n, self.me)] = index + 1

    def _release(self) -> None:
        """The last to arrive: close the iteration just done (gate.c: count it, note its
        start spread, decide whether another follows), reset the state, open the gate."""
        released = self.released
        if not self.so.tb_gate_close(released) and released > 1:
            self._reset()
        for k in range(self.so.tb_gate_open(self.me, released)):  # the sleepers, to post
            self.sems[self.woken[k]].release()

    def _reset(self) -> None:
        """The next iteration starts as a new run would (but for the counters, which add up);
        core, if the run has one, puts the regions back (this actor may not map them all)."""
        for ring in self.rings:
            ring[0] = 0
        self.ctl[control.TICKET] = 0
        if self.fresh is not None:
            self.fresh()
        if self.doorbell is not None:
            reset_core(self.ctl, self.doorbell, self.ctl[control.EPOCH] + 1, self._alive)

    def _alive(self) -> None:
        if self.ctl[control.ABORT]:
            raise LockTimeout("the run was aborted while core reset its service")

    def _wait(self, target: int) -> None:
        """Wait for release `target`: spin (within the budget), then sleep."""
        so, me = self.so, self.me
        t = 0
        if self.budget:
            deadline = time.monotonic() + self.budget
            while not t:
                t = so.tb_gate_spin(self.gen_addr, target, SPINS)
                if not t and (self.ctl[control.ABORT] or time.monotonic() > deadline):
                    break
            # adaptive, as an adaptive mutex: a spin that saw the release keeps the budget;
            # one that ran out (the releaser was preempted: a busy machine) halves it, down
            # to none; then a probe every PROBE_EVERY sleeps tries spinning again
            self.budget = self.spin_s if t else (self.budget / 2 if self.budget > 20e-6 else 0)
        elif self.spin_s:
            self.sleeps += 1
            if self.sleeps % PROBE_EVERY == 0:
                self.budget = self.spin_s / 8
        # sleep: say so in the word, look once more, and sleep; a post is only a hint (one
        # meant for the last gate can arrive late, from a releaser preempted before it
        # posted), so the generation word has the last say
        sem, flag = self.sems[me], self.sleep_addr[me]
        while not t:
            if self.ctl[control.ABORT]:
                self.w[STOPPED] = 1
                return
            so.tb_store(flag, 1)
            if so.tb_load(self.gen_addr) < target:
                try:
                    sem.acquire(0.2)  # the releaser cleared the word before it posted
                except posix_ipc.BusyError:
                    if not so.tb_exchange(flag, 0):
                        sem.acquire()  # the releaser took the word: its post is due
            elif not so.tb_exchange(flag, 0):
                sem.acquire()
            if so.tb_load(self.gen_addr) >= target:
                t = so.tb_now_ns()
        self.w[start_word(me)] = t

    def close(self) -> None:
        for sem in self.sems:
            sem.close()
        if self.doorbell is not None:
            self.doorbell.close()
