"""The options of `testbed explore`: its parser, built from the table of
testbed/harness/options.py, and the ExploreOptions the command line or `testbed.explore`'s
keywords become."""

from __future__ import annotations

import argparse
import random
from collections.abc import Mapping
from typing import Any

from testbed.explorer.run import ExploreOptions
from testbed.harness import options as option_table
from testbed.harness.options import MAX_SEED, Parser, scenario_parser, to_argv
from testbed.scenario import Scenario

EXAMPLES = """examples:
  testbed explore genode-race --variant fixed --children 1 --preemptions 2
  testbed explore genode-race --variant quickfix --children 1 --require region_conflict
  testbed explore ./my_scenario.py --variant broken --max-schedules 500 --json -
  testbed explore genode-race --variant racy --children 1 --strategy pct --seed 7 --require region_conflict
  testbed explore ./my_scenario.py --variant broken --points access --preemptions none
  testbed explore genode-race --variant fixed --children 1 --points access --workers 2
"""
EXIT_CODES = (
    "exit codes: 0 complete with no FORBIDDEN outcome, or every --require outcome found; 1 a "
    "FORBIDDEN outcome or a deadlock found, or a --require outcome never seen in a complete "
    "search; 2 bad usage; 3 aborted, or no evidence (no outcome recorded, or an actor none); "
    "4 --max-schedules ran out first, nothing found"
)


def parser(scenario: Scenario, ref: str, prog: str = "testbed explore") -> Parser:
    """The parser of `testbed explore REF`: the scenario's own options and the exploration's."""
    return scenario_parser(scenario, ref, option_table.EXPLORE, prog, EXAMPLES + "\n" + EXIT_CODES)


def explore_options(sc: Scenario, ref: str, ns: argparse.Namespace) -> ExploreOptions:
    """Every option checked before anything runs; ConfigError names the value and the range."""
    option_table.check(option_table.EXPLORE, vars(ns), sc)
    opts = ExploreOptions(
        scenario=sc,
        variant=ns.variant,
        config=sc.configure(ns),
        ref=ref,
        strategy=ns.strategy,
        preemptions=None if ns.preemptions == "none" else int(ns.preemptions),
        max_schedules=ns.max_schedules,
        point_level=ns.points,
        seed=random.randrange(MAX_SEED + 1) if ns.seed is None else ns.seed,
        reduce=not ns.no_reduce,
        reduction=ns.reduction,
        require=list(ns.require),
        max_failures=ns.max_failures,
        max_steps=ns.max_steps,
        trace_dir=ns.trace_dir,
        pin=ns.pin,
        lock_timeout_s=ns.lock_timeout,
        handoff=ns.handoff,
        verify=ns.verify,
        workers=ns.workers or 0,
        scheduler=ns.scheduler or "",
    )
    opts.check()  # the options that go together, or not
    return opts


def parse_keywords(sc: Scenario, ref: str, options: Mapping[str, Any]) -> ExploreOptions:
    """`testbed.explore`'s keywords, as the command line's long options."""
    p = parser(sc, ref, prog="testbed.explore")
    return explore_options(sc, ref, p.parse_args(to_argv(p, options)))
