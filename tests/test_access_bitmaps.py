"""Bitmaps and atomic words reached by address (`env.bitmap`, `env.atomic`): under `--points
access` each operation is a schedule point, recorded in the same C call as the operation, so
a window between two C calls (first_clear, then set_range) is explored and replays exactly;
under `--points named` it stays invisible."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import explore, run_cli, user_files

import testbed
from testbed.harness.access import AccessAtomic, AccessBitmap
from testbed.ipc.native import address_of
from testbed.trace import access_points
from testbed.trace.trace import Event, Trace


@pytest.fixture
def user(tmp_path: Path) -> Path:
    """A user's directory outside the repository, holding the scenario file."""
    return user_files(tmp_path, "reserve.py")


def test_bitmap_and_atomic_operations_are_points_named_after_their_words():
    buf = bytearray(8 * 4)
    seen: list[int] = []
    bm = AccessBitmap(address_of(buf), 200, 0, 1, seen.append, None)
    assert bm.first_clear(3, 100) == 3
    bm.set_range(60, 10)  # words 0 and 1
    assert bm.count() == 10 and bm.first_set(0, 200) == 60 and bm.any_set(64, 6)
    bm.clear_range(60, 4)
    assert bm.first_set(0, 200) == 64
    with pytest.raises(IndexError):
        bm.set_range(199, 2)
    points = ["bits[].r", "bits[].w"]
    names = [access_points.name(points, c & 0xFFFF, c >> 16) for c in seen]
    assert names == [
        "bits[0:2].r", "bits[0:2].w", "bits[0:4].r", "bits[0:4].r", "bits[1].r",
        "bits[0].w", "bits[0:4].r",
    ]  # fmt: skip
    seen.clear()
    word = AccessAtomic(address_of(buf), 3, 0, 1, seen.append, None)
    word.store(7)
    assert word.cas(7, 9) == 7 and word.cas(7, 11) == 9 and word.fetch_add(2**40) == 9
    assert word.load() == 9 + 2**40
    assert [access_points.name(points, c & 0xFFFF, c >> 16) for c in seen] == [
        "bits[3].w", "bits[3].w", "bits[3].w", "bits[3].w", "bits[3].r",
    ]  # fmt: skip
    # every access reads its words; a write point (a CAS, a bit range) may write them too
    assert access_points.words("bits[0:2].w") == ("bits", range(0, 2), True)
    assert access_points.words("bits[3].r") == ("bits", range(3, 4), False)


def test_explore_finds_a_double_reservation_between_two_c_calls_and_it_replays(user):
    code, doc = explore(user, "reserve.py", "--variant", "racy", "--points", "access")
    assert code == 1, doc["reasons"]
    failure = doc["failures"][0]
    assert failure["outcome"] == "double" and failure["preemptions"] <= 1
    trace = Trace.load(user / failure["trace_file"])
    assert {"bits[0].r", "bits[0].w", "owners[0].w"} <= {e.point for e in trace.events}
    code, replayed, err = run_cli(
        user, "replay", "--trust-source", failure["trace_file"], "--json", "-"
    )
    assert code == 0 and replayed["replay"]["reproduced"], err


def test_named_points_cannot_see_the_window_and_the_lock_closes_it(user):
    code, doc = explore(user, "reserve.py", "--variant", "racy", "--points", "named")
    assert (code, doc["verdict"], doc["complete"]) == (0, "pass", True), doc["reasons"]
    code, doc = explore(user, "reserve.py", "--variant", "locked", "--points", "access")
    assert (code, doc["verdict"], doc["complete"]) == (0, "pass", True), doc["reasons"]
    assert doc["outcomes"]["double"] == 0


def test_a_hand_written_bitmap_and_cas_trace_replays(user, no_leftovers):
    """Both actors find bit 0 clear before either sets it; the second fetch_add sees 1."""
    script = [
        ("a", "bits[0].r"), ("b", "bits[0].r"), ("a", "bits[0].w"), ("b", "bits[0].w"),
        ("a", "owners[0].w"), ("b", "owners[0].w"), ("a", "finish"), ("b", "finish"),
    ]  # fmt: skip
    trace = Trace(
        scenario="reserve", source=str(user / "reserve.py"), variant="racy", config={},
        seed=1, actors=["a", "b"], outcome="double", detected_by="b", rounds=1,
        order="stop", points="access",
        events=[Event(k, a, "point", p) for k, (a, p) in enumerate(script)],
    )  # fmt: skip
    r = testbed.replay(trace)
    assert r.document["replay"]["reproduced"] and r.outcomes["double"] == 1, r.report()


def test_a_recorded_bitmap_failure_replays(user):
    """Recording: the C call that does the operation takes its ticket."""
    code, doc, err = run_cli(
        user, "stress", "reserve.py", "--variant", "racy", "--points", "access",
        "--perturb", "yield:0.5", "--pin", "same", "--duration", "60", "--max-failures", "1",
        "--seed", "3", "--json", "-",
    )  # fmt: skip
    assert code == 1, err
    path = doc["trace_files"][0]
    assert any(e.point == "bits[0].w" for e in Trace.load(user / path).events)
    code, replayed, err = run_cli(user, "replay", "--trust-source", path, "--json", "-")
    assert code == 0 and replayed["replay"]["reproduced"], err


@pytest.mark.parametrize("points", ["named", "access"])
def test_a_bitmap_of_an_undeclared_region_is_a_config_error_naming_it(user, points):
    code, doc, err = run_cli(
        user, "stress", "reserve.py", "--variant", "undeclared", "--points", points,
        "--rounds", "1", "--json", "-",
    )  # fmt: skip
    assert code == 3 and doc is not None, err
    assert (
        "ConfigError: region 'bitz' is not declared by regions(config): bits, owners"
        in (doc["reasons"][0])
    )


@pytest.mark.parametrize(
    "variant, children",
    [("bit_unlocked", "1"), ("aba_free_stack", "2")],
)
def test_explore_finds_the_mutants_between_c_calls(variant, children, tmp_path):
    code, doc = explore(
        tmp_path, "genode-mutants", "--variant", variant, "--children", children,
        "--points", "access", "--preemptions", "2", "--max-schedules", "3000",
    )  # fmt: skip
    assert code == 1, doc["reasons"]
    assert doc["failures"][0]["outcome"] == "region_conflict"


def test_main_children_out_of_range_is_refused_naming_it(tmp_path):
    code, _, err = run_cli(
        tmp_path, "explore", "genode-mutants", "--variant", "unlocked_insert",
        "--main-children", "2000",
    )  # fmt: skip
    assert code == 2 and "--main-children 2000: expected 1..1024" in err, err
    assert "Traceback" not in err


def test_perturbation_does_not_move_the_bodys_random_draws(tmp_path, no_leftovers):
    """Perturbation draws from its own generator: with or without it, the same seed gives
    the body the same numbers (what a replay, which runs unperturbed, relies on)."""
    from testbed.harness.loader import load
    from testbed.harness.run import RunOptions, run

    path = user_files(tmp_path, "draws.py") / "draws.py"
    scenario = load(str(path))
    drawn = {
        perturb: run(
            RunOptions(scenario, "only", {}, ref=str(path), seed=5, rounds=1, perturb=perturb)
        )["drawn"]
        for perturb in ("none", "yield:1.0", "auto")
    }
    assert drawn["none"] == drawn["yield:1.0"] == drawn["auto"] and any(drawn["none"])
