"""Record and replay: a real failure's trace, replayed exactly; hand-written traces; shrinking;
drawing; and every way a trace can be unusable."""

from __future__ import annotations

import json

import pytest
from conftest import cli

from testbed.trace.trace import FORMAT, VERSION, Event, Trace

CONFIG = {"pds": 1, "creators": 2, "children": 1, "stack_size": 16384}
A, B = "pd0.main", "pd0.thread1"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> str:
    """A trace of a real quick-fix failure under preemption alone (one CPU, no delay)."""
    d = tmp_path_factory.mktemp("traces")
    r = cli(
        "stress", "genode-race", "--variant", "quickfix", "--pin", "same", "--duration", "60",
        "--max-failures", "1", "--record", "--trace-dir", str(d), "--seed", "11",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.doc["outcomes"]["region_conflict"] >= 1
    (path,) = r.doc["trace_files"][:1]
    assert r.doc["detected_at"]["region_conflict"] == "core.attach_at"
    return path


def test_a_recorded_trace_holds_the_whole_interleaving(recorded):
    t = Trace.load(recorded)
    assert t.complete and t.outcome == "region_conflict" and t.variant == "quickfix"
    tickets = [e.ticket for e in t.events]
    assert tickets == sorted(tickets)
    last = t.events[-1]
    assert (last.kind, last.point, last.actor) == ("outcome", "region_conflict", t.detected_by)
    core = [e for e in t.events if e.kind == "core"]
    assert any(
        e.detail["status"] == "region_conflict" and e.detail["op"] == "attach_at" for e in core
    )
    assert {e.actor for e in t.events if e.kind == "point"} == {A, B}
    for actor in (A, B):  # one event a step, also for the two recorded at their access
        mine = [e for e in t.events if e.actor == actor]
        assigns = sum(e.point == "context.assign" for e in mine)
        oks = sum(e.kind == "outcome" and e.point == "ok" for e in mine)
        inserts = sum(e.point == "list.insert" for e in mine)
        assert oks <= assigns <= min(oks + 1, inserts)  # the trace may end between the two


def test_replay_reproduces_the_recorded_failure_every_time(recorded):
    r = cli("replay", recorded, "--repeat", "5", "--json", "-")
    assert r.code == 0, r.err
    docs = json.loads(r.out)
    assert [d["replay"]["reproduced"] for d in docs] == [True] * 5
    assert all(d["outcomes"]["region_conflict"] >= 1 for d in docs)


def test_show_draws_lanes_locks_and_the_conflict(recorded, tmp_path):
    png, svg = tmp_path / "t.png", tmp_path / "t.svg"
    r = cli("show", recorded, "--png", str(png), "--last", "30")
    assert r.code == 0, r.err
    assert A in r.out and B in r.out and "core" in r.out
    assert "region_conflict" in r.out and "|" in r.out  # the conflict, and a lock held
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli("show", recorded, "--svg", str(svg)).code == 0
    assert b"<svg" in svg.read_bytes()[:500]


def test_minimize_shrinks_a_trace_that_still_reproduces(recorded, tmp_path):
    out = tmp_path / "small.json"
    r = cli("minimize", recorded, "-o", str(out), "--max-replays", "40")
    assert r.code == 0, r.out + r.err
    small, big = Trace.load(out), Trace.load(recorded)
    assert len(small.point_events()) < len(big.point_events())
    assert "removed" in r.out
    assert cli("replay", str(out)).code == 0


def hand_written(variant: str, tmp_path) -> str:
    """The quick fix's gap as a hand-written order: main stopped right after releasing
    alloc_lock, thread1 runs through its attach."""
    t = Trace(
        "genode-race", variant, CONFIG, seed=3, actors=[A, B], outcome="region_conflict",
        detected_by=B, rounds=1, order="stop",
        events=[Event(0, A, "point", "context.assign"), Event(1, B, "point", "core.reply")],
    )  # fmt: skip
    return str(t.save(tmp_path / f"{variant}.json"))


def test_a_hand_written_order_is_a_trace(tmp_path):
    assert cli("replay", hand_written("quickfix", tmp_path)).code == 0
    r = cli("replay", hand_written("fixed", tmp_path), "--json", "-")
    assert r.code == 1  # the fix holds: the same order cannot make it conflict
    assert r.doc is None or True
    doc = json.loads(r.out[r.out.index("{") :])
    assert doc["replay"]["reproduced"] is False and doc["outcomes"]["region_conflict"] == 0


def test_an_order_that_cannot_happen_aborts_naming_the_event(tmp_path):
    t = Trace(
        "genode-race", "racy", CONFIG, seed=3, actors=[A, B], outcome="region_conflict",
        rounds=1, order="stop", events=[Event(0, A, "point", "bits.reserve")],  # racy has no slot bits
    )  # fmt: skip
    r = cli("replay", str(t.save(tmp_path / "never.json")))
    assert r.code == 3
    assert "pd0.main finished before it reached 'bits.reserve'" in r.out + r.err


def write(tmp_path, doc) -> str:
    p = tmp_path / "t.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(p)


def valid_doc() -> dict:
    return {
        "format": FORMAT, "version": VERSION, "scenario": "genode-race", "variant": "racy",
        "config": CONFIG, "seed": 1, "actors": [A, B], "outcome": "region_conflict", "events": [],
    }  # fmt: skip


@pytest.mark.parametrize(
    "doc,message",
    [
        ("{not json", "does not parse as JSON"),
        ({"format": "something-else"}, "not a testbed trace"),
        ({**valid_doc(), "version": 99}, "format version 99, this testbed"),
        ({**valid_doc(), "scenario": "vxworks-race"}, "unknown scenario 'vxworks-race'"),
        ({**valid_doc(), "variant": "lazy"}, "trace variant 'lazy'"),
        ({**valid_doc(), "complete": False}, "does not go back to the start of its run"),
        ({**valid_doc(), "actors": ["x"]}, "trace actors ['x'] differ"),
        ({**valid_doc(), "events": [{"ticket": 0}]}, "malformed"),
    ],
)
def test_unusable_traces_exit_2_naming_the_problem(tmp_path, doc, message):
    r = cli("replay", write(tmp_path, doc))
    assert r.code == 2, r.out + r.err
    assert message in r.err


def test_a_missing_trace_exits_2(tmp_path):
    r = cli("show", str(tmp_path / "nope.json"))
    assert r.code == 2 and "no such file" in r.err
