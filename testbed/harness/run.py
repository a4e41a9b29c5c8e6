"""One experiment from its options: the checks that need the scenario's config, the CPU
plan, the shared layout, and the run's spec; the supervisor does the rest."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from testbed.harness import (
    capture,
    deadlock,
    iteration,
    loader,
    recorder,
    scheduler,
    stats,
)
from testbed.harness import options as option_table
from testbed.harness import reuse as reuse_words
from testbed.harness.spec import RunSpec
from testbed.harness.supervisor import Snapshot, Supervisor
from testbed.ipc import control, handoff, mailbox, names, segment
from testbed.ipc.segment import Layout
from testbed.scenario import Actor, ConfigError, Scenario
from testbed.trace import access_points
from testbed.trace.step import Step


@dataclass
class RunOptions:
    scenario: Scenario
    variant: str
    config: dict[str, Any]
    ref: str = ""  # how the children load the scenario again; "" = found from the object
    seed: int = 0
    rounds: int = 0  # 0: run for `duration_s`
    duration_s: float = 2.0
    pin: str = "none"
    max_failures: int = 0
    require: list[str] = field(default_factory=list)
    core_log: str | None = None
    reply_spin_us: float | None = None  # None: spin only when processes can run in parallel
    core_spin_us: float | None = None
    lock_timeout_s: float = 10.0
    script: list[Step] | None = None  # force an interleaving at schedule points
    progress: Callable[[Snapshot], None] | None = None
    record: bool = False  # schedule-point events into rings; traces of interesting outcomes
    # (the CLI records by default: it costs 7-40% of throughput, not time to first failure)
    ring_events: int = recorder.DEFAULT_RING_EVENTS
    perturb: str = "none"
    point_level: str = "named"  # "access": every read/write through env.words and lock op a point
    hogs: int = 0  # CPU-hog processes on the actors' CPUs
    trace_dir: str = "traces"
    max_traces: int = 3
    stop_after_script: bool = False  # replay: actors stop once the script is done ...
    script_first: str = ""  # ... and this actor finishes first (the one that saw the outcome)
    first_iteration: int = 0  # an iterating scenario's first iteration index (a replay's)
    verify: int = 0  # replays of the first trace before its command is offered (the CLI: 1)
    handoff: str = "auto"  # a controlled run's step handoff: ipc/handoff.py's MODES
    cpu: int | None = None  # a search on one CPU: which of the usable ones (k: the k-th, mod
    # their number; None: the one the runner runs on now)
    explain: str = ""  # a controlled run's actors note their accesses here (testbed explain)


# what prepare checks of a record: what the processes would trip over, or be made with
PREPARE_CHECKS = (
    "--variant",
    "--require",
    "--points",
    "--perturb",
    "--ring-events",
    "--hogs",
    "--pin",
    "--lock-timeout",
)
MAX_ACTORS = 256  # processes a run starts (every PD's threads): 512 did not start in 400 s here
MAX_REGION_WORDS = 1 << 28  # 2 GiB a region: more than /dev/shm holds on any machine here


def cpu_plan(pin: str, actors: list[Actor]) -> dict[str, list[int] | None]:
    """Process name -> CPUs. `same`: all on one CPU (the report's single-core board);
    `spread`: core on the first CPU, actors round-robin starting on the next."""
    cpus = sorted(psutil.Process().cpu_affinity())
    plan: dict[str, list[int] | None] = {"core": None}
    for a in actors:
        plan[a.name] = None
    if pin == "same":
        plan = {k: [cpus[0]] for k in plan}
    elif pin == "spread":
        plan["core"] = [cpus[0]]
        for a in actors:
            plan[a.name] = [cpus[(a.index + 1) % len(cpus)]]
    return plan


def one_cpu(opts: RunOptions, reuse: bool) -> int | None:
    """The one CPU a search's processes all go on (the runner, core, the actors), or None.
    A search (explore, `reuse`) runs one of them at a time, so a second CPU buys nothing
    there, and a semaphore's wake-up on the waker's own CPU costs a few us against 25-30 us
    across CPUs (docs/results.md, the step handoff). `--handoff one-cpu`, and `auto` unless
    `--pin spread` spreads them; never a stress run or a replay."""
    if not reuse or opts.handoff not in ("auto", "one-cpu") or opts.pin == "spread":
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if opts.cpu is not None:
        return cpus[opts.cpu % len(cpus)]
    here = _current_cpu()
    return here if here in cpus else cpus[0]


def _current_cpu() -> int:
    """The CPU this thread runs on now: where the kernel's balancer put the runner, so that
    two searches started side by side tend to take two CPUs. -1 if libc does not say."""
    try:
        return int(ctypes.CDLL(None).sched_getcpu())
    except (OSError, AttributeError):
        return -1


def beside_core(plan: dict[str, list[int] | None], actors: list[Actor]) -> list[int]:
    """The actors pinned to the one CPU core is pinned to (`--pin spread` with more actors
    than the other CPUs take): the answer to a request of theirs needs their own CPU."""
    core = plan.get("core")
    if core is None or len(core) != 1:
        return []
    return [a.index for a in actors if plan[a.name] == core]


def _parallel(plan: dict[str, list[int] | None]) -> bool:
    """Can two of the run's processes be on CPUs at once? Spinning pays only then."""
    used = set()
    for cpus in plan.values():
        used.update(cpus if cpus is not None else psutil.Process().cpu_affinity())
    return len(used) > 1


def _own_cpus(plan: dict[str, list[int] | None], actors: list[Actor], core: bool) -> bool:
    """Has each actor a CPU of its own (core too, if the scenario has one: it resets its
    service between iterations)? Then iterating actors spin at the start gate."""
    usable = sorted(psutil.Process().cpu_affinity())
    names = [a.name for a in actors] + (["core"] if core else [])
    sets = [plan[name] for name in names]
    if all(s is None for s in sets):
        return len(names) <= len(usable)
    if any(s is None or len(s) != 1 for s in sets):
        return False
    return len({s[0] for s in sets}) == len(names)


def _check_actors(sc: Scenario, actors: list[Actor]) -> None:
    if len(actors) > MAX_ACTORS:
        raise ConfigError(
            f"scenario {sc.name}: {len(actors)} actors: expected 1..{MAX_ACTORS} "
            "(each is a process of its own)"
        )
    seen: set[str] = set()
    for a in actors:
        if not isinstance(a.name, str) or not a.name or a.name == "core":
            raise ConfigError(
                f"scenario {sc.name}: actor name {a.name!r}: expected a non-empty str, not 'core'"
            )
        if a.name in seen:
            raise ConfigError(f"scenario {sc.name}: actor name {a.name!r} declared twice")
        seen.add(a.name)


def _check_regions(sc: Scenario, kind: str, declared: Any, layout: Layout) -> None:
    """A scenario's regions: str names not the harness's own, 1..MAX_REGION_WORDS words."""
    if not isinstance(declared, dict):
        raise ConfigError(
            f"scenario {sc.name}: {kind}(config) answered {declared!r}: expected a dict"
        )
    for name, nwords in declared.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"scenario {sc.name}: {kind} name {name!r}: expected a non-empty str")
        if layout.taken(name):
            raise ConfigError(
                f"scenario {sc.name}: region {name!r}: the name is taken (the harness's own "
                f"regions: {', '.join(layout.regions)}; or declared twice)"
            )
        if isinstance(nwords, bool) or not isinstance(nwords, int):
            raise ConfigError(
                f"scenario {sc.name}: region {name!r} of {nwords!r} words: expected an int"
            )
        if not 0 <= nwords <= MAX_REGION_WORDS:
            raise ConfigError(
                f"scenario {sc.name}: region {name!r} of {nwords} words: expected "
                f"0..{MAX_REGION_WORDS} (64-bit words)"
            )


def _check_owned(
    sc: Scenario, owned: Any, regions: dict[str, int], locks: list[str], actors: list[Actor]
) -> dict[str, int]:
    """`pd_owned(config)`: declared regions and locks, each of a PD some actor has."""
    if not isinstance(owned, dict):
        raise ConfigError(
            f"scenario {sc.name}: pd_owned(config) answered {owned!r}: expected a dict"
        )
    pds = sorted({a.pd for a in actors})
    for name, pd in owned.items():
        if name not in regions and name not in locks:
            raise ConfigError(
                f"scenario {sc.name}: pd_owned names {name!r}, which is neither a region of "
                f"regions(config) ({', '.join(regions) or 'none'}) nor a lock of locks(config) "
                f"({', '.join(locks) or 'none'})"
            )
        if isinstance(pd, bool) or pd not in pds:
            raise ConfigError(
                f"scenario {sc.name}: pd_owned gives {name!r} to PD {pd!r}: expected a PD "
                f"some actor has ({', '.join(map(str, pds))})"
            )
    return owned


def _check_read_only(sc: Scenario, names: Any, regions: dict[str, int]) -> set[str]:
    """`read_only(config)`: a list of declared regions."""
    if not isinstance(names, list | tuple | set):
        raise ConfigError(
            f"scenario {sc.name}: read_only(config) answered {names!r}: expected a list"
        )
    for name in names:
        if name not in regions:
            raise ConfigError(
                f"scenario {sc.name}: read_only names {name!r}, which is not a region of "
                f"regions(config) ({', '.join(regions) or 'none'})"
            )
    return set(names)


def _check_space(layout: Layout, nclients: int) -> None:
    """The run's shared memory must fit in /dev/shm: checked before anything is mapped."""
    need = layout.shared_size() + (mailbox.PAGE * nclients if nclients else 0)
    free = segment.free_shm()
    if free and need > free:
        raise ConfigError(
            f"{segment.SHM_DIR} has {free:,} bytes free; the run needs {need:,} bytes of shared "
            "memory (a larger /dev/shm, e.g. `docker run --shm-size`, or a smaller run: fewer "
            "actors, a smaller --ring-events)"
        )


def run(opts: RunOptions) -> dict[str, Any]:
    doc = Supervisor(prepare(opts), opts).go()
    if opts.verify and doc.get("trace_files"):
        from testbed.harness.replay import verify

        verify(doc, opts.verify, opts.lock_timeout_s)
    return doc


def prepare(opts: RunOptions, reuse: bool = False) -> RunSpec:
    """Every check, and the run's spec. `reuse`: a controlled run whose actors run their body
    once an iteration, the shared state reset between iterations (testbed explore)."""
    sc = opts.scenario
    ref = opts.ref or loader.reference(sc)
    # options built without a parser (benches, tests, replay): the table's checks, before
    # anything is created
    option_table.check_record(option_table.STRESS, opts, PREPARE_CHECKS)
    config = option_table.scenario_config(opts.config, opts.variant)
    actors = [Actor(i, n, p) for i, (n, p) in enumerate(sc.actors(config))]
    if not actors:
        raise ConfigError(f"scenario {sc.name}: actors(config) declared no actor")
    _check_actors(sc, actors)
    cpu = one_cpu(opts, reuse)
    plan = cpu_plan(opts.pin, actors)
    if cpu is not None:  # (_parallel: no spin for a reply, none in core's loop)
        plan = dict.fromkeys(plan, [cpu])
    iterate = bool(sc.iterates(config))
    if sc.has_arbiter and not iterate:
        raise ConfigError(
            f"scenario {sc.name}: an arbiter() needs iterations (iterate = True): "
            "a continuous run has no moment when every body has returned"
        )
    if not 0 <= opts.first_iteration < 1 << 62:
        raise ConfigError(f"first iteration {opts.first_iteration}: expected 0..{(1 << 62) - 1}")
    if opts.handoff not in handoff.MODES:
        raise ConfigError(f"handoff {opts.handoff!r}: expected one of {', '.join(handoff.MODES)}")
    parallel = _parallel(plan)
    default_spin = 50.0 if parallel else 0.0
    reply_spin = default_spin if opts.reply_spin_us is None else opts.reply_spin_us
    core_spin = default_spin if opts.core_spin_us is None else opts.core_spin_us
    no_reply_spin = [] if opts.reply_spin_us is not None else beside_core(plan, actors)

    locks = sc.locks(config)
    layout = Layout()
    control.add_region(layout, len(locks))
    if sc.has_core:
        mailbox.add_regions(layout, len(actors))
    layout.add_words("stats", stats.WORDS * (len(actors) + 1))  # + core's, for its error
    deadlock.add_region(layout, len(actors))
    controlled = opts.script is not None or reuse
    if controlled:
        layout.add_words("sched", scheduler.SCHED_WORDS * len(actors))
        handoff.add_region(layout, len(actors))
    if reuse:
        layout.add_words(reuse_words.REGION, reuse_words.words(len(actors), len(locks)))
    if opts.record:
        recorder.add_regions(layout, len(actors), opts.ring_events)
    if iterate:
        iteration.add_region(layout, len(actors))
    elif opts.record:  # traces the runner writes from the run's history (trace/capture.py)
        capture.add_region(layout, opts.max_traces)
    regions = sc.regions(config)
    own = sc.core_regions(config) if sc.has_core else {}
    for kind, declared in (("regions", regions), ("core_regions", own)):
        _check_regions(sc, kind, declared, layout)
    owned = _check_owned(sc, sc.pd_owned(config), regions, locks, actors)
    read_only = _check_read_only(sc, sc.read_only(config), regions)
    if (owned or read_only) and iterate and not sc.has_core and not controlled:
        what = "pd_owned(config)" if owned else "read_only(config)"
        raise ConfigError(
            f"scenario {sc.name}: {what} in a run of iterations without a core: the state "
            "is put back between iterations by core, which maps every region writable (an "
            "actor maps only its own PD's, and read-only regions read-only); declare a "
            "core(), or no PD's own or read-only regions"
        )
    for region, nwords in regions.items():
        if region in owned:
            layout.add_pd_words(owned[region], region, nwords, region in read_only)
        else:
            layout.add_words(region, nwords, region in read_only)
    for region, nwords in own.items():
        layout.add_private_words(region, nwords)
    points = access_points.run_points(sc.points, list(regions), locks, opts.point_level)

    _check_space(layout, len(actors) if sc.has_core else 0)
    spec = RunSpec(
        prefix=names.new_prefix(),
        scenario=ref,
        variant=opts.variant,
        config=config,
        seed=opts.seed,
        layout=layout,
        actors=actors,
        has_core=sc.has_core,
        locks=locks,
        outcomes=[o.name for o in sc.outcomes],
        rounds=opts.rounds,
        cpus=plan,
        reply_spin_s=reply_spin * 1e-6,
        core_spin_s=core_spin * 1e-6,
        no_reply_spin=no_reply_spin,
        lock_owner={k: pd for k, pd in owned.items() if k in locks},
        lock_timeout=opts.lock_timeout_s,
        controlled=controlled,
        step_spin_s=handoff.spin_s(opts.handoff) if controlled and cpu is None else 0.0,
        handoff=opts.handoff,
        runner_cpu=cpu,
        reuse=reuse,
        iterate=iterate,
        first_iteration=opts.first_iteration,
        spin_start=iterate and cpu is None and _own_cpus(plan, actors, sc.has_core),
        points=points,
        point_level=opts.point_level,
        core_log=opts.core_log,
        record=opts.record,
        ring_events=opts.ring_events,
        perturb=opts.perturb,
        expected_steps=sc.expected_steps(config),
        trace_dir=opts.trace_dir,
        # a trace is offered only where it can be replayed: a scenario without schedule
        # points has no order to force (stack-overflow, stack-growth, page-fault)
        max_traces=opts.max_traces if opts.record and points else 0,
        explain=opts.explain if controlled else "",
    )
    return spec
