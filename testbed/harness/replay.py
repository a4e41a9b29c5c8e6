"""Replaying a trace: the same scenario, variant, config and seed, with the recorded order
forced at the schedule points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.harness import loader
from testbed.harness.run import RunOptions, run
from testbed.trace.trace import DEADLOCK, Trace, TraceError


def replay(trace: Trace, lock_timeout_s: float = 10.0) -> dict[str, Any]:
    """Run the trace's order; the result document says whether its outcome happened again."""
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
    names = [name for name, _ in scenario.actors(trace.config)]
    if names != trace.actors:
        raise TraceError(f"trace actors {trace.actors} differ from the config's {names}")
    steps = trace.steps(scenario.points)
    doc = run(
        RunOptions(
            scenario,
            trace.variant,
            trace.config,
            seed=trace.seed,
            ref=ref,
            rounds=trace.rounds,
            duration_s=3600.0,
            script=steps,
            stop_after_script=True,
            script_first=trace.detected_by,
            lock_timeout_s=lock_timeout_s,
        )
    )
    if deadlock:
        reproduced = doc["verdict"] == "aborted" and doc["reasons"][0].startswith("deadlock")
    else:
        reproduced = doc["verdict"] != "aborted" and doc["outcomes"].get(trace.outcome, 0) > 0
    doc["replay"] = {
        "outcome": trace.outcome,
        "reproduced": reproduced,
        "steps": len(steps),
    }
    return doc
