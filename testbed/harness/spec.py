"""What a child process needs to join a run: names, layout, its role. Plain and picklable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from testbed.ipc.segment import Layout, pd_segment_name
from testbed.scenario import Actor


@dataclass
class RunSpec:
    prefix: str
    scenario: str  # its reference (testbed.harness.loader): children load it again by this
    variant: str
    config: dict[str, Any]
    seed: int
    layout: Layout
    actors: list[Actor]
    has_core: bool
    locks: list[str]
    outcomes: list[str]  # index in the stats counters = index here
    rounds: int  # 0: until stopped
    cpus: dict[str, list[int] | None]  # process name -> CPU affinity, None: leave as is
    reply_spin_s: float
    core_spin_s: float
    lock_timeout: float
    controlled: bool = False  # actors wait for the runner's go at each schedule point
    step_spin_s: float = 0.0  # ... spinning this long before they block (ipc/handoff.py)
    handoff: str = "auto"  # ... auto: only while the machine has a CPU to spare
    runner_cpu: int | None = None  # a search on one CPU: the runner's, core's and the actors'
    reuse: bool = False  # actors run their body once an iteration, reset between (explore)
    iterate: bool = False  # the scenario's unit is the iteration (harness/iteration.py)
    first_iteration: int = 0  # the index of the run's first iteration (a replay's: its trace's)
    spin_start: bool = False  # iterating actors spin at the gate (each has a CPU of its own)
    points: list[str] = field(default_factory=list)  # ids are indexes (access: + families)
    point_level: str = "named"  # "access": every shared word access and lock op is a point
    core_log: str | None = None
    record: bool = False  # schedule-point events into per-actor rings
    ring_events: int = 1 << 16
    perturb: str = "none"
    expected_steps: int = 0  # global steps a PCT window spans
    trace_dir: str = "traces"
    max_traces: int = 0  # trace files a run may write
    # actors pinned to core's one CPU while the others spin: spinning for a reply there only
    # holds the CPU core needs to answer, so they block at once (run.py, the default spins)
    no_reply_spin: list[int] = field(default_factory=list)
    lock_owner: dict[str, int] = field(default_factory=dict)  # a PD's own lock -> its PD
    explain: str = ""  # a directory: each actor notes its accesses there (harness/explain.py)

    def reaches_lock(self, actor: Actor, lock: str) -> bool:
        """May `actor` take `lock` (a shared lock, or one of its own PD's)?"""
        return self.lock_owner.get(lock, actor.pd) == actor.pd

    @property
    def pd_segment_names(self) -> list[str]:
        """Each PD's own segment (Scenario.pd_owned): its actors and core map it."""
        return [pd_segment_name(self.segment_name, pd) for pd in sorted(self.layout.pds)]

    def private_names(self) -> tuple[list[str], list[str]]:
        """(segments, semaphores) whose names go once every process is up: the mailboxes
        and each PD's segment, the reply semaphores and each PD's locks (no process can
        open another's after that)."""
        shm = ([self.mailbox_name] if self.has_core else []) + self.pd_segment_names
        sems = [self.reply_sem(a.index) for a in self.actors] if self.has_core else []
        return shm, sems + [self.lock_sem(k) for k in self.lock_owner]

    @property
    def segment_name(self) -> str:
        return self.prefix + ".seg"

    @property
    def mailbox_name(self) -> str:
        """The mailboxes' segment: a page a client (testbed/ipc/mailbox.py)."""
        return self.prefix + ".mbox"

    @property
    def doorbell(self) -> str:
        return self.prefix + ".door"

    def reply_spin(self, index: int) -> float:
        """How long actor `index` spins for a reply before it blocks, in seconds."""
        return 0.0 if index in self.no_reply_spin else self.reply_spin_s

    def reply_sem(self, index: int) -> str:
        return f"{self.prefix}.reply{index}"

    def lock_sem(self, lock: str) -> str:
        return f"{self.prefix}.lock.{lock}"

    def go_sem(self, index: int) -> str:
        return f"{self.prefix}.go{index}"

    def arrived_sem(self, index: int) -> str:
        return f"{self.prefix}.arrived{index}"

    def start_sem(self, index: int) -> str:
        return f"{self.prefix}.start{index}"

    @property
    def gated(self) -> bool:
        """Free iterations: the actors pass the start gate between them."""
        return self.iterate and not self.controlled

    def semaphores(self) -> dict[str, int]:
        """Every semaphore of the run and its initial value."""
        sems = {self.doorbell: 0} if self.has_core else {}
        for a in self.actors:
            if self.has_core:
                sems[self.reply_sem(a.index)] = 0
            if self.controlled:
                sems[self.go_sem(a.index)] = 0
                sems[self.arrived_sem(a.index)] = 0
            if self.gated:
                sems[self.start_sem(a.index)] = 0
        for lock in self.locks:
            sems[self.lock_sem(lock)] = 1
        return sems
