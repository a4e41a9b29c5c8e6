"""`testbed show`: a picture bounded to the window around the failure, whatever the trace's
length; the whole trace in the Chrome/Perfetto trace-event format; lock holders and spans."""

from __future__ import annotations

import json

from conftest import cli

from testbed.cli.show import holds, perfetto, picture, spans, window
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
    assert set(threads) == {A, B, "core"}
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
