"""Issue 20: input a user did not write, and processes that misbehave. A trace is data (show
imports nothing, replay runs only a scenario the user names); trace files are regular files;
an actor that ends inside its body is exit 3; declarations and values that slipped through
are exit 2 naming the value and its range, before anything starts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import cli, run_cli

SCENARIOS = Path(__file__).resolve().parent / "scenarios"

# a scenario file that writes a file when imported: the proof that something ran it
WRITES_ON_IMPORT = """
from pathlib import Path
Path(__file__).with_name("IMPORTED").write_text("ran")
from testbed import Grade, Outcome, Scenario


class Evil(Scenario):
    name = "evil"
    variants = {"v": "v"}
    points = ("p",)
    outcomes = (Outcome("bad", "bad", {"v": Grade.FORBIDDEN}),)

    def actors(self, config):
        return [("a", {})]

    def run_actor(self, env, actor):
        env.point("p")
        env.record("bad")


SCENARIO = Evil()
"""


def _evil_trace(tmp_path: Path) -> tuple[Path, Path]:
    """A trace whose source is a file that writes IMPORTED next to itself when imported."""
    src = tmp_path / "evil.py"
    src.write_text(WRITES_ON_IMPORT)
    from testbed.trace.trace import Event, Trace

    trace = Trace(
        scenario="evil", variant="v", config={}, seed=1, actors=["a"], outcome="bad",
        detected_by="a", source=str(src),
        events=[Event(1, "a", "point", "p"), Event(2, "a", "outcome", "bad")],
    )  # fmt: skip
    return trace.save(tmp_path / "evil.json"), tmp_path / "IMPORTED"


def test_show_of_a_trace_whose_source_writes_a_file_writes_nothing(tmp_path):
    trace, marker = _evil_trace(tmp_path)
    r = cli("show", str(trace), "--svg", str(tmp_path / "t.svg"))
    assert r.code == 0, r.err
    assert not marker.exists()


@pytest.mark.parametrize("command", ["replay", "minimize"])
def test_replay_and_minimize_refuse_a_source_the_user_did_not_name(tmp_path, command):
    trace, marker = _evil_trace(tmp_path)
    r = cli(command, str(trace))
    assert r.code == 2, r.out + r.err
    assert "--scenario PATH" in r.err and "--trust-source" in r.err and str(tmp_path) in r.err
    assert not marker.exists()


def test_replay_runs_the_scenario_the_user_names(tmp_path):
    trace, marker = _evil_trace(tmp_path)
    r = cli("replay", str(trace), "--scenario", str(tmp_path / "evil.py"), "--json", "-")
    assert r.code == 0, r.out + r.err
    assert marker.exists()  # the user named it: it ran


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory", "empty"])
def test_a_trace_that_is_no_regular_file_is_exit_2_at_once(tmp_path, kind):
    path = tmp_path / "t.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_text("")
    for command in ("show", "replay"):
        r = cli(command, str(path), timeout=20)
        assert r.code == 2, r.out + r.err
        assert ("not a regular file" if kind != "empty" else "empty") in r.err


@pytest.mark.parametrize("variant", ["sys_exit", "os_exit"])
def test_an_actor_that_ends_inside_its_body_is_exit_3_named(tmp_path, variant):
    shutil.copy(SCENARIOS / "early_exit.py", tmp_path)
    code, doc, err = run_cli(
        tmp_path, "stress", "early_exit.py", "--variant", variant, "--rounds", "1", "--json", "-"
    )
    assert code == 3, err
    assert "quitter" in doc["reasons"][0]
    assert ("sys.exit(0)" if variant == "sys_exit" else "before its body returned") in doc[
        "reasons"
    ][0]


def test_an_actor_whose_body_returns_passes(tmp_path):
    shutil.copy(SCENARIOS / "early_exit.py", tmp_path)
    code, doc, err = run_cli(
        tmp_path, "stress", "early_exit.py", "--variant", "returns", "--rounds", "1", "--json", "-"
    )
    assert code == 0, err


@pytest.mark.parametrize(
    "variant, words",
    [
        ("negative_region", ["'r' of -1 words", "0..268435456"]),
        ("huge_region", [f"'r' of {1 << 61} words", "0..268435456"]),
        ("control_region", ["'control'", "taken"]),
        ("twin_actors", ["actor name 'a' declared twice"]),
        ("too_many_actors", ["100000 actors", "1..256"]),
    ],
)
def test_bad_declarations_are_exit_2_before_anything_starts(tmp_path, variant, words):
    shutil.copy(SCENARIOS / "bad_declarations.py", tmp_path)
    code, _, err = run_cli(tmp_path, "stress", "bad_declarations.py", "--variant", variant)
    assert code == 2, err
    assert "Traceback" not in err
    for w in words:
        assert w in err


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ["stress", "genode-race", "--variant", "racy", "--lock-timeout", "nan"],
            ["--lock-timeout nan", "3600"],
        ),
        (
            ["stress", "genode-race", "--variant", "racy", "--json", "/dev/full"],
            ["/dev/full", "not a regular file"],
        ),
        (
            ["stress", "genode-race", "--variant", "racy", "--pds", "16", "--creators", "32"],
            ["512 actors", "1..256"],
        ),
    ],
)
def test_values_that_slipped_through_are_exit_2(args, words):
    r = cli(*args, "--rounds", "1")
    assert r.code == 2, r.out + r.err
    assert "Traceback" not in r.err
    for w in words:
        assert w in r.err


def test_replay_lock_timeout_out_of_range_is_exit_2(tmp_path):
    trace, _ = _evil_trace(tmp_path)
    for bad in ("-1", "nan", "0"):
        r = cli("replay", str(trace), "--lock-timeout", bad)
        assert r.code == 2 and f"--lock-timeout {bad}" in r.err and "3600" in r.err, r.err
        assert "Traceback" not in r.err


def test_a_trace_over_the_event_bound_is_refused_before_it_is_all_read(tmp_path):
    """The events are read one at a time: the one over the bound stops the load, so what
    follows it (here text that is no JSON) is never parsed."""
    from testbed.trace import trace as T

    head = {"format": T.FORMAT, "version": T.VERSION, "scenario": "genode-race",
            "variant": "racy", "config": {}, "seed": 1, "actors": ["a"], "outcome": "x"}  # fmt: skip
    event = '{"ticket":0,"actor":"a","kind":"point"}'
    path = tmp_path / "big.json"
    with path.open("w") as f:
        f.write(json.dumps(head)[:-1] + ',"events":[')
        f.write(",".join([event] * (T.MAX_EVENTS + 1)))
        f.write(",this is no JSON]}")
    r = cli("show", str(path))
    assert r.code == 2 and f"more than {T.MAX_EVENTS:,} events" in r.err, r.err
    assert "Traceback" not in r.err


def test_loading_takes_memory_of_the_order_of_the_file(tmp_path):
    """A trace's events are read one at a time, never as a list of dicts of the whole
    document (about 7 times the file's size; json.loads alone takes 6.8 times, measured by
    bench/trace_load.py): the text and its events take under 3.5 times the file's size."""
    import tracemalloc

    from testbed.bench.trace_load import write_trace
    from testbed.trace.trace import Trace

    path = tmp_path / "t.json"
    size = write_trace(path, 100_000)
    tracemalloc.start()
    try:
        trace = Trace.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(trace.events) == 100_000
    assert peak < 3.5 * size, f"{peak / size:.2f} times the file's size"
