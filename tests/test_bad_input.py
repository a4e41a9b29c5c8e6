"""Bad input is a clear exit 2 before anything runs: output paths checked up front (nothing
created), and every malformed trace refused by `replay`, `show` and `minimize`."""

from __future__ import annotations

import json
import os

import pytest
from conftest import cli

CONFIG = {"pds": 1, "creators": 2, "children": 1, "stack_size": 16384}
TRACE = {
    "format": "testbed-trace", "version": 1, "scenario": "genode-race", "variant": "racy",
    "config": CONFIG, "seed": 1, "actors": ["pd0.main", "pd0.thread1"],
    "outcome": "region_conflict", "events": [
        {"ticket": 0, "actor": "pd0.main", "kind": "point", "point": "create"},
    ],
}  # fmt: skip


@pytest.fixture
def trace(tmp_path):
    def write(doc=None, text=None) -> str:
        path = tmp_path / "t.json"
        path.write_text(text if text is not None else json.dumps(doc))
        return str(path)

    return write


def output_cases(missing: str, trace: str) -> list[tuple[str, ...]]:
    stress = ("stress", "genode-race", "--variant", "racy", "--rounds", "1")
    return [
        (*stress, "--json", f"{missing}/r.json"),
        (*stress, "--core-log", f"{missing}/core.jsonl"),
        (*stress, "--trace-dir", f"{missing}/traces"),
        ("replay", trace, "--json", f"{missing}/r.json"),
        ("minimize", trace, "-o", f"{missing}/small.json"),
        ("show", trace, "--png", f"{missing}/t.png"),
        ("show", trace, "--svg", f"{missing}/t.svg"),
        ("demo", "--seconds", "0.1", "--json", f"{missing}/d.json"),
    ]


@pytest.mark.parametrize("case", range(8))
def test_an_output_in_a_missing_directory_is_exit_2_and_creates_nothing(case, tmp_path, trace):
    missing = tmp_path / "no" / "such"
    args = output_cases(str(missing), trace(TRACE))[case]
    r = cli(*args)
    assert r.code == 2, r.out + r.err
    assert f"{args[-2]} {args[-1]}: directory" in r.err.replace("-o/--output", "-o")
    assert "does not exist" in r.err
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--png", "a.txt"), "expected a file name ending in .png"),
        (("--png", "b.svg"), "expected a file name ending in .png"),
        (("--svg", "b.png"), "expected a file name ending in .svg"),
    ],
)
def test_show_refuses_a_picture_name_of_another_format(args, message, trace, tmp_path):
    r = cli("show", trace(TRACE), *args)
    assert r.code == 2 and message in r.err, r.err


def test_a_trace_dir_that_is_a_file_is_exit_2(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    r = cli("stress", "genode-race", "--variant", "racy", "--rounds", "1", "--trace-dir", str(f))
    assert r.code == 2 and "--trace-dir" in r.err and "is not a directory" in r.err


def deep(n: int) -> str:
    return "[" * n + "]" * n


MALFORMED = {
    "missing key": ({k: v for k, v in TRACE.items() if k != "actors"}, "actors: missing"),
    "list for a dict": (dict(TRACE, config=[1, 2]), "config [1, 2]: expected an object"),
    "dict for a list": (dict(TRACE, events={"a": 1}), "events {'a': 1}: expected a list"),
    "string for an int": (dict(TRACE, seed="1"), "seed '1': expected an integer"),
    "bool for an int": (dict(TRACE, rounds=True), "rounds True: expected an integer"),
    "negative": (dict(TRACE, seed=-1), "seed -1: expected 0.."),
    "above 2**64": (dict(TRACE, seed=1 << 70), "seed 1180591620717411303424: expected 0.."),
    "unknown field": (dict(TRACE, evil=1), "evil: unknown field"),
    "event not an object": (dict(TRACE, events=[3]), "events[0]: expected an object"),
    "event kind": (
        dict(TRACE, events=[{"ticket": 0, "actor": "pd0.main", "kind": "x"}]),
        "events[0].kind 'x'",
    ),
    "detail too big": (
        dict(TRACE, events=[{"ticket": 0, "actor": "core", "kind": "core",
                             "detail": {f"k{i}": i for i in range(17)}}]),
        "events[0].detail: 17 fields, expected at most 16",
    ),
    "nested config": (dict(TRACE, config=dict(CONFIG, pds=[1])), "config.pds [1]"),
    "actor names": (dict(TRACE, actors=[1, 2]), "actors: expected a list of names"),
    "pds above the CLI's range": (dict(TRACE, config=dict(CONFIG, pds=20)), "--pds 20: expected 1..16"),
    "config beyond the options": (dict(TRACE, config=dict(CONFIG, x=1)), "trace config x=1"),
    "children as a string": (dict(TRACE, config=dict(CONFIG, children="4")), "children='4'"),
    "unknown point": (
        dict(TRACE, events=[{"ticket": 0, "actor": "pd0.main", "kind": "point", "point": "x"}]),
        "has no schedule point 'x'",
    ),
    "unknown actor": (
        dict(TRACE, events=[{"ticket": 0, "actor": "ghost", "kind": "outcome", "point": "ok"}]),
        "actor 'ghost' is not one of",
    ),
    "unknown outcome": (
        dict(TRACE, events=[{"ticket": 0, "actor": "pd0.main", "kind": "outcome", "point": "x"}]),
        "has no outcome 'x'",
    ),
    "detected by nobody": (dict(TRACE, detected_by="nobody"), "detected_by 'nobody'"),
}  # fmt: skip


@pytest.mark.parametrize("name", MALFORMED)
@pytest.mark.parametrize("command", ["replay", "minimize"])
def test_a_malformed_trace_is_exit_2_naming_the_field(name, command, trace):
    doc, message = MALFORMED[name]
    r = cli(command, trace(doc))
    assert r.code == 2, r.out + r.err
    assert message in r.err, r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"format": "testbed-trace", "version": 1, "seed": ' + "9" * 5000 + "}", "JSON"),
        (deep(100_000), "JSON"),
        ("[]", "not a testbed trace"),
        ("\xff\xfe", "JSON"),
    ],
    ids=["5000 digits", "deep nesting", "a list", "not utf-8"],
)
def test_a_trace_that_does_not_parse_is_exit_2(text, message, trace):
    r = cli("replay", trace(text=text))
    assert r.code == 2 and message in r.err and "Traceback" not in r.err, r.err


def test_a_trace_too_large_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as f:  # sparse: no memory, no disk
        f.truncate(257 << 20)
    r = cli("replay", str(path))
    assert r.code == 2 and "expected at most" in r.err and "MiB" in r.err, r.err
    os.unlink(path)


@pytest.mark.parametrize(
    "command", ["scenarios", "stress genode-race", "replay", "minimize", "show", "demo", "clean"]
)
def test_every_command_help_states_its_exit_codes(command):
    r = cli(*command.split(), "--help")
    assert r.code == 0 and "exit codes: 0 " in r.out and "2 bad usage" in r.out, r.out
