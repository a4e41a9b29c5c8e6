"""The scenario author's contract (in the manner of jcstress): variants, graded outcomes,
actors, and the `ActorEnv` an actor body runs with. The harness holds all the running,
counting and reporting; a scenario holds none of it.
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Callable, Iterator, Mapping, MutableSequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

MAX_OUTCOMES = 16  # outcome counters an actor has in shared memory


class Grade(str, Enum):
    ACCEPTABLE = "ACCEPTABLE"
    INTERESTING = "INTERESTING"
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True)
class Outcome:
    name: str
    description: str
    grades: dict[str, Grade]  # variant -> grade
    failure: bool = True  # counts for first_failure_s and --max-failures


@dataclass(frozen=True)
class Actor:
    """One actor process: its name, its index (0..n-1, in `actors()` order), its params.
    The param `pd` (default 0) is its protection domain: its session with core."""

    index: int
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def pd(self) -> int:
        return self.params.get("pd", 0)


class ConfigError(ValueError):
    """Bad usage or configuration (exit 2); the message names the value and the accepted range."""


def in_range(option: str, value: int, lo: int, hi: int) -> int:
    """`value`, or ConfigError naming it and the range (nothing is clamped)."""
    if not lo <= value <= hi:
        raise ConfigError(f"{option} {value}: expected {lo}..{hi}")
    return value


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str, option: str, lo: int, hi: int) -> int:
    """A size like 16K, 64K, 1M or a plain number of bytes, in lo..hi bytes, or ConfigError."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ConfigError(
            f"{option} {text!r}: expected a size like 16K, 64K or 1M ({lo}..{hi} bytes)"
        )
    value = int(m.group(1)) * _UNITS[m.group(2).upper()]
    if not lo <= value <= hi:
        raise ConfigError(f"{option} {text}: {value} bytes, expected {lo}..{hi} bytes")
    return value


class Lock(Protocol):
    """A lock shared by the run's processes (a named semaphore), also a context manager."""

    def acquire(self) -> None: ...
    def release(self) -> None: ...
    def __enter__(self) -> Lock: ...
    def __exit__(self, *exc: object) -> None: ...


class Shared(Protocol):
    """The run's shared memory, as `init_shared`, `core` and `result_extra` see it."""

    def words(self, region: str) -> MutableSequence[int]:
        """The region as 64-bit unsigned words, indexable and assignable."""
        ...

    def address(self, region: str, word: int = 0) -> int:
        """The address of a word of the region, for C code (ctypes) working on it."""
        ...


class SharedBitmap(Protocol):
    """A bitmap in a shared region (bit i in word i // 64), for allocators of slots or pages;
    each call works on a range of bits [start, start+n) in C."""

    nbits: int

    def first_set(self, start: int, n: int) -> int: ...  # the first set bit, or -1
    def first_clear(self, start: int, n: int) -> int: ...  # the first clear bit, or -1
    def any_set(self, start: int, n: int) -> bool: ...
    def set_range(self, start: int, n: int) -> None: ...
    def clear_range(self, start: int, n: int) -> None: ...
    def count(self, start: int = 0, n: int | None = None) -> int: ...  # bits set


class SharedWord(Protocol):
    """One 64-bit word of a shared region, every operation atomic (sequentially consistent)."""

    def load(self) -> int: ...
    def store(self, value: int) -> None: ...
    def cas(self, expected: int, desired: int) -> int: ...  # the old value: swapped iff equal
    def fetch_add(self, value: int) -> int: ...  # the old value


class ActorEnv(Shared, Protocol):
    """What an actor body gets: its config, its identity, shared memory, locks, schedule
    points, its rounds, outcome counters, a seeded random generator, and core. Of the
    regions and locks a PD owns (`Scenario.pd_owned`) it reaches its own PD's only."""

    config: Mapping[str, Any]  # the validated config, "variant" included
    actor: Actor
    rng: random.Random  # seeded from --seed, the actor's index (and the iteration's)
    iteration: int  # the iteration's index (`Scenario.iterate`); 0 in a continuous run

    def lock(self, name: str) -> Lock:
        """One of the locks `locks(config)` declared (a PD's own, `pd_owned`: of this
        actor's PD only, else a PermissionError)."""
        ...

    def bitmap(self, region: str, nbits: int | None = None) -> SharedBitmap:
        """The region as a bitmap of `nbits` bits (default: all its words' bits). Use it,
        not C calls on `address(region)`, for a bitmap actors share: under `--points access`
        each operation is a schedule point (`region[w].r` / `.w`, w its words)."""
        ...

    def atomic(self, region: str, word: int = 0) -> SharedWord:
        """Word `word` of the region as an atomic word (load, store, cas, fetch_add); under
        `--points access` each operation is a schedule point (`region[word].r` / `.w`)."""
        ...

    def point(self, name: str) -> None:
        """A named schedule point (declared in `points`): perturbation, recording and
        controlled runs act here; nearly free when idle."""
        ...

    def rounds(self) -> Iterator[int]:
        """0, 1, 2, ... until --rounds are done or the run stops (an iterating scenario's
        body needs no such loop: there it yields the iteration's index once)."""
        ...

    def stopping(self) -> bool:
        """Has the run been told to stop (duration over, --max-failures, an abort)?"""
        ...

    def record(self, outcome: str, at: str | None = None, *, n: int = 1) -> None:
        """Count `n` attempts that ended in `outcome`, detected at schedule point `at`."""
        ...

    def core_call(self, pd: int) -> Callable[..., tuple[int, int]]:
        """`call(op, a0=0, a1=0, a2=0) -> (status, value)`: one request to the scenario's
        core from this actor's protection domain (`pd` must be the actor's `pd` param: core
        serves a client as the PD of its session, whatever the request says)."""
        ...

    def native(self, name: str) -> None:
        """Call `void name(tb_env *env)` of the scenario's C sources (`Scenario.native`) in
        this process; testbed.h is what the C code sees. An unknown name is a ConfigError."""
        ...


class CoreService(Protocol):
    """What `Scenario.core` answers: the kernel service core's process runs. Optional
    methods: `describe(op, a0, a1, a2) -> dict` (for --core-log) and
    `key(op, a0, a1, a2) -> int` (what a trace shows of a request, see `core_event`)."""

    def serve(self, op: int, pd: int, a0: int, a1: int, a2: int) -> tuple[int, int]: ...


class Scenario:
    """Subclass, declare, and implement `actors` and `run_actor`; the module's `SCENARIO`
    is an instance. Everything else has a default."""

    name = ""
    description = ""
    variants: dict[str, str] = {}  # name -> one-line description
    outcomes: tuple[Outcome, ...] = ()
    points: tuple[str, ...] = ()  # schedule points its actors pass
    rate_name = "attempts_per_s"  # the result document's name for attempts a second
    examples: tuple[str, ...] = ()  # command lines for `testbed stress NAME --help`
    # runs of `testbed demo`: (variant, pin, scenario options)
    showcase: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    # what `testbed show` draws between two points of one actor: (from, to, label), e.g. a
    # window in which shared state is not yet set
    spans: tuple[tuple[str, str, str], ...] = ()
    # the unit is the iteration (as in jcstress): each one starts from fresh state (regions
    # zeroed, `init_shared`, core's service new), every actor's `run_actor` runs once, all
    # released together, then `arbiter` reads the final state; `--rounds` counts iterations
    iterate: bool = False
    # actors that record no outcome by design (another actor records for them, as litmus's
    # t0 does for each pair): a run in which any other actor recorded none checked less than
    # it claims, and its verdict is no-evidence (exit 3), never PASS. Not asked with an
    # arbiter, which records for every actor.
    quiet_actors: tuple[str, ...] = ()
    # C sources of native actors (a str, or a tuple of them), relative to the scenario's
    # file: compiled when the scenario loads; `env.native(name)` calls `void name(tb_env *)`
    native: str | tuple[str, ...] = ()

    # -- configuration ---------------------------------------------------------------------
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Options of `testbed stress SCENARIO` beyond the common ones."""

    def configure(self, args: argparse.Namespace) -> dict[str, Any]:
        """Validated scenario config from the parsed options (`args.variant` is set);
        raises ConfigError."""
        return {}

    # -- the run (`config` has "variant" in it) ---------------------------------------------
    def actors(self, config: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(name, params) of each actor process."""
        raise NotImplementedError

    def locks(self, config: Mapping[str, Any]) -> list[str]:
        return []

    def regions(self, config: Mapping[str, Any]) -> dict[str, int]:
        """Shared regions the scenario needs: name -> number of 64-bit words."""
        return {}

    def core_regions(self, config: Mapping[str, Any]) -> dict[str, int]:
        """Core's own regions (page tables, bitmaps core owns): name -> number of 64-bit
        words. Core reaches them through `core(shared, ...)`'s `shared` as any region; they
        are in memory of core's process alone (zeroed, and zeroed again when core's service
        is rebuilt between iterations), so no actor can read or write them."""
        return {}

    def pd_owned(self, config: Mapping[str, Any]) -> dict[str, int]:
        """Regions and locks that belong to one protection domain: name (of a region of
        `regions(config)` or a lock of `locks(config)`) -> its PD (an actor's `pd` param).
        A PD's own regions are in a segment of that PD's, mapped by its actors and core only,
        and its locks are opened by its actors only (their names unlinked once all are up):
        another PD's actor asking for one gets a PermissionError naming it. Everything not
        named here is shared by every actor (the default: nothing is a PD's own). A run with
        a core has core put them back between iterations (it maps every PD's); an arbiter,
        which runs in whichever actor ends last, reads only shared regions."""
        return {}

    def read_only(self, config: Mapping[str, Any]) -> list[str]:
        """Regions of `regions(config)` that actors only read: core's state they must see,
        such as a PD's page table (core and `init_shared` write them). They sit on pages of
        their own, mapped read-only in every actor's process: a write from an actor is a
        TypeError in Python, a SIGSEGV in C (the run ends, exit 3, naming the actor)."""
        return []

    def init_shared(self, shared: Shared, config: Mapping[str, Any]) -> None:
        """Initialise the scenario's regions before any child starts (and, in a run with a
        core that iterates, in core's process between iterations)."""

    def core(self, shared: Shared, config: Mapping[str, Any]) -> CoreService:
        """The kernel service, run in core's own process; a scenario that does not
        override this has no core."""
        raise NotImplementedError

    def core_event(self, op: int, status: int, key: int) -> dict[str, Any]:
        """How a request core served reads in a trace (names rather than numbers)."""
        return {"op": op, "status": status, "key": key}

    def core_footprint(self, config: Mapping[str, Any]) -> Callable[[], Any] | None:
        """For explore's reduction: a factory of a model, one a schedule, that is given each
        request of the schedule in order, `(pd, op, a0, a1, a2, status, value)`, and answers
        the keys of core's state it read or wrote (tuples starting with "core", and any
        words of the regions core reads), or None when it cannot say. None (the default):
        every request touches all of core's state, and no two commute."""
        return None

    def expected_steps(self, config: Mapping[str, Any]) -> int:
        """Schedule points all actors pass in one iteration of the test: PCT's window."""
        return 100

    def run_actor(self, env: ActorEnv, actor: Actor) -> None:
        """The body of one actor process: do attempts, `env.record(outcome)` each (an
        iterating scenario's: one iteration's work, called once an iteration)."""
        raise NotImplementedError

    def iterates(self, config: Mapping[str, Any]) -> bool:
        """Does this config run in iterations? `iterate`, unless a scenario makes it an option."""
        return self.iterate

    def arbiter(self, env: ActorEnv) -> None:
        """An iterating scenario's judge: runs once an iteration, after every body returned,
        alone; reads the regions (`env.words`, `env.bitmap`, `env.atomic`) and
        `env.record`s outcomes. Optional."""

    def result_extra(self, shared: Shared, config: Mapping[str, Any]) -> dict[str, Any]:
        """Fields the scenario adds to the result document, read from its regions at the end
        of the run (after core and the actors stopped)."""
        return {}

    # -- what the harness asks -------------------------------------------------------------
    @property
    def has_core(self) -> bool:
        return type(self).core is not Scenario.core

    @property
    def has_arbiter(self) -> bool:
        return type(self).arbiter is not Scenario.arbiter

    def outcome(self, name: str) -> Outcome:
        for o in self.outcomes:
            if o.name == name:
                return o
        raise KeyError(name)

    def grades(self, variant: str) -> dict[str, Grade]:
        return {o.name: o.grades[variant] for o in self.outcomes}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "variants": dict(self.variants),
            "outcomes": [
                {
                    "name": o.name,
                    "description": o.description,
                    "grades": {v: g.value for v, g in o.grades.items()},
                }
                for o in self.outcomes
            ],
            "points": list(self.points),
        }


def check(scenario: object, where: str) -> Scenario:
    """`scenario` if it is a well-formed Scenario, else ConfigError naming what is wrong."""
    if isinstance(scenario, type) and issubclass(scenario, Scenario):
        scenario = scenario()
    if not isinstance(scenario, Scenario):
        raise ConfigError(f"{where}: {type(scenario).__name__} is not a testbed.Scenario")
    sc = scenario

    def bad(what: str) -> ConfigError:
        return ConfigError(f"{where}: scenario {sc.name or type(sc).__name__!r}: {what}")

    if not isinstance(sc.name, str) or not sc.name:
        raise bad("declares no name")
    if not isinstance(sc.variants, dict) or not sc.variants:
        raise bad("declares no variants ({name: one-line description})")
    for v, text in sc.variants.items():
        if not isinstance(text, str) or not text.strip():
            raise bad(f"variant {v!r} has no description")
    if not sc.outcomes:
        raise bad("declares no outcomes")
    if len(sc.outcomes) > MAX_OUTCOMES:
        raise bad(f"declares {len(sc.outcomes)} outcomes, expected 1..{MAX_OUTCOMES}")
    seen: set[str] = set()
    for o in sc.outcomes:
        if not isinstance(o, Outcome):
            raise bad(f"outcome {o!r} is not a testbed.Outcome")
        if o.name in seen:
            raise bad(f"outcome {o.name!r} declared twice")
        seen.add(o.name)
        for v in sc.variants:
            if v not in o.grades:
                raise bad(f"outcome {o.name!r} has no grade for variant {v!r}")
            if not isinstance(o.grades[v], Grade):
                raise bad(f"outcome {o.name!r}: grade {o.grades[v]!r} for {v!r} is not a Grade")
        for v in o.grades:
            if v not in sc.variants:
                raise bad(f"outcome {o.name!r} grades {v!r}, which is not a variant")
    points: set[str] = set()
    for p in sc.points:
        if p in points:
            raise bad(f"schedule point {p!r} declared twice")
        points.add(p)
    if not isinstance(sc.iterate, bool):
        raise bad(f"iterate = {sc.iterate!r}: expected True or False")
    if not isinstance(sc.quiet_actors, tuple) or not all(
        isinstance(a, str) for a in sc.quiet_actors
    ):
        raise bad(f"quiet_actors = {sc.quiet_actors!r}: expected a tuple of actor names")
    for method in ("actors", "run_actor"):
        if getattr(type(sc), method) is getattr(Scenario, method):
            raise bad(f"does not implement {method}()")
    return sc
