"""The options of `testbed explore`, declared and validated in one place: the CLI parses
them from the command line, `testbed.explore` from keyword arguments."""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping
from typing import Any

from testbed.explorer.run import MAX_PREEMPTIONS, POINT_LEVELS, REDUCTIONS, ExploreOptions
from testbed.explorer.strategies import STRATEGIES
from testbed.harness.options import Parser, formatter, to_argv
from testbed.scenario import ConfigError, Scenario

EXAMPLES = """examples:
  testbed explore genode-race --variant fixed --children 1 --preemptions 2
  testbed explore genode-race --variant quickfix --children 1 --require region_conflict
  testbed explore ./my_scenario.py --variant broken --max-schedules 500 --json -
  testbed explore genode-race --variant racy --children 1 --strategy pct --seed 7 --require region_conflict
  testbed explore ./my_scenario.py --variant broken --points access --preemptions none
"""
EXIT_CODES = (
    "exit codes: 0 complete, no FORBIDDEN outcome; 1 a FORBIDDEN outcome, a --require outcome "
    "or a deadlock found (its trace replays with testbed replay); 2 bad usage; 3 aborted; "
    "4 --max-schedules ran out first, nothing found"
)


def parser(scenario: Scenario, ref: str, prog: str = "testbed explore") -> Parser:
    """The parser of `testbed explore REF`: the scenario's own options and the exploration's."""
    p = Parser(
        prog=f"{prog} {ref}",
        description=f"{scenario.name}: {scenario.description}\n\nvariants:\n"
        + "".join(f"  {v}: {d}\n" for v, d in scenario.variants.items()),
        formatter_class=formatter,
        epilog=EXAMPLES + "\n" + EXIT_CODES,
    )
    own = p.add_argument_group(f"{scenario.name} options")
    scenario.add_arguments(own)  # type: ignore[arg-type]
    g = p.add_argument_group("exploration")
    g.add_argument("--variant", required=True, help="the variant to explore")
    g.add_argument(
        "--preemptions",
        default="2",
        help=f"dfs: at most K preemptions a schedule, or none (every schedule, with DPOR); "
        f"pct: K priority change points (0..{MAX_PREEMPTIONS}; default 2)",
    )
    g.add_argument(
        "--max-schedules",
        type=int,
        default=100_000,
        help="schedules to run at most (default 100000)",
    )
    g.add_argument("--points", default="named", help=f"{'|'.join(POINT_LEVELS)} (default named)")
    g.add_argument("--strategy", default="dfs", help=f"{'|'.join(STRATEGIES)} (default dfs)")
    g.add_argument(
        "--seed",
        type=int,
        help="the scenario's seed and the sampler's (0..2**32-1; default random)",
    )
    g.add_argument(
        "--reduction",
        help=f"dfs: {'|'.join(REDUCTIONS)} (default: dpor with --preemptions none, else "
        "sleep-sets)",
    )
    g.add_argument(
        "--no-reduce", action="store_true", help="dfs without reduction: every schedule is run"
    )
    g.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="OUTCOME",
        help="hunt for OUTCOME: a schedule that shows it fails the exploration as a FORBIDDEN "
        "one does (repeatable)",
    )
    g.add_argument(
        "--max-failures",
        type=int,
        default=1,
        help="stop at N failing schedules (0: never; default 1)",
    )
    g.add_argument(
        "--max-steps", type=int, default=10_000, help="steps a schedule may take (default 10000)"
    )
    g.add_argument("--json", metavar="PATH|-", help="write the result document (- for stdout)")
    g.add_argument("--trace-dir", default="traces", help="where failing schedules' traces go")
    g.add_argument("--pin", default="none", help="CPU placement: same|spread|none (default none)")
    g.add_argument(
        "--lock-timeout", type=float, default=10.0, help="seconds an actor may take a step"
    )
    return p


def _preemptions(text: str) -> int | None:
    if text == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(
            f"--preemptions {text!r}: expected 0..{MAX_PREEMPTIONS} or none"
        ) from None


def explore_options(sc: Scenario, ref: str, ns: argparse.Namespace) -> ExploreOptions:
    """Every option checked before anything runs; ConfigError names the value and the range."""
    if ns.variant not in sc.variants:
        raise ConfigError(f"--variant {ns.variant!r}: expected one of {', '.join(sc.variants)}")
    outcomes = [o.name for o in sc.outcomes]
    for name in ns.require:
        if name not in outcomes:
            raise ConfigError(f"--require {name!r}: expected one of {', '.join(outcomes)}")
    opts = ExploreOptions(
        scenario=sc,
        variant=ns.variant,
        config=sc.configure(ns),
        ref=ref,
        strategy=ns.strategy,
        preemptions=_preemptions(str(ns.preemptions)),
        max_schedules=ns.max_schedules,
        points=ns.points,
        seed=random.randrange(2**32) if ns.seed is None else ns.seed,
        reduce=not ns.no_reduce,
        reduction=ns.reduction,
        require=list(ns.require),
        max_failures=ns.max_failures,
        max_steps=ns.max_steps,
        trace_dir=ns.trace_dir,
        pin=ns.pin,
        lock_timeout_s=ns.lock_timeout,
    )
    opts.check()
    return opts


def parse_keywords(sc: Scenario, ref: str, options: Mapping[str, Any]) -> ExploreOptions:
    """`testbed.explore`'s keywords, as the command line's long options."""
    p = parser(sc, ref, prog="testbed.explore")
    return explore_options(sc, ref, p.parse_args(to_argv(p, options)))
