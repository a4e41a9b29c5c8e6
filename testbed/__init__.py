"""A real-concurrency testbed for the races of kernel resource allocators: real processes,
a real core process, shared memory and named semaphores.

The public API is what this module exports; everything under testbed.ipc, testbed.trace,
testbed.harness and testbed.cli is private and may change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testbed._version import __version__ as __version__

if TYPE_CHECKING:
    from testbed.explorer.run import Progress
    from testbed.harness.result import Result
    from testbed.harness.supervisor import Snapshot
    from testbed.scenario import (
        Actor,
        ActorEnv,
        ConfigError,
        Grade,
        Lock,
        Outcome,
        Scenario,
        Shared,
        in_range,
        parse_size,
    )
    from testbed.trace.trace import Trace

__all__ = [
    "Actor",
    "ActorEnv",
    "ConfigError",
    "Grade",
    "Lock",
    "Outcome",
    "Result",
    "Scenario",
    "Shared",
    "Trace",
    "__version__",
    "explore",
    "in_range",
    "minimize",
    "native_include",
    "parse_size",
    "replay",
    "run",
]


def _refuse_nested_run() -> None:
    """A plain script (no `if __name__ == "__main__":`) imported again to find its scenario
    stops at its call of the API instead of running it again (testbed.harness.loader)."""
    from testbed.harness.loader import refuse_nested_run

    refuse_nested_run()


def run(
    scenario: Scenario | str,
    *,
    variant: str,
    progress: Callable[[Snapshot], None] | None = None,
    **options: Any,
) -> Result:
    """Run a stress test, as `testbed stress` does, and answer its result.

    `scenario` is a Scenario object (defined at module level), a file (`PATH.py`,
    `PATH.py:NAME`), `package.module:NAME` or an installed name. `options` are the CLI's
    long options with underscores (`duration=2, pin="same", seed=1, max_failures=1`) and
    the scenario's own (`children=1`); bad ones raise ConfigError before anything runs.
    """
    _refuse_nested_run()
    from testbed.harness import loader
    from testbed.harness.options import parse_keywords
    from testbed.harness.run import run as run_options

    ref = loader.reference(scenario)
    sc = loader.load(ref)
    opts = parse_keywords(sc, ref, dict(options, variant=variant))
    opts.progress = progress
    from testbed.harness.result import Result

    return Result(run_options(opts))


def replay(trace: Trace | str | Path, *, lock_timeout_s: float = 10.0) -> Result:
    """Force a trace's order again; `result.document["replay"]["reproduced"]` says whether
    its outcome happened again. `result.exit_code` is `testbed replay`'s: 0 reproduced, 1
    not, 3 the order could not be followed (`result.verdict`: reproduced, not-reproduced,
    aborted; the forced run's own verdict is `document["run_verdict"]`)."""
    _refuse_nested_run()
    from testbed.harness.replay import judged
    from testbed.harness.replay import replay as replay_trace
    from testbed.trace.trace import Trace

    if not isinstance(trace, Trace):
        trace = Trace.load(trace)
    from testbed.harness.result import Result

    return Result(judged(replay_trace(trace, lock_timeout_s=lock_timeout_s)))


def minimize(
    trace: Trace | str | Path,
    *,
    max_replays: int = 300,
    progress: Callable[[str], None] | None = None,
) -> tuple[Trace, dict[str, int]]:
    """A smaller trace whose outcome still reproduces, and counts of what it took."""
    _refuse_nested_run()
    from testbed.harness.minimize import minimize as minimize_trace
    from testbed.scenario import in_range
    from testbed.trace.trace import Trace

    in_range("max_replays", max_replays, 1, 100_000)
    if not isinstance(trace, Trace):
        trace = Trace.load(trace)
    return minimize_trace(trace, max_replays, progress)


def explore(
    scenario: Scenario | str,
    *,
    variant: str,
    progress: Callable[[Progress], None] | None = None,
    **options: Any,
) -> Result:
    """Explore one iteration's schedules, as `testbed explore` does, and answer its result.

    `options` are the command's long options with underscores (`preemptions=2` or
    `"none"`, `max_schedules=1000, strategy="dfs", seed=1, require=["region_conflict"]`,
    `reduction="dpor"`) and the
    scenario's own (`children=1`); bad ones raise ConfigError before anything runs.
    `result.exit_code` is 0 (complete, nothing found), 1 (a failure, its trace in
    `result.trace_files`), 3 (aborted) or 4 (the budget ran out first).
    """
    _refuse_nested_run()
    from testbed.explorer.options import parse_keywords
    from testbed.explorer.run import explore as explore_options
    from testbed.harness import loader

    ref = loader.reference(scenario)
    sc = loader.load(ref)
    opts = parse_keywords(sc, ref, dict(options, variant=variant))
    opts.progress = progress
    from testbed.harness.result import Result

    return Result(explore_options(opts))


def native_include() -> Path:
    """The directory of testbed.h, for compiling a native actor's C sources elsewhere."""
    from testbed.native.build import include_dir

    return include_dir()


# the public names, each imported from its module when first asked for: `import testbed`
# (and so the start of the `testbed` command, where a Ctrl-C must end cleanly) stays light
_LAZY = {
    **dict.fromkeys(
        (
            "Actor",
            "ActorEnv",
            "ConfigError",
            "Grade",
            "Lock",
            "Outcome",
            "Scenario",
            "Shared",
            "in_range",
            "parse_size",
        ),
        "testbed.scenario",
    ),  # fmt: skip
    "Trace": "testbed.trace.trace",
    "Result": "testbed.harness.result",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'testbed' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
