"""`testbed explain` (issue 23): a user's lost update found by explore, shrunk by minimize to
one forced step, then told as a story: the two actors, the word, the values each saw or
wrote and the scenario file's own lines, at named and access points; a native actor's
accesses named by region and word, and by their C source lines; a trace that no longer reproduces is exit 3; bad input
exit 2; the story in the JSON and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import explore, run_cli, scenario_text, user_files, vary

from testbed.cli.main import main


def line_of(path: Path, snippet: str) -> int:
    """The number of the one line of `path` holding `snippet`."""
    (n,) = [k for k, line in enumerate(path.read_text().splitlines(), 1) if snippet in line]
    return n


@pytest.fixture(scope="module")
def user(tmp_path_factory) -> Path:
    return user_files(
        tmp_path_factory.mktemp("user"),
        "lost_update.py",
        "lock_order.py",
        "claim_c.c",
        "claim_c.py",
    )


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """Native libraries compile into a cache of this module's own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        mp.delenv("TESTBED_CACHE_DIR", raising=False)
        yield


def minimized(user: Path, scenario: str, *args: str) -> str:
    """The first failure explore finds, shrunk by `testbed minimize` (a path from `user`)."""
    code, doc = explore(user, scenario, *args)
    assert code == 1, doc["reasons"]
    trace = doc["trace_files"][0]
    out = trace.removesuffix(".json") + ".min.json"
    code, _, err = run_cli(user, "minimize", trace, "--trust-source", "-o", out)
    assert code == 0, err
    return out


def explained(user: Path, trace: str, capsys, monkeypatch, *args: str) -> tuple[int, dict, str]:
    """`testbed explain TRACE ARGS --json` in this process, from the user's directory."""
    monkeypatch.chdir(user)
    out = user / "story.json"
    code = main(["explain", trace, *args, "--json", str(out)])
    text = capsys.readouterr().out
    return code, json.loads(out.read_text()), text


@pytest.mark.parametrize("level", ["named", "access"])
def test_a_minimized_lost_update_is_told_with_the_scenario_s_lines(
    user, level, capsys, monkeypatch, no_leftovers
):
    trace = minimized(user, "lost_update.py", "--variant", "racy", "--points", level)
    # minimize's answer depends on the trace explore found first: one or two forced steps
    assert len(json.loads((user / trace).read_text())["events"]) <= 2
    code, doc, text = explained(user, trace, capsys, monkeypatch, "--trust-source")
    assert code == 0 and doc["verdict"] == "explained" and doc["command"] == "explain"
    story = doc["explain"]["story"]
    assert story["outcome"] == "one" and story["grade"] == "FORBIDDEN"
    assert story["words"] == ["x[0]"]
    lines = story["accesses"]
    read = line_of(user / "lost_update.py", "v = x[0]")
    write = line_of(user / "lost_update.py", "x[0] = v + 1")
    first, second = lines[0]["actor"], lines[1]["actor"]
    assert {first, second} == {"a", "b"}
    # both read 0; the second writes 1; the first writes 1 over it, never having seen it
    assert [(a["actor"], a["kind"], a["values"]) for a in lines] == [
        (first, "read", [0]), (second, "read", [0]),
        (second, "write", [1]), (first, "write", [1]),
    ]  # fmt: skip
    assert [a["was"] for a in lines if a["kind"] == "write"] == [[0], [1]]
    assert [a["at"]["line"] for a in lines] == [read, read, write, write]
    assert all(Path(a["at"]["file"]).name == "lost_update.py" for a in lines)
    assert "overwrites" in lines[3]["why"] and "stale" in lines[0]["why"]
    record = line_of(user / "lost_update.py", 'env.record("two"')
    assert story["recorded_at"]["line"] == record and story["recorded_at"]["function"] == "arbiter"
    assert story["final"] == {"x[0]": 1}
    assert f"lost_update.py:{read}" in text and f"lost_update.py:{write}" in text
    assert f"{first}  write x[0] = 1 (was 1)" in text
    # the steps: every note of the replay, each step one actor's
    steps = doc["explain"]["steps"]
    assert all(len({e["actor"] for e in s["events"]}) == 1 for s in steps)
    seqs = [e["seq"] for s in steps for e in s["events"]]
    assert seqs == sorted(seqs)

    # the story in the HTML report, linked from the failures table
    assert main(["report", str(user / "story.json"), "--html", str(user / "story.html")]) == 0
    page = (user / "story.html").read_text()
    assert 'href="#story-lost-update-racy-' in page
    # the commands it offers name the scenario file, as a trace from a user file needs
    assert f"explain: testbed explain {trace} --scenario " in page
    assert f"lost_update.py:{write}" in page and "(was 1)" in page


def test_an_atomicity_violation_is_told_across_its_two_words(
    user, capsys, monkeypatch, no_leftovers
):
    """lock_order.py: each stage under its own lock; the checker reads data[1] between the
    writer's two stages. data[0] no lock protects throughout; data[1] is always under lock2,
    so it joins the story as a protected word (the lock released in between)."""
    code, doc = explore(user, "lock_order.py", "--variant", "racy")
    assert code == 1
    code, doc, text = explained(user, doc["trace_files"][0], capsys, monkeypatch, "--trust-source")
    assert code == 0
    story = doc["explain"]["story"]
    assert story["words"] == ["data[0]", "data[1]"]
    assert story["groups"]["protected"] == ["data[1]"]
    seen = line_of(user / "lock_order.py", "seen[1] = data[1]")
    (check,) = [a for a in story["accesses"] if a["actor"] == "checker" and a["words"] == [1, 2]]
    assert check["values"] == [0] and check["at"]["line"] == seen and check["held"] == ["lock2"]
    (late,) = [a for a in story["accesses"] if a["kind"] == "write" and a["words"] == [1, 2]]
    assert late["actor"] == "writer" and late["n"] > check["n"] and late["values"] == [2]
    assert "writer writes it after" in check["why"]
    assert "every access of data[1] is under a lock" in text


def test_a_trace_that_no_longer_reproduces_tells_no_story(user, capsys, monkeypatch, no_leftovers):
    trace = minimized(user, "lost_update.py", "--variant", "racy")
    fixed = user / "fixed.py"  # the write reads again: the forced order now ends in "two"
    fixed.write_text(vary(scenario_text("lost_update.py"), "x[0] = v + 1", "x[0] = x[0] + 1"))
    code, doc, text = explained(user, trace, capsys, monkeypatch, "--scenario", str(fixed))
    assert code == 3 and doc["explain"] is None and doc["verdict"] == "not-reproduced"
    assert "did not reproduce" in text and "two" in text and "x[0]" not in text


def test_a_native_actor_s_accesses_are_named_by_region_word_and_c_line(
    user, capsys, monkeypatch, no_leftovers
):
    code, doc = explore(user, "claim_c.py", "--variant", "racy", "--points", "access")
    assert code == 1
    code, doc, text = explained(user, doc["trace_files"][0], capsys, monkeypatch, "--trust-source")
    assert code == 0
    story = doc["explain"]["story"]
    assert story["words"] == ["slot[0]"] and story["outcome"] == "stolen"
    actors = {a["actor"] for a in story["accesses"]}
    assert actors == {"a0", "a1"}
    assert any(a["kind"] == "write" for a in story["accesses"])
    # the C lines, from the -g build's debug information (addr2line)
    check = line_of(user / "claim_c.c", "int free = tb_load(env, &slot[0]) == 0;")
    claim = line_of(user / "claim_c.c", "tb_store(env, &slot[0], me);")
    first = story["accesses"][:4]
    assert [(a["kind"], a["at"]["line"]) for a in first] == [
        ("read", check), ("read", check), ("write", claim), ("write", claim),
    ]  # fmt: skip
    assert all(a["at"]["native"] and a["at"]["file"].endswith("claim_c.c") for a in first)
    assert f"claim_c.c:{check}" in text and f"claim_c.c:{claim}" in text
    assert "overwrites" in first[3]["why"]
    assert story["recorded_at"] == {"native": True}  # tb_record: no line of its own
    assert "recorded stolen at native: no source line" in text
    assert story["unseen"] == []


def test_at_named_points_a_native_actor_s_accesses_are_said_unseen(
    user, capsys, monkeypatch, no_leftovers
):
    code, doc = explore(user, "claim_c.py", "--variant", "racy")
    assert code == 1
    code, doc, text = explained(user, doc["trace_files"][0], capsys, monkeypatch, "--trust-source")
    assert code == 0
    assert doc["explain"]["story"]["unseen"] == ["a0", "a1"]
    assert "not seen: a0" in text and "--points access" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.json"], "missing.json"),
        (["T", "--lock-timeout", "0"], "--lock-timeout 0: expected 0 < seconds <= 3600"),
        (["T"], "--scenario PATH"),
    ],
)
def test_bad_input_exits_2_naming_it(user, args, message, capsys, monkeypatch):
    monkeypatch.chdir(user)
    trace = {"format": "testbed-trace", "version": 1, "scenario": "lost-update",
             "variant": "racy", "config": {}, "seed": 1, "actors": ["a", "b"], "outcome": "one",
             "detected_by": "a", "complete": True, "rounds": 1, "iteration": 0, "order": "step",
             "points": "named", "testbed_version": "0.3.0", "source": str(user / "lost_update.py"),
             "events": [{"ticket": 1, "actor": "b", "kind": "point", "point": "write"}]}  # fmt: skip
    (user / "T").write_text(json.dumps(trace))
    assert main(["explain", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_trace_of_two_pds_is_told_though_no_actor_maps_the_other_pds_regions(
    user, capsys, monkeypatch
):
    """genode-race's thread lists are each PD's own (Scenario.pd_owned): an actor's notes
    hold the regions it reaches, and the story the accesses of each PD to its own list."""
    code, doc, err = run_cli(
        user, "stress", "genode-race", "--variant", "racy", "--pds", "2", "--max-failures", "1",
        "--duration", "30", "--iterate", "--json", "-",  # a trace of one iteration: short
    )  # fmt: skip
    assert doc is not None and doc["trace_files"], err
    code, doc, _ = explained(user, doc["trace_files"][0], capsys, monkeypatch)
    assert code == 0 and doc["verdict"] == "explained"
    events = [e for s in doc["explain"]["steps"] for e in s["events"] if e.get("region")]
    touched = {(e["actor"][:3], e["region"][:3]) for e in events}  # (pdN, pdN)
    assert touched and all(actor == region for actor, region in touched)
    # core's requests read in the scenario's names (Scenario.core_event), not as numbers
    cores = [e for s in doc["explain"]["steps"] for e in s["events"] if e["kind"] == "core"]
    assert cores and {"ram_alloc", "attach_at"} <= {e["op_name"] for e in cores}
    assert all(e["status_name"] for e in cores)


def test_a_deadlock_is_told_by_its_locks_and_their_lines(tmp_path, capsys, monkeypatch):
    """A lock-order inversion: each actor's acquire of the lock it holds and its wait for
    the other's, with the lines of the `with` statements, and the cycle."""
    user = user_files(tmp_path, "inversion.py")
    code, doc = explore(user, "inversion.py", "--variant", "v")
    assert code == 1 and doc["failures"][0]["outcome"] == "deadlock", doc["reasons"]
    code, doc, text = explained(user, doc["failures"][0]["trace_file"], capsys, monkeypatch,
                                "--trust-source")  # fmt: skip
    assert code == 0 and doc["verdict"] == "explained"
    story = doc["explain"]["story"]
    first = line_of(user / "inversion.py", "with first:")
    second = line_of(user / "inversion.py", "with second:")
    lines = [(a["actor"], a["kind"], a["lock"], a["at"]["line"]) for a in story["accesses"]]
    holds = {a: lock for a, kind, lock, _ in lines if kind == "acquire"}
    assert holds == {"a": "x", "b": "y"}
    assert sorted(lines) == [
        ("a", "acquire", "x", first), ("a", "wait", "y", second),
        ("b", "acquire", "y", first), ("b", "wait", "x", second),
    ]  # fmt: skip
    assert [kind for _, kind, _, _ in lines][-1] == "wait"  # each acquired before any waits
    assert sorted(story["cycle"]) == ["a waits for y, held by b", "b waits for x, held by a"]
    assert "no actor can move" in text and f"inversion.py:{second}" in text
