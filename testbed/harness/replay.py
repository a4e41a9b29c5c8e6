"""Replaying a trace: the same scenario, variant, config and seed, with the recorded order
forced at the schedule points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.harness import loader
from testbed.harness.options import scenario_config, stress_parser, to_argv
from testbed.harness.result import EXIT_ABORTED, EXIT_FAIL, EXIT_OK
from testbed.harness.run import RunOptions, run
from testbed.scenario import ConfigError, Scenario
from testbed.trace import access_points
from testbed.trace.step import FINISH
from testbed.trace.trace import DEADLOCK, Trace, TraceError

MAX_ROUNDS = 10**9  # as --rounds


def _check_config(scenario: Scenario, ref: str, trace: Trace) -> dict[str, Any]:
    """The trace's config must be one `testbed stress` accepts: its values go through the
    scenario's options and `configure` (same ranges, same messages) and must come back
    unchanged; an option the trace does not name (an older trace, a hand-written one) gets
    its default. Answers the config to replay with."""
    parser = stress_parser(scenario, ref, prog="testbed replay")
    dests = {a.dest for a in parser._actions if a.option_strings}
    own = {k: v for k, v in trace.config.items() if k in dests and k != "variant"}
    try:
        ns = parser.parse_args([*to_argv(parser, own), "--variant", trace.variant])
        config = scenario.configure(ns)
    except ConfigError as e:
        raise TraceError(f"trace config: {e}") from None
    for key in sorted(trace.config):
        if config.get(key) != trace.config[key]:
            raise TraceError(
                f"trace config {key}={trace.config[key]!r}: the scenario's options give "
                f"{config.get(key)!r} (config {trace.config})"
            )
    return config


def _check_events(scenario: Scenario, trace: Trace) -> None:
    """Every name in the trace is one of its scenario's: actors, points, outcomes (before a
    process starts, so a bad trace is exit 2, not an aborted replay)."""
    outcomes = [o.name for o in scenario.outcomes]
    config = scenario_config(trace.config, trace.variant)
    points = access_points.run_points(  # its locks' operations (and words) are points too
        scenario.points, list(scenario.regions(config)), scenario.locks(config), trace.points
    )
    if trace.detected_by and trace.detected_by not in trace.actors:
        raise TraceError(f"trace detected_by {trace.detected_by!r} is not one of its actors")
    for k, e in enumerate(trace.events):
        where = f"trace events[{k}] (ticket {e.ticket})"
        if e.actor not in trace.actors and not (e.kind == "core" and e.actor == "core"):
            raise TraceError(f"{where}: actor {e.actor!r} is not one of {trace.actors}")
        if e.kind == "point" and e.point != FINISH and not access_points.known(points, e.point):
            raise TraceError(f"{where}: {trace.scenario} has no schedule point {e.point!r}")
        if e.kind == "outcome" and e.point not in outcomes:
            raise TraceError(f"{where}: {trace.scenario} has no outcome {e.point!r}")


def trusted(trace: Trace, path: str, scenario: str | None, trust_source: bool) -> Trace:
    """The trace, with the scenario whose code a replay may run: one the user named
    (`scenario`: --scenario), an installed one (a built-in or entry-point name), or the
    trace's own file or module if the user said so (`trust_source`). A trace is data: its
    "source" alone never makes the testbed import anything (TraceError, exit 2)."""
    if scenario is not None:
        ref = loader.canonical(scenario)
        if loader.is_file_ref(ref) and not Path(ref.rsplit(":", 1)[0]).is_file():
            raise TraceError(f"--scenario {scenario}: no such file")
        trace.source = ref
        return trace
    ref = trace.ref
    if trust_source or ref in loader.builtin_names():
        return trace
    if not loader.is_file_ref(ref) and ":" not in ref:  # a name: only entry points load it
        return trace
    raise TraceError(
        f"trace {path} names the scenario {ref!r}, which is not installed here: a "
        "replay would run that code, so it runs only a scenario you name. Read it, then pass "
        "--scenario PATH (the file, or package.module:NAME), or --trust-source to run what the "
        "trace names"
    )


def replay(trace: Trace, lock_timeout_s: float = 10.0, explain: str = "") -> dict[str, Any]:
    """Run the trace's order; the result document says whether its outcome happened again.
    `explain`: a directory where the actors note what they did (testbed explain)."""
    if not trace.complete:
        raise TraceError(
            "the trace does not go back to the start of its run (its rings wrapped), so its "
            "order cannot be forced from a fresh start; record with --max-failures 1 or a "
            "larger --ring-events"
        )
    ref = trace.ref
    if loader.is_file_ref(ref) and not Path(ref.rsplit(":", 1)[0]).is_file():
        raise TraceError(
            f"the trace's scenario file {ref.rsplit(':', 1)[0]} is gone (moved or deleted); "
            'put it back, or edit the trace\'s "source" to where it is now'
        )
    scenario = loader.load(ref)
    if trace.variant not in scenario.variants:
        raise TraceError(
            f"trace variant {trace.variant!r}: {trace.scenario} has {', '.join(scenario.variants)}"
        )
    deadlock = trace.outcome == DEADLOCK  # reproduced when the order ends in a deadlock
    if not deadlock and trace.outcome not in [o.name for o in scenario.outcomes]:
        raise TraceError(f"trace outcome {trace.outcome!r} is not an outcome of {trace.scenario}")
    config = _check_config(scenario, ref, trace)
    _check_events(scenario, trace)
    full = scenario_config(config, trace.variant)  # what the scenario sees in a run
    names = [name for name, _ in scenario.actors(full)]
    if names != trace.actors:
        raise TraceError(f"trace actors {trace.actors} differ from the config's {names}")
    if not 0 <= trace.rounds <= MAX_ROUNDS:
        raise TraceError(f"trace rounds {trace.rounds}: expected 0..{MAX_ROUNDS}")
    iterates = scenario.iterates(full)
    if trace.iteration is not None and not iterates:
        raise TraceError(
            f"trace of iteration {trace.iteration}, but {trace.scenario} with this config "
            "does not run in iterations"
        )
    if trace.iteration is not None and trace.iteration >= 1 << 62:
        raise TraceError(f"trace iteration {trace.iteration}: expected 0..{(1 << 62) - 1}")
    steps = trace.steps(scenario.points)
    if not steps:
        raise TraceError(
            f"the trace has no schedule point to force ({trace.scenario} declares "
            f"{len(scenario.points)} points), so a replay would be a free run, not this order"
        )
    doc = run(
        RunOptions(
            scenario,
            trace.variant,
            config,
            seed=trace.seed,
            ref=ref,
            rounds=1 if iterates else trace.rounds,
            first_iteration=trace.iteration or 0,
            duration_s=3600.0,
            script=steps,
            stop_after_script=True,
            script_first=trace.detected_by,
            lock_timeout_s=lock_timeout_s,
            point_level=trace.points,
            explain=explain,
        )
    )
    if deadlock:
        reproduced = doc["verdict"] == "aborted" and doc["reasons"][0].startswith("deadlock")
    else:
        reproduced = doc["verdict"] != "aborted" and doc["outcomes"].get(trace.outcome, 0) > 0
    controlled = doc.get("controlled", {})
    doc["replay"] = {
        "outcome": trace.outcome,
        "reproduced": reproduced,
        "steps": len(steps),
        "steps_run": controlled.get("steps", 0),
        "steps_per_s": controlled.get("steps_per_s", 0.0),
    }
    return doc


def judged(doc: dict[str, Any]) -> dict[str, Any]:
    """A replay's document as `testbed replay` and `testbed.replay()` answer it: its verdict
    and exit code are the replay's (`reproduced` 0, `not-reproduced` 1, `aborted` 3: the
    order could not be followed), the forced run's own verdict kept as `run_verdict`."""
    doc = dict(doc)
    reproduced = doc["replay"]["reproduced"]
    doc["run_verdict"] = doc["verdict"]
    if doc["verdict"] == "aborted" and not reproduced:
        doc["exit_code"] = EXIT_ABORTED
    elif reproduced:
        doc["verdict"], doc["exit_code"] = "reproduced", EXIT_OK
    else:
        doc["verdict"], doc["exit_code"] = "not-reproduced", EXIT_FAIL
    return doc


def verify(doc: dict[str, Any], n: int, lock_timeout_s: float) -> None:
    """Replay the first trace a run offers `n` times before its replay command is printed
    (frontrun's "reproduced 10 out of 10"): the verdict goes into `doc["verified"]`; a trace
    that did not reproduce every time is offered no more (`trace_files`), and says why,
    with what to do about it. The other traces stay offered, unverified."""
    path = doc["trace_files"][0]
    trace = Trace.load(path)
    reproduced, why, refused = 0, None, False
    for _ in range(n):
        try:
            d = replay(trace, lock_timeout_s=lock_timeout_s)
        except (TraceError, ConfigError) as e:
            why, refused = f"its replay refused it: {e}", True
            break
        if d["replay"]["reproduced"]:
            reproduced += 1
        elif why is None:
            why = (
                d["reasons"][0]
                if d["verdict"] == "aborted" and d["reasons"]
                else f"the forced order ran to {_seen(d)}, not {trace.outcome}"
            )
    verdict = "reproduced" if reproduced == n else "not-reproduced"
    doc["verified"] = {
        "trace": path,
        "replays": n,
        "reproduced": reproduced,
        "verdict": verdict,
        "why": None if reproduced == n else why,
    }
    if reproduced == n:
        return
    if refused:
        label = f"not replayable: {why}"
    else:
        label = f"not reproducible at {trace.points} points (reproduced {reproduced} of {n})"
        if trace.points == "named":
            label += ": rerun with --points access"
        label += f"; {why}"
    doc["verified"]["label"] = label
    doc["trace_files"] = [f for f in doc["trace_files"] if f != path]
    for t in doc.get("traces", []):
        if t["file"] == path:
            t["replayable"], t["why"] = False, label
    for f in doc.get("failures", []):
        if f["trace_file"] == path:
            f["replayable"], f["why"] = False, label


def _seen(doc: dict[str, Any]) -> str:
    seen = [name for name, count in doc["outcomes"].items() if count]
    return ", ".join(seen) or "no outcome"
