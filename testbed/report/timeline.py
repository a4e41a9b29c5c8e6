"""Drawing a trace: one lane per actor and one for core, events in global order, lock holds
as bars in the holder's lane, the scenario's spans (e.g. `_context` unset), the conflicting
requests highlighted; as text, as a picture of the window around the failure, or the whole
trace in the Chrome/Perfetto trace-event format for a viewer that zooms."""

from __future__ import annotations

import json
import math
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
    """The trace's scenario's `spans`, if it is installed here (a built-in or entry-point
    name). A trace is data: drawing it never imports a file or module the trace names."""
    from testbed.harness import loader

    if trace.ref not in loader.builtin_names():
        return ()
    try:
        return tuple(loader.load(trace.ref).spans)
    except Exception:  # an installed scenario that does not load: drawn without spans
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
    """One lane an actor, and one for core only if the trace has core's events (a scenario
    without a core process gets no empty lane)."""
    has_core = any(e.actor == "core" for e in trace.events)
    return [*trace.actors, "core"] if has_core else list(trace.actors)


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
        return f"{d.get('op')}{slot}: {d.get('status')} ({d.get('client')})"
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
        f"(seed {trace.seed}{_iteration(trace)}; last {len(events)} of {len(trace.events)} "
        "events)",
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


MIN_WIDTH_IN, DPI = 12.5, 110  # a picture is at least 1375 px wide
COLUMN_IN = 0.2  # inches an event: an upright 8-pt label needs about 0.14
MAX_WIDTH_IN = 60.0
LABEL_PT, LABEL_CHARS = 7.5, 30
# a lane is one unit: its labels stand in the upper half (above the marker), its lock bars and
# spans in the lower; half a lane must hold the longest label upright
LANE_IN = 2 * (12 + LABEL_CHARS * LABEL_PT * 0.62) / 72


def summary(trace: Trace, shown: list[int]) -> str:
    """What the picture leaves out: the events before its window, in one line."""
    first = shown[0] if shown else 0
    if first == 0:
        return ""
    early = trace.events[:first]
    outcomes: dict[str, int] = {}
    for e in early:
        if e.kind == "outcome":
            outcomes[e.point] = outcomes.get(e.point, 0) + 1
    n_holds = sum(h.end < first for h in holds(trace.events))
    told = ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))
    return (
        f"before the window: {first:,} events not drawn ({n_holds:,} lock holds"
        + (f"; outcomes {told}" if told else "")
        + ")"
    )


def thin(trace: Trace, shown: list[int], bad: set[int], every: int) -> set[int]:
    """The columns that get a label: in each lane, labels at least `every` columns apart, the
    failing outcome and the refused requests first, then the other conflicts and outcomes,
    then the rest from left to right."""
    events = trace.events

    def rank(x: int) -> int:
        e = events[shown[x]]
        if (e.kind == "outcome" and e.point == trace.outcome) or (
            shown[x] in bad and e.detail.get("status") not in ("ok", 0)
        ):
            return 0
        return 1 if shown[x] in bad or e.kind == "outcome" else 2

    kept: dict[str, list[int]] = {}
    for x in sorted(range(len(shown)), key=lambda x: (rank(x), x)):
        lane = kept.setdefault(events[shown[x]].actor, [])
        if all(abs(x - y) >= every for y in lane):
            lane.append(x)
    return {x for xs in kept.values() for x in xs}


def draw(trace: Trace, per_lane: int = DEFAULT_WINDOW):
    """The timeline of the window around the failure as a matplotlib figure: one lane an
    actor, lock holds as bars below the lane's line, the scenario's spans beneath them, each
    event's label upright above its marker in a column of its own (thinned out to every k-th
    event, conflicts and outcomes always kept, when the columns would be too narrow)."""
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

    width = min(MAX_WIDTH_IN, max(MIN_WIDTH_IN, COLUMN_IN * len(shown) + 4))
    every = max(1, math.ceil(len(shown) * COLUMN_IN * 0.75 / max(1.0, width - 4)))
    fig, ax = plt.subplots(figsize=(width, 1.8 + LANE_IN * (len(names) + 0.1)), dpi=DPI)
    colour: dict[str, str] = {}
    hs = holds(events)
    locks = sorted({h.lock for h in hs})
    for k, lock in enumerate(locks):
        colour[lock] = LOCK_COLOURS[k % len(LOCK_COLOURS)]
    band = 0.3 / max(1, len(locks))  # lock bars fill [row - 0.38, row - 0.08]
    for h in hs:
        r = x_range(h.start, h.end)
        if r is not None:
            y0 = row[h.actor] - 0.38 + band * locks.index(h.lock)
            ax.broken_barh([(r[0], r[1] - r[0])], (y0, band * 0.9), color=colour[h.lock])
    sp = spans(events, scenario_spans(trace))
    for s in sp:
        r = x_range(s.start, s.end)
        if r is not None:
            ax.broken_barh(
                [(r[0], r[1] - r[0])], (row[s.actor] - 0.48, 0.07), facecolor=SPAN_COLOUR
            )
    bad = conflicts(events)
    labelled = thin(trace, shown, bad, every)
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
        if x not in labelled:
            continue  # thinned out: its column is too narrow for a label
        label = _label(e)
        ax.annotate(  # upright, above the marker, one column an event: labels never overlap
            label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
            (x, y),
            xytext=(0, 8),
            textcoords="offset points",
            rotation=90,
            fontsize=LABEL_PT,
            ha="center",
            va="bottom",
            color="red" if i in bad or failure else "black",
        )
    for name in names:
        ax.axhline(row[name], color="#ddd", linewidth=0.6, zorder=0)
    ax.set_yticks([row[n] for n in names], names)
    ticks = [x for x in range(len(shown)) if x % every == 0]
    ax.set_xticks(ticks, [str(shown[x]) for x in ticks], rotation=90, fontsize=7)
    xlabel = f"event number (the last {per_lane} of each lane, and every conflict)"
    if every > 1:
        xlabel += f"; a label every {every} events, conflicts and outcomes always"
    if more := summary(trace, shown):
        xlabel += f"\n{more}"
    ax.set_xlabel(xlabel)
    ax.set_ylim(-0.55, len(names) - 0.45)
    ax.set_xlim(-1, len(shown) + 1)
    handles = [Patch(color=colour[lock], label=f"{lock} held") for lock in locks]
    labels = {s.label for s in sp}
    handles += [Patch(color=SPAN_COLOUR, label=label) for label in sorted(labels)]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title(
        f"{trace.scenario} / {trace.variant}: {trace.outcome} (seed {trace.seed}"
        f"{_iteration(trace)}); "
        f"{len(shown)} of {len(events)} events"
    )
    fig.tight_layout()
    return fig, shown


def picture(trace: Trace, path: str, per_lane: int = DEFAULT_WINDOW) -> int:
    """A timeline of the window around the failure as PNG or SVG (by the file's suffix);
    answers how many events it drew."""
    import matplotlib.pyplot as plt

    fig, shown = draw(trace, per_lane)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return len(shown)


def tracks(slices: list[dict]) -> list[int]:
    """A track for each slice of one thread such that every track nests: on a track, two
    slices are either apart or one inside the other (what a trace viewer can draw). Greedy
    by start time, the longer first: a slice joins the first track whose open slices all
    contain it."""
    order = sorted(range(len(slices)), key=lambda k: (slices[k]["ts"], -slices[k]["dur"]))
    stacks: list[list[int]] = []  # each track's open slices' ends, outermost first
    out = [0] * len(slices)
    for k in order:
        start, end = slices[k]["ts"], slices[k]["ts"] + slices[k]["dur"]
        for t, stack in enumerate(stacks):
            while stack and stack[-1] <= start:
                stack.pop()
            if not stack or stack[-1] >= end:
                stack.append(end)
                out[k] = t
                break
        else:
            stacks.append([end])
            out[k] = len(stacks) - 1
    return out


def perfetto(trace: Trace, path: str) -> int:
    """The whole trace as Chrome/Perfetto trace-event JSON (ui.perfetto.dev, chrome://tracing):
    a thread a lane, one microsecond a ticket, lock holds and spans as slices, events as
    instants (conflicts and the outcome in category "failure"). Answers the events written."""
    names = lanes(trace)
    events = trace.events
    ts = [e.ticket for e in events]
    by_actor: dict[str, list[dict]] = {n: [] for n in names}
    for h in holds(events):
        by_actor[h.actor].append(_slice(f"{h.lock} held", "lock", ts[h.start], ts[h.end]))
    for s in spans(events, scenario_spans(trace)):
        by_actor[s.actor].append(_slice(s.label, "span", ts[s.start], ts[s.end]))
    tid: dict[str, int] = {}
    threads: list[tuple[int, str]] = []
    slices: list[dict] = []
    for n in names:  # an actor's first track carries its events; overlaps go on more tracks
        tid[n] = len(threads) + 1
        threads.append((tid[n], n))
        extra: dict[int, int] = {0: tid[n]}
        for sl, t in zip(by_actor[n], tracks(by_actor[n]), strict=True):
            if t not in extra:
                extra[t] = len(threads) + 1
                threads.append((extra[t], f"{n} ({t + 1})"))
            slices.append({**sl, "tid": extra[t]})
    out: list[dict] = [
        {"ph": "M", "pid": 1, "name": "process_name", "args": {"name": trace.scenario}},
    ]
    out += [
        {"ph": "M", "pid": 1, "tid": t, "name": "thread_name", "args": {"name": label}}
        for t, label in threads
    ]
    out += [
        {"ph": "M", "pid": 1, "tid": t, "name": "thread_sort_index", "args": {"sort_index": t}}
        for t, _ in threads
    ]
    out += slices
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


def _slice(name: str, cat: str, start: int, end: int) -> dict:
    return {"ph": "X", "pid": 1, "ts": start, "dur": max(1, end - start), "name": name,
            "cat": cat}  # fmt: skip


def _iteration(trace: Trace) -> str:
    """ ", iteration N" for the trace of an iterating run's iteration."""
    return "" if trace.iteration is None else f", iteration {trace.iteration}"
