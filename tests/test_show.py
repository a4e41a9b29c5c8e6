"""`testbed show`: a picture bounded to the window around the failure, whatever the trace's
length; the whole trace in the Chrome/Perfetto trace-event format; lock holders and spans."""

from __future__ import annotations

import json

from conftest import cli

from testbed.report.timeline import holds, perfetto, picture, spans, window
from testbed.trace.trace import Event, Trace

A, B = "pd0.main", "pd0.thread1"
ONE_CREATION = ("create", "threads_lock.acquire", "threads_lock.acquired", "search.slot",
                "list.insert", "threads_lock.release", "core.attach_at", "core.reply",
                "context.assign")  # fmt: skip


def long_trace(creations: int) -> Trace:
    """Two actors creating in turn, then a conflict at the very end."""
    events, t = [], 0
    for k in range(creations):
        actor = (A, B)[k % 2]
        for p in ONE_CREATION:
            events.append(Event(t, actor, "point", p))
            t += 1
        events.append(Event(t, "core", "core", "attach_at",
                            {"client": actor, "op": "attach_at", "status": "ok", "slot": 1}))  # fmt: skip
        t += 1
    events.append(Event(t, "core", "core", "attach_at",
                        {"client": B, "op": "attach_at", "status": "region_conflict", "slot": 1}))  # fmt: skip
    events.append(Event(t + 1, B, "outcome", "region_conflict"))
    return Trace("genode-race", "racy", {"pds": 1, "creators": 2, "children": 1,
                 "stack_size": 16384}, 1, [A, B], "region_conflict", B, events=events)  # fmt: skip


def test_the_picture_is_bounded_to_the_window_around_the_failure(tmp_path):
    trace = long_trace(4000)  # 40,002 events
    shown = window(trace, 20)
    assert len(shown) <= 3 * 20 + 2 and shown[-1] == len(trace.events) - 1
    assert len(trace.events) - 2 in shown  # the conflicting request
    n = picture(trace, str(tmp_path / "t.png"), 20)
    assert n == len(shown)
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_holds_are_in_the_holders_lane_and_spans_cover_the_unset_context():
    trace = long_trace(2)
    (h0, h1) = holds(trace.events)
    assert (h0.actor, h0.lock, h1.actor) == (A, "threads_lock", B)
    (s0, s1) = spans(trace.events, (("list.insert", "context.assign", "_context unset"),))
    assert trace.events[s0.start].point == "list.insert" and s0.actor == A
    assert trace.events[s0.end].point == "context.assign"


def test_perfetto_export_holds_the_whole_trace(tmp_path):
    trace = long_trace(300)
    out = tmp_path / "t.json"
    assert perfetto(trace, str(out)) == len(trace.events)
    doc = json.loads(out.read_text())
    ev = doc["traceEvents"]
    threads = {e["args"]["name"]: e["tid"] for e in ev if e.get("name") == "thread_name"}
    assert set(threads) == {A, B, "core", f"{A} (2)", f"{B} (2)"}  # spans overlap holds
    assert sum(e["ph"] == "i" for e in ev) == len(trace.events)
    locks = [e for e in ev if e["ph"] == "X" and e["cat"] == "lock"]
    assert len(locks) == 300 and {e["tid"] for e in locks} == {threads[A], threads[B]}
    assert [e["name"] for e in ev if e.get("cat") == "failure"][-1] == "=> region_conflict"
    assert any(e["ph"] == "X" and e["name"] == "_context unset" for e in ev)


def test_show_cli_writes_a_perfetto_file_and_checks_its_options(tmp_path):
    path = tmp_path / "t.json"
    long_trace(50).save(path)
    out = tmp_path / "p.json"
    r = cli("show", str(path), "--perfetto", str(out), "--png", str(tmp_path / "t.png"),
            "--window", "5")  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(out.read_text())["traceEvents"]
    assert "(17 of 502 events)" in r.out or "of 502 events" in r.out
    r = cli("show", str(path), "--window", "0")
    assert r.code == 2 and "--window 0: expected 1..500" in r.err
    r = cli("show", str(path), "--perfetto", str(tmp_path / "p.txt"))
    assert r.code == 2 and "expected a file name ending in .json" in r.err


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_the_timeline_is_wide_and_its_labels_overlap_nothing(tmp_path):
    """Every label's box, as drawn, against every other label and every lock bar or span:
    none overlap; at least 1200 px wide; the summary names what the window leaves out."""
    import matplotlib.pyplot as plt

    from testbed.report.timeline import DPI, draw, tracks

    for per_lane, events in ((20, 400), (200, 4000)):
        trace = long_trace(events)
        fig, shown = draw(trace, per_lane)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        (ax,) = fig.axes
        assert fig.get_size_inches()[0] * DPI >= 1200
        labels = [t.get_window_extent(renderer) for t in ax.texts]
        assert len(labels) >= min(len(shown), 40)  # thinned out at most to every k-th
        bars = [
            p.get_extents(ax.transData) for c in ax.collections for p in c.get_paths()
        ]  # the lock holds and spans
        assert bars
        for k, a in enumerate(labels):
            assert not any(overlaps(a, b) for b in labels[k + 1 :])
            assert not any(overlaps(a, b) for b in bars)
        assert "before the window:" in ax.get_xlabel()
        plt.close(fig)
    assert tracks([]) == []


def test_no_core_lane_without_core_events(tmp_path):
    from testbed.report.timeline import lanes

    trace = long_trace(3)
    trace.events[:] = [e for e in trace.events if e.actor != "core"]
    assert lanes(trace) == [A, B]
    out = tmp_path / "t.json"
    perfetto(trace, str(out))
    names = [e["args"]["name"] for e in json.loads(out.read_text())["traceEvents"]
             if e.get("name") == "thread_name"]  # fmt: skip
    assert "core" not in names


def test_every_perfetto_track_nests():
    """A lock held and `_context unset` overlap in part on one actor: they go on tracks of
    their own, and on each track any two slices are apart or one inside the other."""
    from testbed.report.timeline import tracks

    trace = long_trace(300)
    slices = [{"ts": 0, "dur": 10}, {"ts": 2, "dur": 3}, {"ts": 5, "dur": 10},
              {"ts": 12, "dur": 1}, {"ts": 20, "dur": 1}]  # fmt: skip
    assert tracks(slices) == [0, 0, 1, 0, 0]  # [12, 13] fits track 0 again
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        perfetto(trace, f"{d}/t.json")
        ev = json.loads(open(f"{d}/t.json").read())["traceEvents"]
    by_tid: dict[int, list[tuple[int, int]]] = {}
    for e in ev:
        if e["ph"] == "X":
            by_tid.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    assert len(by_tid) > 2  # the spans overlap the holds: more tracks than actors
    for spans_ in by_tid.values():
        for k, (s0, e0) in enumerate(spans_):
            for s1, e1 in spans_[k + 1 :]:
                apart = e0 <= s1 or e1 <= s0
                nested = (s0 <= s1 and e1 <= e0) or (s1 <= s0 and e0 <= e1)
                assert apart or nested, ((s0, e0), (s1, e1))
