"""Writing a trace when a run sees an INTERESTING or FORBIDDEN outcome: every actor's and
core's events up to that moment, in global order, from the rings in shared memory."""

from __future__ import annotations

import time
from pathlib import Path

from testbed.harness import loader
from testbed.harness.spec import RunSpec
from testbed.ipc.segment import Segment
from testbed.trace import access_points, recorder
from testbed.trace.trace import Event, Trace


def trace_path(spec: RunSpec, n: int) -> Path:
    token = spec.prefix.rsplit(".", 1)[-1]
    name = loader.load(spec.scenario).name
    return Path(spec.trace_dir) / f"{name}.{spec.variant}.{spec.seed}.{token}.{n}.json"


IN_FLIGHT_WAIT_S = 0.25  # how long a capture waits for events whose ticket is taken, not yet stored


def collect(spec: RunSpec, seg: Segment, upto: int) -> tuple[list[Event], bool]:
    """Events with a ticket up to `upto`, in ticket order, and whether none was lost.

    Tickets are dense (every ticket is one event), but another process may have taken a
    ticket and been preempted before it stored its event: a trace without that event
    would replay another order. So wait, briefly, until tickets 0..upto are all there."""
    deadline = time.monotonic() + IN_FLIGHT_WAIT_S
    while True:
        events, complete = _collect(spec, seg, upto)
        if not complete or len(events) > upto or time.monotonic() >= deadline:
            return events, complete
        time.sleep(0.0005)


def _collect(spec: RunSpec, seg: Segment, upto: int) -> tuple[list[Event], bool]:
    scenario = loader.load(spec.scenario)
    names = [a.name for a in spec.actors]
    events: list[Event] = []
    complete = True
    for a in spec.actors:
        ring, whole = recorder.read_ring(seg.words(recorder.ring_region(a.index)))
        complete &= whole
        for e in ring:
            if e.ticket > upto:
                continue
            if e.event >= recorder.OUTCOME_EVENT:
                events.append(
                    Event(
                        e.ticket, a.name, "outcome", spec.outcomes[e.event - recorder.OUTCOME_EVENT]
                    )
                )
            else:
                point = access_points.name(spec.points, e.event, e.what)
                events.append(Event(e.ticket, a.name, "point", point))
    ring, whole = recorder.read_ring(seg.words(recorder.CORE_RING))
    complete &= whole
    for e in ring:
        if e.ticket <= upto:
            op, client, status, key = recorder.unpack_core(e.what)
            detail = {"client": names[client] if client < len(names) else client}
            detail.update(scenario.core_event(op, status, key))
            events.append(Event(e.ticket, "core", "core", str(detail.get("op", op)), detail))
    events.sort(key=lambda e: e.ticket)
    return events, complete


def write_trace(
    spec: RunSpec,
    seg: Segment,
    actor: str,
    outcome: str,
    ticket: int,
    n: int,
    iteration: int | None = None,
) -> Path:
    """The events up to `ticket`: of the run (a continuous one), or of its iteration
    `iteration` (the rings and the ticket start again with each iteration)."""
    events, complete = collect(spec, seg, ticket)
    trace = Trace(
        scenario=loader.load(spec.scenario).name,
        source=spec.scenario,
        variant=spec.variant,
        config={k: v for k, v in spec.config.items() if k != "variant"},
        seed=spec.seed,
        actors=[a.name for a in spec.actors],
        outcome=outcome,
        detected_by=actor,
        complete=complete,
        rounds=1 if iteration is not None else spec.rounds,
        iteration=iteration,
        points=spec.points_mode,
        events=events,
    )
    return trace.save(trace_path(spec, n))
