"""Drawing a trace: one lane per actor and one for core, events in global order, lock holds
as bars, the conflicting requests highlighted; as text in the terminal or as a picture."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from testbed.trace.trace import Event, Trace


@dataclass(frozen=True)
class Hold:
    actor: str
    lock: str
    start: int  # index in the event list
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
    held = holds(trace.events)
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
            if e.actor == name:
                label = _label(e)
                if i in bad or (e.kind == "outcome" and e.point == trace.outcome):
                    label = f"[bold red]{label}[/bold red]"
                cells.append(f"{bar}{label}")
            else:
                cells.append(bar)
        table.add_row(str(i), *cells)
    console.print(table)
    console.print(
        "[blue]|[/blue] a lock held (one bar a lock); [bold red]red[/bold red]: the conflict and its outcome"
    )


def picture(trace: Trace, path: str) -> None:
    """A timeline as PNG or SVG (by the file's suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = lanes(trace)
    row = {name: len(names) - 1 - k for k, name in enumerate(names)}
    events = trace.events
    fig, ax = plt.subplots(figsize=(max(8, min(40, len(events) * 0.12)), 1.2 + 0.8 * len(names)))
    colours = {}
    for h in holds(events):
        c = colours.setdefault(h.lock, f"C{len(colours)}")
        ax.broken_barh(
            [(h.start, max(0.8, h.end - h.start))], (row[h.actor] - 0.3, 0.6), color=c, alpha=0.3
        )
    bad = conflicts(events)
    label_from = max(0, len(events) - 25)
    for i, e in enumerate(events):
        y = row.get(e.actor, 0)
        if e.kind == "outcome":
            bad_outcome = e.point == trace.outcome
            ax.plot(
                i,
                y,
                marker="*",
                color="red" if bad_outcome else "green",
                markersize=12 if bad_outcome else 7,
            )
        elif i in bad:
            ax.plot(i, y, marker="X", color="red", markersize=9)
        else:
            ax.plot(i, y, marker="o", color="black" if e.kind == "point" else "grey", markersize=3)
        if i >= label_from or i in bad or (e.kind == "outcome" and e.point == trace.outcome):
            ax.annotate(
                _label(e),
                (i, y),
                xytext=(0, 6),
                textcoords="offset points",
                rotation=60,
                fontsize=6,
            )
    ax.set_yticks([row[n] for n in names], names)
    ax.set_xlabel("event (global order)")
    ax.set_ylim(-0.8, len(names) + 0.2)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.3) for c in colours.values()]
    if handles:
        ax.legend(handles, [f"{lock} held" for lock in colours], loc="lower left", fontsize=7)
    ax.set_title(f"{trace.scenario} / {trace.variant}: {trace.outcome} (seed {trace.seed})")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
