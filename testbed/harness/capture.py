"""Writing a trace when a run sees an INTERESTING or FORBIDDEN outcome: every actor's and
core's events up to that moment, in global order.

An iterating run's trace is its iteration: the actor that saw the outcome writes it from the
rings, which start again with each iteration. A continuous run's history is longer than the
rings: the actor only asks (a request in the `captures` region), and the runner, which
drains the rings as the run goes (trace/history.py), writes the trace."""

from __future__ import annotations

import time
from pathlib import Path

from testbed.harness import loader, options, recorder
from testbed.harness.history import History
from testbed.harness.recorder import RingEvent
from testbed.harness.spec import RunSpec
from testbed.ipc.segment import Layout, Segment
from testbed.trace import access_points
from testbed.trace.trace import Event, Trace

REGION = "captures"
REQUEST_WORDS = 4  # a trace asked for: ready, actor index, outcome index, ticket


def add_region(layout: Layout, max_traces: int) -> None:
    layout.add_words(REGION, REQUEST_WORDS * max(1, max_traces))


def request(seg: Segment, n: int, actor: int, outcome: int, ticket: int) -> None:
    """An actor asks the runner for trace `n` of the events up to `ticket`."""
    w = seg.words(REGION)[REQUEST_WORDS * n :][:REQUEST_WORDS]
    w[1], w[2], w[3] = actor, outcome, ticket
    w[0] = 1  # last: the runner reads the rest once it sees this


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
    rings = [recorder.read_ring(seg.words(recorder.ring_region(a.index))) for a in spec.actors]
    core = recorder.read_ring(seg.words(recorder.CORE_RING))
    events = _events(spec, [r for r, _ in rings], core[0], upto)
    return events, all(whole for _, whole in rings) and core[1]


def _events(
    spec: RunSpec, rings: list[list[RingEvent]], core: list[RingEvent], upto: int
) -> list[Event]:
    """The events with a ticket up to `upto`, named, in ticket order."""
    scenario = loader.load(spec.scenario)
    names = [a.name for a in spec.actors]
    events: list[Event] = []
    for a in spec.actors:
        for e in rings[a.index]:
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
    for e in core:
        if e.ticket <= upto:
            op, client, status, key = recorder.unpack_core(e.what)
            detail = {"client": names[client] if client < len(names) else client}
            detail.update(scenario.core_event(op, status, key))
            events.append(Event(e.ticket, "core", "core", str(detail.get("op", op)), detail))
    events.sort(key=lambda e: e.ticket)
    return events


def write_trace(
    spec: RunSpec,
    seg: Segment,
    actor: str,
    outcome: str,
    ticket: int,
    n: int,
    iteration: int | None = None,
) -> Path:
    """The events up to `ticket` of iteration `iteration` (the rings and the ticket start
    again with each iteration), or of the run when the rings still hold all of it."""
    events, complete = collect(spec, seg, ticket)
    return _save(spec, actor, outcome, events, complete, n, iteration)


def _save(
    spec: RunSpec,
    actor: str,
    outcome: str,
    events: list[Event],
    complete: bool,
    n: int,
    iteration: int | None = None,
) -> Path:
    trace = Trace(
        scenario=loader.load(spec.scenario).name,
        source=spec.scenario,
        variant=spec.variant,
        config=options.document_config(spec.config),
        seed=spec.seed,
        actors=[a.name for a in spec.actors],
        outcome=outcome,
        detected_by=actor,
        complete=complete,
        rounds=1 if iteration is not None else spec.rounds,
        iteration=iteration,
        points=spec.point_level,
        events=events,
    )
    return trace.save(trace_path(spec, n))


class Writer:
    """The runner's side of a continuous run: drains the rings into the run's history and
    writes each trace an actor asked for, once every event up to its ticket is in."""

    def __init__(self, spec: RunSpec, seg: Segment, history: History):
        self.spec, self.seg, self.history = spec, seg, history
        self.requests = seg.words(REGION)
        self.written: dict[
            int, str | None
        ] = {}  # trace n -> why it will not replay (None: it will)
        self.unwritten: set[int] = set()  # traces whose writing failed (no file)

    def poll(self, final: bool = False) -> float:
        """Drain the rings and write what traces can be; answers the rings' fill (History)."""
        fill = self.history.poll()
        rings: list[list[RingEvent]] | None = None  # the history decoded, once a poll
        for n in range(self.spec.max_traces):
            w = self.requests[REQUEST_WORDS * n :][:REQUEST_WORDS]
            if n in self.written or not w[0]:
                continue
            actor, outcome, ticket = w[1], w[2], w[3]
            if rings is None:
                rings = [self.history.events(i) for i in range(len(self.spec.actors) + 1)]
            events = self._upto(rings, ticket, final)
            if events is None:
                continue  # events before its ticket still in flight: next tick
            # whole iff every ticket up to this one is in (tickets are dense): a history
            # that stopped being whole after the failure does not matter to its trace
            complete = len(events) == ticket + 1
            lost = self.history.lost
            try:
                _save(
                    self.spec,
                    self.spec.actors[actor].name,
                    self.spec.outcomes[outcome],
                    events,
                    complete,
                    n,
                )
            except OSError as e:  # a full disk: the trace is not there, and the run says so
                self.written[n] = f"its trace could not be written ({e.strerror})"
                self.unwritten.add(n)
                continue
            self.written[n] = (
                None
                if complete
                else lost or f"events before ticket {ticket} were never recorded (a process died)"
            )
        return fill

    def _upto(self, rings: list[list[RingEvent]], ticket: int, final: bool) -> list[Event] | None:
        """The events up to `ticket` (`rings`: each actor's, then core's), or None to wait a
        tick: tickets are dense, and one taken by a process preempted before it stored its
        event is still to come."""
        events = _events(self.spec, rings[:-1], rings[-1], ticket)
        if len(events) <= ticket and self.history.lost is None and not final:
            return None
        return events
