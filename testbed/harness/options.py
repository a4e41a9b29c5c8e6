"""The options of a stress run, declared and validated in one place: the CLI parses them
from the command line, `testbed.run` and the pytest plugin from keyword arguments, and all
three get the same checks and the same messages."""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping
from typing import Any

from testbed.harness import output_paths, perturb, recorder
from testbed.harness.run import PINS, RunOptions
from testbed.scenario import ConfigError, Scenario
from testbed.trace import access_points

MAX_DURATION_S = 24 * 3600
DEFAULT_DURATION_S = 2.0
# bench/points_cost.py: recording costs 7-40% of creations a second; bench/perturb_ttff.py:
# no measurable time to the first failure. A replayable trace of each failure is worth it.
DEFAULT_RECORD = True
EXIT_CODES = (
    "exit codes: 0 no FORBIDDEN outcome and every --require seen, 1 otherwise, 2 bad usage, "
    "3 aborted"
)


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


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    g.add_argument(
        "--variant", required=True, help="the variant to run (see `testbed scenarios SCENARIO`)"
    )
    how_long = g.add_mutually_exclusive_group()
    how_long.add_argument("--rounds", type=int, help="rounds each actor runs (1..1e9)")
    how_long.add_argument(
        "--duration", type=float, help=f"seconds to run (0 < s <= {MAX_DURATION_S}; default 2)"
    )
    g.add_argument("--pin", default="none", help=f"CPU placement: {'|'.join(PINS)} (default none)")
    g.add_argument(
        "--seed", type=int, help="seed of every random choice (0..2**32-1; default random)"
    )
    g.add_argument(
        "--max-failures",
        type=int,
        default=0,
        help="stop after N failure outcomes (default 0: never)",
    )
    g.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="OUTCOME",
        help="exit 1 unless this outcome is seen (repeatable)",
    )
    g.add_argument("--json", metavar="PATH|-", help="write the result document (- for stdout)")
    g.add_argument("--core-log", metavar="PATH", help="one JSON line per request core served")
    g.add_argument(
        "--junit", metavar="PATH", help="JUnit XML: one test case, failed as the run fails"
    )
    r = p.add_argument_group("perturbation and recording")
    r.add_argument(
        "--perturb", default="none", metavar="STRATEGY", help=f"{perturb.STRATEGIES} (default none)"
    )
    r.add_argument(
        "--points",
        default="named",
        metavar="named|access",
        help="schedule points: named (placed in the model; default) or access (also every "
        "read and write of a shared word through env.words and every lock operation)",
    )
    r.add_argument(
        "--hogs", type=int, default=0, help="CPU-hog processes on the actors' CPUs (0..64)"
    )
    r.add_argument(
        "--record",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_RECORD,
        help=f"record schedule-point events; traces of INTERESTING and FORBIDDEN outcomes "
        f"(default {'on' if DEFAULT_RECORD else 'off'})",
    )
    r.add_argument("--trace-dir", default="traces", help="where traces go (default ./traces)")
    r.add_argument(
        "--max-traces", type=int, default=3, help="trace files a run may write (0..1000; default 3)"
    )
    r.add_argument(
        "--ring-events",
        type=int,
        default=recorder.DEFAULT_RING_EVENTS,
        help="events each actor's ring holds (a power of two; default 65536)",
    )
    t = p.add_argument_group("tuning")
    t.add_argument("--reply-spin-us", type=float, help="client spin before blocking on a reply")
    t.add_argument("--core-spin-us", type=float, help="core spin before sleeping on the doorbell")
    t.add_argument(
        "--lock-timeout", type=float, default=10.0, help="seconds a lock wait may take (default 10)"
    )


def stress_parser(scenario: Scenario, ref: str, prog: str = "testbed stress") -> Parser:
    """The parser of `testbed stress REF`: the scenario's own options and the run's."""
    examples = "".join(f"  {line}\n" for line in scenario.examples)
    p = Parser(
        prog=f"{prog} {ref}",
        description=f"{scenario.name}: {scenario.description}\n\nvariants:\n"
        + "".join(f"  {v}: {d}\n" for v, d in scenario.variants.items()),
        formatter_class=formatter,
        epilog=(f"examples:\n{examples}\n" if examples else "") + EXIT_CODES,
    )
    own = p.add_argument_group(f"{scenario.name} options")
    scenario.add_arguments(own)  # type: ignore[arg-type]
    add_run_arguments(p)
    return p


def run_options(scenario: Scenario, ref: str, args: argparse.Namespace) -> RunOptions:
    """Every option checked before anything runs; ConfigError names the value and the range."""
    if args.variant not in scenario.variants:
        raise ConfigError(
            f"--variant {args.variant!r}: expected one of {', '.join(scenario.variants)}"
        )
    if args.rounds is not None and not 1 <= args.rounds <= 10**9:
        raise ConfigError(f"--rounds {args.rounds}: expected 1..1000000000")
    if args.duration is not None and not 0 < args.duration <= MAX_DURATION_S:
        raise ConfigError(f"--duration {args.duration:g}: expected 0 < seconds <= {MAX_DURATION_S}")
    if not 0 <= args.max_traces <= 1000:
        raise ConfigError(f"--max-traces {args.max_traces}: expected 0..1000")
    if args.max_failures < 0:
        raise ConfigError(f"--max-failures {args.max_failures}: expected 0 or more")
    if args.lock_timeout <= 0 or args.lock_timeout > 3600:
        raise ConfigError(f"--lock-timeout {args.lock_timeout:g}: expected 0 < seconds <= 3600")
    for opt in ("reply_spin_us", "core_spin_us"):
        v = getattr(args, opt)
        if v is not None and not 0 <= v <= 100_000:
            raise ConfigError(f"--{opt.replace('_', '-')} {v:g}: expected 0..100000")
    output_paths.check_writable(args.core_log, "--core-log")
    if args.record:
        output_paths.check_directory(args.trace_dir, "--trace-dir")
    seed = random.randrange(2**32) if args.seed is None else args.seed
    if not 0 <= seed < 2**32:
        raise ConfigError(f"--seed {seed}: expected 0..4294967295")
    return RunOptions(
        scenario=scenario,
        variant=args.variant,
        ref=ref,
        config=scenario.configure(args),
        seed=seed,
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
        points=access_points.check_mode(args.points),
        hogs=args.hogs,
        trace_dir=args.trace_dir,
        max_traces=args.max_traces,
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
