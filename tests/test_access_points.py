"""Access-level schedule points: every read and write through `env.words` and every lock
operation is a point; a forced access-level order exposes a check-then-act with no named
point in its window, a hand-written access-level trace replays, a recorded one replays."""

from __future__ import annotations

import pytest
from conftest import cli, user_files

import testbed
from testbed.harness.access import AccessWords
from testbed.trace import access_points
from testbed.trace.step import Step
from testbed.trace.trace import Event, Trace


@pytest.fixture(scope="module")
def claim(tmp_path_factory) -> str:
    """The scenario file in a user's directory outside the repository: its path."""
    return str(user_files(tmp_path_factory.mktemp("user"), "claim_word.py") / "claim_word.py")


def _lost_update_script() -> list[Step]:
    """a and b both read the word free, both write it, a reads it again: b's claim won."""
    return [
        Step("a", "slot[0].r"),
        Step("b", "slot[0].r"),
        Step("a", "slot[0].w"),
        Step("b", "slot[0].w"),
        Step("a", "slot[0].r"),
        Step("b", "slot[0].r"),
    ]


def test_access_point_names_carry_the_word():
    points = access_points.all_points(["create"], ["slot", "threads"], ["pd0.alloc"])
    assert points[:5] == ["create", "slot[].r", "slot[].w", "threads[].r", "threads[].w"]
    assert points[5:] == ["pd0.alloc.acquire", "pd0.alloc.acquired", "pd0.alloc.release"]
    assert access_points.name(points, 4, 7) == "threads[7].w"
    assert access_points.name(points, 3, 1 + 4 * access_points.SLICE) == "threads[1:5].r"
    assert access_points.name(points, 0, 0) == "create"
    assert access_points.family("threads[12].w") == "threads[].w"
    assert access_points.family("threads[1:5].r") == "threads[].r"
    assert access_points.known(points, "slot[0].r") and not access_points.known(points, "x[0].r")


def test_access_words_act_like_the_view_they_wrap():
    buf = bytearray(8 * 4)
    view = memoryview(buf).cast("Q")
    seen = []
    w = AccessWords(view, 0, 0, 1, seen.append, None)
    w[1] = 5
    w[-1] = 2**64 - 1
    assert w[1] == 5 and list(w) == [0, 5, 0, 2**64 - 1] and 5 in w and len(w) == 4
    assert w[1:3] == [5, 0] and view.tolist() == [0, 5, 0, 2**64 - 1]
    with pytest.raises(IndexError):
        w[4]
    with pytest.raises(ValueError):
        w[0] = -1
    # one point an access: (word << 16 | id), a slice read's word is start | count << 24
    assert seen[:3] == [1 << 16 | 1, 3 << 16 | 1, 1 << 16 | 0]


def test_a_forced_access_level_order_exposes_a_check_then_act(claim, no_leftovers):
    from testbed.harness.loader import load
    from testbed.harness.run import RunOptions, run

    doc = run(
        RunOptions(
            load(claim), "racy", {}, ref=claim, rounds=1, point_level="access",
            script=_lost_update_script(),
        )
    )  # fmt: skip
    assert doc["verdict"] == "fail" and doc["outcomes"]["lost"] == 1, doc["reasons"]
    assert doc["config"]["points"] == "access"


def test_named_points_cannot_reach_the_window(claim, no_leftovers):
    from testbed.harness.loader import load
    from testbed.harness.run import RunOptions, run

    doc = run(
        RunOptions(load(claim), "racy", {}, ref=claim, rounds=1, script=_lost_update_script())
    )
    assert doc["verdict"] == "aborted" and "no schedule point 'slot[0].r'" in doc["reasons"][0]


def test_a_hand_written_access_level_trace_replays_and_fails(claim, no_leftovers):
    events = [Event(k, s.actor, "point", s.point) for k, s in enumerate(_lost_update_script())]
    trace = Trace(
        scenario="claim-word", source=claim, variant="racy", config={}, seed=1, actors=["a", "b"],
        outcome="lost", detected_by="a", rounds=1, order="stop", points="access", events=events,
    )  # fmt: skip
    r = testbed.replay(trace)
    assert r.document["replay"]["reproduced"] and r.outcomes["lost"] == 1, r.report()


def test_a_lock_is_an_access_point_and_a_deadlock_free_order_holds(claim, no_leftovers):
    from testbed.harness.loader import load
    from testbed.harness.run import RunOptions, run

    script = [
        Step("a", "slot.acquired"),
        Step("b", "slot.acquire"),
        Step("a", "slot.release"),
        Step("a", "finish"),
    ]
    doc = run(RunOptions(load(claim), "locked", {}, ref=claim, rounds=1, point_level="access",
                         script=script))  # fmt: skip
    assert doc["verdict"] == "pass" and doc["outcomes"]["lost"] == 0, doc["reasons"]
    assert doc["outcomes"] == {"claimed": 2, "taken": 0, "lost": 0}


def test_a_recorded_access_level_failure_replays(claim, tmp_path):
    r = cli(
        "stress", claim, "--variant", "racy", "--points", "access", "--perturb", "yield:0.5", "--pin", "same",
        "--duration", "30", "--max-failures", "1", "--trace-dir", str(tmp_path), "--seed", "3",
    )  # fmt: skip
    assert r.code == 1, r.err
    (path,) = r.doc["trace_files"][:1]
    t = Trace.load(path)
    assert t.points == "access"
    assert any(e.point == "slot[0].w" for e in t.events)
    again = cli("replay", "--trust-source", path, "--json", "-")
    assert '"reproduced": true' in again.out, again.err
    shown = cli("show", path, "--last", "20")
    assert shown.code == 0 and "slot[0]" in shown.out, shown.err


def test_bad_points_mode_is_refused_before_anything_runs(claim):
    r = cli("stress", claim, "--variant", "racy", "--points", "every")
    assert r.code == 2 and "--points 'every': expected one of named, access" in r.err


@pytest.mark.parametrize(
    "scenario,variant",
    [
        ("genode-race", "fixed"),
        ("genode-mutants", "bitalloc"),
        ("stack-overflow", "flat"),
        ("rtems-isolation", "unprotected"),
    ],
)
def test_built_in_scenarios_run_unchanged_under_access_points(scenario, variant):
    r = cli("stress", scenario, "--variant", variant, "--duration", "0.5", "--points", "access")
    assert r.code == 0 and r.doc["attempts"] > 0, r.err
