"""Drawing a trace: one lane per actor and one for core, events in global order, lock holds
as bars in the holder's lane, the scenario's spans (e.g. `_context` unset), the conflicting
requests highlighted; as text, as a picture of the window around the failure, or the whole
trace in the Chrome/Perfetto trace-event format for a viewer that zooms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from testbed.trace.trace import Event, Trace

DEFAULT_WINDOW = 20  # events of each lane in a picture
MAX_WINDOW = 500
LOCK_COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
SPAN_COLOUR = "#c44e52"


@dataclass(frozen=True)
class Hold:
    actor: str
    lock: str
    start: int  # index in the event list
    end: int


@dataclass(frozen=True)
class Span:
    actor: str
    label: str
    start: int
    end: int


def holds(events: list[Event]) -> list[Hold]:
    """Lock holds from `L.acquire` (held from the actor's next event) to `L.release`."""
    out, pending = [], {}
    for i, e in enumerate(events):
        if e.kind != "point":
            continue
        for (actor, lock), start in list(pending.items()):
            if actor == e.actor and start is None:
                pending[actor, lock] = i
        if e.point.endswith(".acquire"):
            pending[e.actor, e.point[: -len(".acquire")]] = None
        elif e.point.endswith(".release"):
            start = pending.pop((e.actor, e.point[: -len(".release")]), None)
            if start is not None:
                out.append(Hold(e.actor, e.point[: -len(".release")], start, i))
    for (actor, lock), start in pending.items():
        if start is not None:
            out.append(Hold(actor, lock, start, len(events) - 1))
    return out


def spans(events: list[Event], pairs: tuple[tuple[str, str, str], ...]) -> list[Span]:
    """Each actor's stretches from a `from` point to its next `to` point (to the end if the
    trace ends first): the scenario's `spans`."""
    out, open_ = [], {}
    for i, e in enumerate(events):
        if e.kind != "point":
            continue
        for start_point, end_point, label in pairs:
            if e.point == end_point and (e.actor, label) in open_:
                out.append(Span(e.actor, label, open_.pop((e.actor, label)), i))
            if e.point == start_point:
                open_[e.actor, label] = i
    out += [Span(a, label, i, len(events) - 1) for (a, label), i in open_.items()]
    return out


def scenario_spans(trace: Trace) -> tuple[tuple[str, str, str], ...]:
    """The trace's scenario's `spans`, if it can be loaded here."""
    from testbed.harness import loader

    try:
        return tuple(loader.load(trace.ref).spans)
    except Exception:  # show draws a trace of a scenario not installed here, without spans
        return ()


def conflicts(events: list[Event]) -> set[int]:
    """Core requests answered with an error, and the successful request on the same key
    (e.g. the slot) that they collided with."""
    marked, last_ok = set(), {}
    for i, e in enumerate(events):
        if e.kind != "core":
            continue
        key = (e.detail.get("op"), e.detail.get("slot", e.detail.get("key")))
        status = e.detail.get("status")
        if status in ("ok", 0):
            last_ok[key] = i
        else:
            marked.add(i)
            if key in last_ok:
                marked.add(last_ok[key])
    return marked


def lanes(trace: Trace) -> list[str]:
    return [*trace.actors, "core"]


def window(trace: Trace, per_lane: int) -> list[int]:
    """The indices a picture shows: the last `per_lane` events of each lane (the failure is
    at the end of a trace), and every conflict, in global order."""
    left = {name: per_lane for name in lanes(trace)}
    picked = []
    for i in range(len(trace.events) - 1, -1, -1):
        actor = trace.events[i].actor
        if left.get(actor, 0) > 0:
            left[actor] -= 1
            picked.append(i)
        if not any(left.values()):
            break
    first = picked[-1] if picked else 0
    extra = {i for i in conflicts(trace.events) if i < first}
    return sorted({*picked, *extra})


def _label(e: Event) -> str:
    if e.kind == "core":
        d = e.detail
        slot = f" slot {d['slot']}" if "slot" in d else ""
        return f"{d.get('op')}{slot} <- {d.get('client')}: {d.get('status')}"
    if e.kind == "outcome":
        return f"=> {e.point}"
    return e.point


def text(trace: Trace, console: Console, last: int = 60) -> None:
    events = trace.events[-last:] if last else trace.events
    offset = len(trace.events) - len(events)
    held = [h for h in holds(trace.events) if h.end >= offset]
    unset = [s for s in spans(trace.events, scenario_spans(trace)) if s.end >= offset]
    bad = conflicts(trace.events)
    table = Table(
        title=f"{trace.scenario} / {trace.variant}: {trace.outcome} seen by {trace.detected_by} "
        f"(seed {trace.seed}; last {len(events)} of {len(trace.events)} events)",
        show_lines=False,
    )
    table.add_column("#", justify="right")
    names = lanes(trace)
    for name in names:
        table.add_column(name)
    for j, e in enumerate(events):
        i = offset + j
        cells = []
        for name in names:
            locks = [h.lock for h in held if h.actor == name and h.start <= i <= h.end]
            bar = "[blue]|[/blue]" * len(locks)
            bar += "[magenta]:[/magenta]" * sum(
                s.actor == name and s.start <= i <= s.end for s in unset
            )
            if e.actor == name:
                label = _label(e)
                if i in bad or (e.kind == "outcome" and e.point == trace.outcome):
                    label = f"[bold red]{label}[/bold red]"
                cells.append(f"{bar}{label}")
            else:
                cells.append(bar)
        table.add_row(str(i), *cells)
    console.print(table)
    legend = "[blue]|[/blue] a lock held by this lane (one bar a lock)"
    if unset:
        legend += f"; [magenta]:[/magenta] {', '.join(sorted({s.label for s in unset}))}"
    console.print(legend + "; [bold red]red[/bold red]: the conflict and its outcome")


def picture(trace: Trace, path: str, per_lane: int = DEFAULT_WINDOW) -> int:
    """A timeline of the window around the failure as PNG or SVG (by the file's suffix);
    answers how many events it drew."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    names = lanes(trace)
    row = {name: len(names) - 1 - k for k, name in enumerate(names)}
    shown = window(trace, per_lane)
    x_of = {i: x for x, i in enumerate(shown)}
    events = trace.events

    def x_range(start: int, end: int) -> tuple[float, float] | None:
        xs = [x_of[i] for i in shown if start <= i <= end]
        return (xs[0] - 0.4, xs[-1] + 0.4) if xs else None

    fig, ax = plt.subplots(figsize=(max(8, min(40, 0.16 * len(shown))), 1.6 + 1.6 * len(names)))
    colour: dict[str, str] = {}
    hs = holds(events)
    locks = sorted({h.lock for h in hs})
    for k, lock in enumerate(locks):
        colour[lock] = LOCK_COLOURS[k % len(LOCK_COLOURS)]
    band = 0.5 / max(1, len(locks))
    for h in hs:
        r = x_range(h.start, h.end)
        if r is None:
            continue
        y0 = row[h.actor] - 0.35 + band * locks.index(h.lock)
        ax.broken_barh([(r[0], r[1] - r[0])], (y0, band), color=colour[h.lock])
        ax.text(r[0], y0 + band / 2, f" {h.lock}", fontsize=5, va="center", color="white")
    sp = spans(events, scenario_spans(trace))
    for s in sp:
        r = x_range(s.start, s.end)
        if r is not None:
            ax.broken_barh([(r[0], r[1] - r[0])], (row[s.actor] + 0.17, 0.1), facecolor=SPAN_COLOUR)
    bad = conflicts(events)
    for x, i in enumerate(shown):
        e = events[i]
        y = row.get(e.actor, 0)
        failure = e.kind == "outcome" and e.point == trace.outcome
        if e.kind == "outcome":
            ax.plot(x, y, marker="*", color="red" if failure else "green", ms=12 if failure else 7)
        elif i in bad:
            ax.plot(x, y, marker="X", color="red", markersize=9)
        else:
            ax.plot(x, y, marker="o", color="black" if e.kind == "point" else "grey", ms=3)
        label = _label(e)
        ax.annotate(  # upright, one column an event: neighbours' labels never overlap
            label if len(label) <= 34 else label[:33] + "…",
            (x, y),
            xytext=(0, 7),
            textcoords="offset points",
            rotation=90,
            fontsize=5.5,
            ha="center",
            color="red" if i in bad or failure else "black",
        )
    ax.set_yticks([row[n] for n in names], names)
    ax.set_xticks(range(len(shown)), [str(i) for i in shown], rotation=90, fontsize=5)
    ax.set_xlabel(f"event number (the last {per_lane} of each lane, and every conflict)")
    ax.set_ylim(-0.6, len(names) - 0.1)
    ax.set_xlim(-1, len(shown) + 2)
    handles = [Patch(color=colour[lock], label=f"{lock} held") for lock in locks]
    labels = {s.label for s in sp}
    handles += [Patch(color=SPAN_COLOUR, label=label) for label in sorted(labels)]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    ax.set_title(
        f"{trace.scenario} / {trace.variant}: {trace.outcome} (seed {trace.seed}); "
        f"{len(shown)} of {len(events)} events"
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return len(shown)


def perfetto(trace: Trace, path: str) -> int:
    """The whole trace as Chrome/Perfetto trace-event JSON (ui.perfetto.dev, chrome://tracing):
    a thread a lane, one microsecond a ticket, lock holds and spans as slices, events as
    instants (conflicts and the outcome in category "failure"). Answers the events written."""
    names = lanes(trace)
    tid = {name: k + 1 for k, name in enumerate(names)}
    events = trace.events
    ts = [e.ticket for e in events]
    out: list[dict] = [
        {"ph": "M", "pid": 1, "name": "process_name", "args": {"name": trace.scenario}},
    ]
    out += [
        {"ph": "M", "pid": 1, "tid": tid[n], "name": "thread_name", "args": {"name": n}}
        for n in names
    ]
    for h in holds(events):
        out.append(_slice(f"{h.lock} held", "lock", tid[h.actor], ts[h.start], ts[h.end]))
    for s in spans(events, scenario_spans(trace)):
        out.append(_slice(s.label, "span", tid[s.actor], ts[s.start], ts[s.end]))
    bad = conflicts(events)
    for i, e in enumerate(events):
        failure = i in bad or (e.kind == "outcome" and e.point == trace.outcome)
        out.append(
            {
                "ph": "i", "s": "t", "pid": 1, "tid": tid.get(e.actor, 0), "ts": e.ticket,
                "name": _label(e), "cat": "failure" if failure else e.kind,
                "args": {"event": i, "ticket": e.ticket, **e.detail},
            }
        )  # fmt: skip
    doc = {
        "traceEvents": out,
        "displayTimeUnit": "ns",
        "otherData": {
            "scenario": trace.scenario, "variant": trace.variant, "seed": trace.seed,
            "outcome": trace.outcome, "time": "one microsecond a ticket (global order)",
        },
    }  # fmt: skip
    Path(path).write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return len(events)


def _slice(name: str, cat: str, tid: int, start: int, end: int) -> dict:
    return {"ph": "X", "pid": 1, "tid": tid, "ts": start, "dur": max(1, end - start),
            "name": name, "cat": cat}  # fmt: skip
