"""Shrinking a trace while its outcome still reproduces: ddmin over whole actors, whole
iterations, then single events (like Hypothesis shrinking a failing example)."""

from __future__ import annotations

from collections.abc import Callable

from testbed.harness.replay import replay
from testbed.trace.trace import Event, Trace, TraceError


def _groups_by_actor(events: list[Event]) -> list[list[int]]:
    actors: dict[str, list[int]] = {}
    for i, e in enumerate(events):
        actors.setdefault(e.actor, []).append(i)
    return list(actors.values())


def _groups_by_iteration(events: list[Event], outcome_after: dict[int, bool]) -> list[list[int]]:
    """Each actor's events between two of its outcomes: one creation, one iteration."""
    groups: dict[tuple[str, int], list[int]] = {}
    seen: dict[str, int] = {}
    for i, e in enumerate(events):
        groups.setdefault((e.actor, seen.get(e.actor, 0)), []).append(i)
        if outcome_after.get(i):
            seen[e.actor] = seen.get(e.actor, 0) + 1
    return list(groups.values())


def minimize(
    trace: Trace,
    max_replays: int = 300,
    progress: Callable[[str], None] | None = None,
) -> tuple[Trace, dict[str, int]]:
    """Delta debugging (ddmin) over the trace's point events, in three passes: whole
    actors, whole iterations, single events; a candidate is kept if its replay still
    shows the outcome. Removed events are not waited for: their actor runs through them."""
    say = progress or (lambda s: None)
    points = trace.point_events()
    # an actor's outcome event closes its iteration: mark the point event before it
    index = {id(e): i for i, e in enumerate(points)}
    outcome_after: dict[int, bool] = {}
    last_point_of: dict[str, int] = {}
    for e in trace.events:
        if e.kind == "point":
            last_point_of[e.actor] = index[id(e)]
        elif e.kind == "outcome" and e.actor in last_point_of:
            outcome_after[last_point_of[e.actor]] = True
    replays = 0

    def reproduces(keep: list[int]) -> bool:
        nonlocal replays
        if replays >= max_replays:
            return False
        replays += 1
        try:
            doc = replay(trace.with_events([points[i] for i in keep]))
        except TraceError:  # e.g. nothing left to force: not a smaller trace of this failure
            ok = False
        else:
            ok = doc["replay"]["reproduced"]
        say(f"replay {replays}: {len(keep)} events -> {'reproduced' if ok else 'not reproduced'}")
        return ok

    keep = list(range(len(points)))
    for groups in (
        _groups_by_actor(points),
        _groups_by_iteration(points, outcome_after),
        [[i] for i in keep],
    ):
        groups = [[i for i in g if i in set(keep)] for g in groups]
        keep = _ddmin(keep, [g for g in groups if g], reproduces)
    result = trace.with_events([points[i] for i in keep])
    return result, {"events_before": len(points), "events_after": len(keep), "replays": replays}


def _ddmin(
    keep: list[int], groups: list[list[int]], test: Callable[[list[int]], bool]
) -> list[int]:
    """Zeller's ddmin over `groups` (lists of event indices): remove chunks of groups, then
    finer chunks, while the rest still reproduces."""
    n = 2
    while len(groups) >= 2:
        chunk = max(1, len(groups) // n)
        removed = False
        for start in range(0, len(groups), chunk):
            rest = groups[:start] + groups[start + chunk :]
            candidate = sorted(i for g in rest for i in g)
            if rest and test(candidate):
                groups, keep, n = rest, candidate, max(n - 1, 2)
                removed = True
                break
        if not removed:
            if chunk == 1:
                break
            n = min(len(groups), 2 * n)
    return keep
