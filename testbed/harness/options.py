"""Every option of stress, explore and campaign, declared once in one table (`OPTIONS`): the
table builds their parsers and, through them, the keyword API (`testbed.run`,
`testbed.explore`); each option's check is written once and names the value and the range."""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from testbed.harness import output_paths, perturb, recorder
from testbed.ipc import handoff
from testbed.scenario import ConfigError, Scenario, in_range
from testbed.trace import access_points

if TYPE_CHECKING:
    from testbed.harness.run import RunOptions

PINS = ("same", "spread", "none")
POINT_LEVELS = access_points.MODES  # named: the model's points; access: also every word and lock
MAX_DURATION_S = 24 * 3600
DEFAULT_DURATION_S = 2.0
# bench/points_cost.py: recording costs 7-40% of creations a second; bench/perturb_ttff.py:
# no measurable time to the first failure. A replayable trace of each failure is worth it.
DEFAULT_RECORD = True
MAX_SEED = 2**32 - 1
# explore's vocabulary (testbed/explorer/ implements it)
EXPLORE_STRATEGIES = ("dfs", "random", "pct", "pos", "rff", "auto")
REDUCTIONS = ("sleep-sets", "dpor", "none")
MAX_PREEMPTIONS = 10
HANDOFFS = handoff.MODES  # a controlled run's step handoff (testbed/ipc/handoff.py)
EXIT_CODES = (
    "exit codes: 0 no FORBIDDEN outcome and every --require seen, 1 a FORBIDDEN outcome, a "
    "deadlock or a --require missing, 2 bad usage, 3 aborted or no evidence (no outcome "
    "recorded, or an actor recorded none)"
)
STRESS, EXPLORE, CAMPAIGN = "stress", "explore", "campaign"
MAX_BUDGET_S = 30 * 86400


class UsageError(ConfigError):
    """A command line argparse refused; the CLI prints it with the usage line (exit 2)."""

    def __init__(self, message: str, parser: argparse.ArgumentParser):
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so keyword callers get a ConfigError."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", self)


def formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


# -- the checks: (flag, value, context) -> None, or ConfigError naming both ------------------
@dataclass
class Context:
    """What a check may look at besides its value: the scenario, and the other values."""

    scenario: Scenario | None  # None: campaign (its scenarios are checked per entry)
    values: Mapping[str, Any]


Check = Callable[[str, Any, Context], None]


def ints(lo: int, hi: int) -> Check:
    def check(flag: str, v: Any, ctx: Context) -> None:
        in_range(flag, v, lo, hi)

    return check


def at_least_zero(flag: str, v: Any, ctx: Context) -> None:
    if v < 0:
        raise ConfigError(f"{flag} {v}: expected 0 or more")


def seconds(hi: int) -> Check:
    def check(flag: str, v: Any, ctx: Context) -> None:
        if not 0 < v <= hi:
            raise ConfigError(f"{flag} {v:g}: expected 0 < seconds <= {hi}")

    return check


def spin_us(flag: str, v: Any, ctx: Context) -> None:
    if not 0 <= v <= 100_000:
        raise ConfigError(f"{flag} {v:g}: expected 0..100000")


def one_of(choices: Iterable[str]) -> Check:
    names = tuple(choices)

    def check(flag: str, v: Any, ctx: Context) -> None:
        if v not in names:
            raise ConfigError(f"{flag} {v!r}: expected one of {', '.join(names)}")

    return check


def variant(flag: str, v: Any, ctx: Context) -> None:
    assert ctx.scenario is not None  # (stress and explore have one)
    one_of(ctx.scenario.variants)(flag, v, ctx)


def outcomes(flag: str, v: Any, ctx: Context) -> None:
    assert ctx.scenario is not None
    for name in v:
        one_of(o.name for o in ctx.scenario.outcomes)(flag, name, ctx)


def perturbation(flag: str, v: Any, ctx: Context) -> None:
    perturb.parse(v)  # its own message: the strategy's grammar


def ring_events(flag: str, v: Any, ctx: Context) -> None:
    if v & (v - 1) or not 1 << 10 <= v <= 1 << 22:
        raise ConfigError(f"{flag} {v}: expected a power of two, 1024..4194304")


def preemptions(flag: str, v: Any, ctx: Context) -> None:
    """A number of preemptions (0..MAX_PREEMPTIONS), or none: as typed, or as parsed."""
    if v is None or v == "none":
        return
    try:
        k = int(v)
    except ValueError:
        raise ConfigError(f"{flag} {v!r}: expected 0..{MAX_PREEMPTIONS} or none") from None
    in_range(flag, k, 0, MAX_PREEMPTIONS)


def dask_address(flag: str, v: Any, ctx: Context) -> None:
    if not str(v).startswith("tcp://"):
        raise ConfigError(f"{flag} {v!r}: expected tcp://HOST:PORT")


def writable(suffix: str = "") -> Check:
    def check(flag: str, v: Any, ctx: Context) -> None:
        output_paths.check_writable(v, flag, suffix)

    return check


def trace_directory(flag: str, v: Any, ctx: Context) -> None:
    if ctx.values.get("record", True):  # no trace is written without recording
        output_paths.check_directory(v, flag)


# -- the table -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    """One option: its flag, the commands that have it (with their help and default where
    they differ), its check, and the name of its field in RunOptions/ExploreOptions."""

    flag: str
    help: str | Mapping[str, str]
    commands: tuple[str, ...]
    group: str | Mapping[str, str]
    check: Check | None = None
    default: Any = None
    record_field: str = ""  # the options record's field, when it is not the dest
    unset: Any = None  # the record's value meaning "not given" (not checked; --rounds: 0)
    exclusive: str = ""  # options of one mutually exclusive group share this name
    kwargs: Mapping[str, Any] = field(default_factory=dict)  # argparse's: type, action, ...

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    def _for(self, value: Any, command: str) -> Any:
        return value.get(command) if isinstance(value, Mapping) else value

    def add_to(self, group: Any, command: str) -> None:
        kwargs = dict(self.kwargs)
        if "action" not in kwargs or kwargs["action"] != "store_true":
            kwargs.setdefault("default", self._for(self.default, command))
        group.add_argument(self.flag, help=self._for(self.help, command), **kwargs)

    def validate(self, value: Any, ctx: Context) -> None:
        if self.check is not None and value is not None:
            self.check(self.flag, value, ctx)


def _seed_help(what: str) -> str:
    return f"{what} (0..2**32-1; default random)"


OPTIONS: tuple[Option, ...] = (
    # stress and explore: what runs
    # campaign: the matrix (its axes are checked by testbed/campaign/matrix.py, for the
    # command line's values and a campaign file's alike)
    Option("--file", "several scenarios, from a file", (CAMPAIGN,), "",
           kwargs={"metavar": "CAMPAIGN.toml"}),
    Option("--variants", "comma-separated, or all (default all)", (CAMPAIGN,), "",
           default="all"),
    Option("--strategies", "perturbation strategies (default none)", (CAMPAIGN,), "",
           default="none"),
    Option("--pins", "CPU placements: same,spread,none (default none)", (CAMPAIGN,), "",
           default="none"),
    Option("--trials", "seeded runs a cell (default 10)", (CAMPAIGN,), "", default=10,
           kwargs={"type": int}),
    Option("--duration", "seconds a run at most (default 2)", (CAMPAIGN,), "", default=2.0,
           kwargs={"type": float}),
    Option("--budget", "seconds for the whole campaign (default none)", (CAMPAIGN,), "",
           seconds(MAX_BUDGET_S), kwargs={"type": float}),
    Option("--scheduler", "local (embedded) or tcp://HOST:PORT", (CAMPAIGN,), "",
           default="local"),
    Option("--cpus-per-run", "CPUs of the embedded cluster a run gets (default min(2, usable "
           "CPUs))", (CAMPAIGN,), "", kwargs={"type": int}),
    Option("--max-retries", "retries of a lost run (0..10)", (CAMPAIGN,), "", ints(0, 10),
           default=2, kwargs={"type": int}),
    Option("--trace-dir", "where runs write traces (./traces)", (CAMPAIGN,), "",
           default="traces"),  # made by the campaign (on a remote worker, by the worker)
    # stress and explore
    Option("--variant", {STRESS: "the variant to run (see `testbed scenarios SCENARIO`)",
                         EXPLORE: "the variant to explore"},
           (STRESS, EXPLORE), {STRESS: "run", EXPLORE: "exploration"}, variant,
           kwargs={"required": True}),
    Option("--rounds", "rounds each actor runs (1..1e9)", (STRESS,), "run", ints(1, 10**9),
           unset=0, exclusive="how long", kwargs={"type": int}),
    Option("--duration", f"seconds to run (0 < s <= {MAX_DURATION_S}; default 2)", (STRESS,),
           "run", seconds(MAX_DURATION_S), record_field="duration_s", exclusive="how long",
           kwargs={"type": float}),
    Option("--preemptions",
           "dfs: at most K preemptions a schedule, or none (every schedule, with DPOR); "
           f"pct: K priority change points (0..{MAX_PREEMPTIONS}; default 2)",
           (EXPLORE,), "exploration", preemptions, default="2"),
    Option("--max-schedules", "schedules to run at most (default 100000)", (EXPLORE,),
           "exploration", ints(1, 10**9), default=100_000, kwargs={"type": int}),
    Option("--points", {EXPLORE: f"{'|'.join(POINT_LEVELS)} (default named)"}, (EXPLORE,),
           "exploration", one_of(POINT_LEVELS), default="named", record_field="point_level"),
    Option("--strategy", f"{'|'.join(EXPLORE_STRATEGIES)} (default dfs)", (EXPLORE,),
           "exploration", one_of(EXPLORE_STRATEGIES), default="dfs"),
    Option("--pin", f"CPU placement: {'|'.join(PINS)} (default none)", (STRESS, EXPLORE),
           {STRESS: "run", EXPLORE: "exploration"}, one_of(PINS), default="none"),
    Option("--seed", {STRESS: _seed_help("seed of every random choice"),
                      EXPLORE: _seed_help("the scenario's seed and the sampler's"),
                      CAMPAIGN: _seed_help("the first seed")},
           (STRESS, EXPLORE, CAMPAIGN), {STRESS: "run", EXPLORE: "exploration", CAMPAIGN: ""},
           ints(0, MAX_SEED),
           kwargs={"type": int}),
    Option("--reduction",
           f"dfs: {'|'.join(REDUCTIONS)} (default dpor: bounded DPOR with a bound; "
           "sleep-sets may lose schedules under one)", (EXPLORE,), "exploration",
           one_of(REDUCTIONS)),
    Option("--no-reduce", "dfs without reduction: every schedule is run", (EXPLORE,),
           "exploration", kwargs={"action": "store_true"}),
    Option("--max-failures", "stop after N failure outcomes (default 0: never)", (STRESS,),
           "run", at_least_zero, default=0, kwargs={"type": int}),
    Option("--require", {STRESS: "exit 1 unless this outcome is seen (repeatable)",
                         EXPLORE: "hunt for OUTCOME: the search stops at a schedule that "
                         "shows it (exit 0), or exits 1 if a complete search never sees it "
                         "(repeatable)"},
           (STRESS, EXPLORE), {STRESS: "run", EXPLORE: "exploration"}, outcomes,
           kwargs={"action": "append", "default": [], "metavar": "OUTCOME"}),
    Option("--max-failures", "stop at N failing schedules (0: never; default 1)", (EXPLORE,),
           "exploration", ints(0, 1000), default=1, kwargs={"type": int}),
    Option("--workers", "split the search across N workers of an embedded Dask cluster, each "
           "with its own processes (1..64)", (EXPLORE,),
           "exploration", ints(1, 64), unset=0, exclusive="dask", kwargs={"type": int, "metavar": "N"}),
    Option("--scheduler", "split the search across the workers of the Dask scheduler at "
           "tcp://HOST:PORT", (EXPLORE,), "exploration", dask_address, unset="", exclusive="dask",
           kwargs={"metavar": "tcp://HOST:PORT"}),
    Option("--max-steps", "steps a schedule may take (default 10000)", (EXPLORE,),
           "exploration", ints(1, 10**6), default=10_000, kwargs={"type": int}),
    Option("--json", {STRESS: "write the result document (- for stdout)",
                      EXPLORE: "write the result document (- for stdout)",
                      CAMPAIGN: "the campaign document, every run inside"},
           (STRESS, EXPLORE, CAMPAIGN), {STRESS: "run", EXPLORE: "exploration", CAMPAIGN: ""},
           writable(), kwargs={"metavar": "PATH|-"}),
    Option("--html", "an HTML report", (CAMPAIGN,), "", writable(".html"),
           kwargs={"metavar": "PATH"}),
    Option("--core-log", "one JSON line per request core served", (STRESS,), "run",
           writable(), kwargs={"metavar": "PATH"}),
    Option("--junit", {STRESS: "JUnit XML: one test case, failed as the run fails",
                       CAMPAIGN: "JUnit XML: a test case a cell"},
           (STRESS, CAMPAIGN), {STRESS: "run", CAMPAIGN: ""}, writable(".xml"),
           kwargs={"metavar": "PATH"}),
    # stress: perturbation and recording
    Option("--perturb", f"{perturb.STRATEGIES} (default none)", (STRESS,),
           "perturbation and recording", perturbation, default="none",
           kwargs={"metavar": "STRATEGY"}),
    Option("--points", "schedule points: named (placed in the model; default) or access (also "
           "every read and write of a shared word through env.words and every lock operation)",
           (STRESS,), "perturbation and recording", one_of(POINT_LEVELS), default="named",
           record_field="point_level", kwargs={"metavar": "named|access"}),
    Option("--hogs", "CPU-hog processes on the actors' CPUs (0..64)", (STRESS,),
           "perturbation and recording", ints(0, 64), default=0, kwargs={"type": int}),
    Option("--record", "record schedule-point events; traces of INTERESTING and FORBIDDEN "
           f"outcomes (default {'on' if DEFAULT_RECORD else 'off'})", (STRESS,),
           "perturbation and recording", default=DEFAULT_RECORD,
           kwargs={"action": argparse.BooleanOptionalAction}),
    Option("--trace-dir", {STRESS: "where traces go (default ./traces)",
                           EXPLORE: "where failing schedules' traces go"},
           (STRESS, EXPLORE), {STRESS: "perturbation and recording", EXPLORE: "exploration"},
           trace_directory, default="traces"),
    Option("--max-traces", "trace files a run may write (0..1000; default 3)", (STRESS,),
           "perturbation and recording", ints(0, 1000), default=3, kwargs={"type": int}),
    Option("--ring-events", "events each actor's ring holds (a power of two; default 65536)",
           (STRESS,), "perturbation and recording", ring_events,
           default=recorder.DEFAULT_RING_EVENTS, kwargs={"type": int}),
    # stress: tuning
    Option("--reply-spin-us", "client spin before blocking on a reply", (STRESS,), "tuning",
           spin_us, kwargs={"type": float}),
    Option("--core-spin-us", "core spin before sleeping on the doorbell", (STRESS,), "tuning",
           spin_us, kwargs={"type": float}),
    Option("--verify", "replay the first failure's trace N times before offering its replay "
           "command (0..100; default 1; 0: offer it unverified)", (STRESS, EXPLORE),
           {STRESS: "perturbation and recording", EXPLORE: "exploration"}, ints(0, 100),
           default=1, kwargs={"type": int}),
    Option("--handoff", "how the runner and an actor hand a step over: one-cpu (the "
           "runner, core and the actors on one CPU, blocking at once), spin (a while, then "
           "block; on two CPUs), sem (block at once, anywhere) or auto (one-cpu, or with "
           "--pin spread spin while the machine has a CPU to spare; default)",
           (EXPLORE,), "exploration", one_of(HANDOFFS), default="auto"),
    Option("--lock-timeout", {STRESS: "seconds a lock wait may take (default 10)",
                              EXPLORE: "seconds an actor may take a step"},
           (STRESS, EXPLORE), {STRESS: "tuning", EXPLORE: "exploration"}, seconds(3600),
           default=10.0, record_field="lock_timeout_s", kwargs={"type": float}),
)  # fmt: skip


def rows(command: str) -> list[Option]:
    return [o for o in OPTIONS if command in o.commands]


def add_options(p: argparse.ArgumentParser, command: str) -> None:
    """The command's rows of the table, in their groups (argument groups, made in order)."""
    groups: dict[str, Any] = {}
    exclusive: dict[str, Any] = {}
    for o in rows(command):
        name = o._for(o.group, command)
        if name not in groups:
            groups[name] = p.add_argument_group(name) if name else p
        g = groups[name]
        if o.exclusive:
            if o.exclusive not in exclusive:
                exclusive[o.exclusive] = g.add_mutually_exclusive_group()
            g = exclusive[o.exclusive]
        o.add_to(g, command)


def common_help(command: str) -> str:
    """The command's own options as its help lists them, for the help of `testbed COMMAND`
    without a scenario (the scenario's options come with `testbed COMMAND SCENARIO --help`)."""
    p = argparse.ArgumentParser(
        prog=f"testbed {command}", add_help=False, formatter_class=formatter
    )
    add_options(p, command)
    text = p.format_help()
    return "the options of every scenario:\n" + text.split("\n\n", 1)[1].rstrip() + "\n"


def check(command: str, values: Mapping[str, Any], scenario: Scenario | None) -> None:
    """Every option of `command` that `values` (dest -> value) holds, by its one check."""
    ctx = Context(scenario, values)
    for o in rows(command):
        if o.dest in values:
            o.validate(values[o.dest], ctx)


def check_record(command: str, record: Any, flags: Iterable[str] | None = None) -> None:
    """The same checks on an options record (RunOptions, ExploreOptions) built without a
    parser (the benches, the tests, replay): each row's value read from its field."""
    wanted = None if flags is None else set(flags)
    values = {}
    for o in rows(command):
        name = o.record_field or o.dest
        if (wanted is None or o.flag in wanted) and o.check and hasattr(record, name):
            value = getattr(record, name)  # (--json and the like are not kept)
            if value != o.unset:
                values[o.dest] = value
    check(command, values, record.scenario)


def scenario_parser(scenario: Scenario, ref: str, command: str, prog: str, epilog: str) -> Parser:
    """The parser of `testbed COMMAND REF`: the scenario's own options, then the command's."""
    p = Parser(
        prog=f"{prog} {ref}",
        description=f"{scenario.name}: {scenario.description}\n\nvariants:\n"
        + "".join(f"  {v}: {d}\n" for v, d in scenario.variants.items()),
        formatter_class=formatter,
        epilog=epilog,
    )
    own = p.add_argument_group(f"{scenario.name} options")
    scenario.add_arguments(own)  # type: ignore[arg-type]
    add_options(p, command)
    return p


def stress_parser(scenario: Scenario, ref: str, prog: str = "testbed stress") -> Parser:
    """The parser of `testbed stress REF`: the scenario's own options and the run's."""
    examples = "".join(f"  {line}\n" for line in scenario.examples)
    epilog = (f"examples:\n{examples}\n" if examples else "") + EXIT_CODES
    return scenario_parser(scenario, ref, STRESS, prog, epilog)


def scenario_config(config: Mapping[str, Any], variant: str) -> dict[str, Any]:
    """The one rule of the variant: records and documents keep `config` (the scenario's own
    options) and `variant` apart; the scenario's methods see both in one mapping."""
    return dict(config, variant=variant)


def document_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """`config` as records and documents hold it: the scenario's options, no variant."""
    return {k: v for k, v in config.items() if k != "variant"}


def run_options(scenario: Scenario, ref: str, args: argparse.Namespace) -> RunOptions:
    """Every option checked before anything runs; ConfigError names the value and the range."""
    from testbed.harness.run import RunOptions

    check(STRESS, vars(args), scenario)
    return RunOptions(
        scenario=scenario,
        variant=args.variant,
        ref=ref,
        config=scenario.configure(args),
        seed=random.randrange(MAX_SEED + 1) if args.seed is None else args.seed,
        rounds=args.rounds or 0,
        duration_s=DEFAULT_DURATION_S if args.duration is None else args.duration,
        pin=args.pin,
        max_failures=args.max_failures,
        require=list(args.require),
        core_log=args.core_log,
        reply_spin_us=args.reply_spin_us,
        core_spin_us=args.core_spin_us,
        lock_timeout_s=args.lock_timeout,
        record=args.record,
        ring_events=args.ring_events,
        perturb=args.perturb,
        point_level=args.points,
        hogs=args.hogs,
        trace_dir=args.trace_dir,
        max_traces=args.max_traces,
        verify=args.verify,
    )


def to_argv(parser: argparse.ArgumentParser, options: Mapping[str, Any]) -> list[str]:
    """Keyword options (the long options with underscores) as a command line."""
    actions = {a.dest: a for a in parser._actions if a.option_strings}
    argv: list[str] = []
    for key, value in options.items():
        action = actions.get(key)
        if action is None or key == "help":
            known = ", ".join(sorted(k for k in actions if k != "help"))
            raise ConfigError(f"unknown option {key!r}: expected one of {known}")
        flag = max(action.option_strings, key=len)
        if value is None:
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            flag = action.option_strings[0]  # (the longest is the --no- one)
            argv.append(flag if value else "--no-" + flag[2:])
        elif action.nargs == 0:  # store_true
            if value:
                argv.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for v in [value] if isinstance(value, str) else value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    return argv


def parse_keywords(scenario: Scenario, ref: str, options: Mapping[str, Any]) -> RunOptions:
    parser = stress_parser(scenario, ref, prog="testbed.run")
    return run_options(scenario, ref, parser.parse_args(to_argv(parser, options)))
