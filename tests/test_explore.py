"""`testbed explore`: exact schedule counts on a scenario small enough to count by hand, the
Genode variants, replayable failures, deadlocks, and the exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import explore, run_cli, user_files

import testbed
from testbed.explorer.reduction import Footprint, independent, reads_at

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return user_files(tmp_path, "tiny.py")


def explore_here(cwd: Path, variant: str, **options) -> dict:
    """`testbed.explore` in this process (its forkserver stays up between runs)."""
    options = dict(options, seed=1, trace_dir=str(cwd / "traces"))
    return testbed.explore(str(cwd / "tiny.py"), variant=variant, **options).document


@pytest.mark.parametrize(
    "bound, reduce, schedules, pruned, lost",
    [(0, False, 2, 0, 0), (1, False, 4, 0, 2), (2, False, 6, 0, 4),
     (0, True, 2, 0, 0), (1, True, 3, 1, 1), (2, True, 4, 1, 2)],
)  # fmt: skip
def test_exact_counts_of_a_scenario_counted_by_hand(
    tiny, bound, reduce, schedules, pruned, lost, no_leftovers
):
    """Each actor of `shared` takes two steps: a->b reads the word (writes nothing), b->end
    writes it. With A = t0 and B = t1 there are C(4,2) = 6 orders; preemptions (switching
    away from an actor that could go on): AABB 0, BBAA 0, ABBA 1, BAAB 1, ABAB 2, BABA 2.
    So the bound K = 0, 1, 2 gives 2, 4, 6 schedules, and the update is lost whenever both
    read before either writes: 0, 2 (ABBA, BAAB), 4 of them.

    With sleep sets the two reads commute (neither step writes anything): BA.. is AB..
    with its first two steps swapped, so once the dfs has explored A first at the root, B
    first puts A to sleep, and at the next step A stays asleep (pruned 1) until B writes.
    K=2: AABB, ABBA, ABAB, BBAA (4; BAAB ~ ABAB and BABA ~ ABBA pruned); K=1: AABB, ABBA,
    BBAA (3); K=0: AABB, BBAA (2, B after B costs nothing, A asleep costs a preemption
    anyway: nothing pruned)."""
    how = {"reduction": "sleep-sets"} if reduce else {"no_reduce": True}
    doc = explore_here(tiny, "shared", preemptions=bound, max_failures=0, **how)
    code = doc["exit_code"]
    assert (doc["schedules"], doc["pruned"], doc["complete"]) == (schedules, pruned, True)
    assert doc["outcomes"] == {"ok": schedules - lost, "lost_update": lost}
    assert doc["sleep_blocked"] == 0 and doc["steps"] == 4 * schedules
    assert len(doc["failures"]) == lost and code == (1 if lost else 0)
    assert doc["reduction"] == ("sleep-sets" if reduce else "none")


def test_a_found_failure_replays_and_the_budget_gives_exit_4(tiny):
    code, doc = explore(tiny, "tiny.py", "--variant", "shared", "--preemptions", "1")
    assert code == 1 and doc["verdict"] == "fail" and not doc["complete"]
    (failure,) = doc["failures"]
    assert (failure["outcome"], failure["grade"], failure["preemptions"]) == (
        "lost_update",
        "FORBIDDEN",
        1,
    )
    code, replayed, _ = run_cli(
        tiny, "replay", "--trust-source", failure["trace_file"], "--json", "-"
    )
    assert code == 0 and replayed["replay"]["reproduced"]
    # steps a second: explore's over its search, replay's over the steps it let actors take
    assert doc["steps_per_s"] == pytest.approx(doc["steps"] / doc["elapsed_s"])
    run = replayed["controlled"]
    assert replayed["replay"]["steps_run"] == run["steps"] >= replayed["replay"]["steps"] > 0
    assert replayed["replay"]["steps_per_s"] == pytest.approx(run["steps"] / run["elapsed_s"])

    # `apart` never loses an update: 6 schedules at K=2; a budget of 5 stops it short
    code, doc = explore(
        tiny, "tiny.py", "--variant", "apart", "--no-reduce", "--max-schedules", "5"
    )
    assert (code, doc["verdict"], doc["complete"], doc["schedules"]) == (4, "incomplete", False, 5)
    code, doc = explore(
        tiny, "tiny.py", "--variant", "apart", "--no-reduce", "--max-schedules", "6"
    )
    assert (code, doc["verdict"], doc["complete"], doc["schedules"]) == (0, "pass", True, 6)


def test_a_deadlock_is_an_outcome_with_its_cycle_and_replays(tiny):
    code, doc = explore(tiny, "tiny.py", "--variant", "abba", "--preemptions", "0")
    # without a preemption each takes both locks: two orders, one run to its end and the
    # other shown equivalent by the sleep sets (counted apart)
    assert code == 0 and doc["schedules"] + doc["sleep_blocked"] == 2
    code, doc = explore(tiny, "tiny.py", "--variant", "abba", "--preemptions", "1")
    assert code == 1
    (failure,) = doc["failures"]
    assert failure["outcome"] == "deadlock"
    assert sorted(failure["cycle"]) == [
        "t0 waits for l1, held by t1",
        "t1 waits for l0, held by t0",
    ]
    code, replayed, err = run_cli(
        tiny, "replay", "--trust-source", failure["trace_file"], "--json", "-"
    )
    assert code == 0 and replayed["replay"]["reproduced"], err


def test_a_scenario_that_is_not_deterministic_aborts_naming_the_step(tiny):
    """Seen when a schedule replays a prefix and goes elsewhere: the sleep sets' dfs replays
    step 0 to try the other actor at step 1. (DPOR replays no prefix where no two steps race,
    as here: it checks only its repeats of an earlier round's schedules.)"""
    code, doc = explore(tiny, "tiny.py", "--variant", "stateful", "--reduction", "sleep-sets")
    assert code == 3 and doc["verdict"] == "aborted"
    assert "not deterministic" in doc["reasons"][0] and "step 1" in doc["reasons"][0]


@pytest.mark.parametrize("variant", ["racy", "quickfix"])
def test_genode_race_is_found_and_its_trace_replays(variant, tmp_path):
    code, doc = explore(
        tmp_path, "genode-race", "--variant", variant, "--children", "1",
        "--require", "region_conflict",
    )  # fmt: skip
    assert code == 0, doc["reasons"]  # the required outcome seen: exit 0, as in stress
    assert doc["verified"]["verdict"] == "reproduced"
    (failure,) = doc["failures"]
    assert failure["outcome"] == "region_conflict" and failure["preemptions"] <= 2
    code, replayed, err = run_cli(
        tmp_path, "replay", "--trust-source", failure["trace_file"], "--json", "-"
    )
    assert code == 0 and replayed["replay"]["reproduced"], err


@pytest.mark.parametrize("variant", ["fixed", "bitalloc"])
def test_genode_fixes_complete_at_two_preemptions(variant, tmp_path):
    """2 creators x 1 child, every schedule with at most 2 preemptions: no region_conflict."""
    code, doc = explore(tmp_path, "genode-race", "--variant", variant, "--children", "1")
    assert (code, doc["verdict"], doc["complete"]) == (0, "pass", True), doc["reasons"]
    assert doc["outcomes"]["region_conflict"] == 0 and doc["schedules"] >= 10
    assert doc["outcomes"]["ok"] == doc["schedules"]  # sleep-blocked ones counted apart


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preemptions", "11"], "--preemptions 11: expected 0..10"),
        (["--max-schedules", "0"], "--max-schedules 0: expected 1..1000000000"),
        (["--strategy", "bfs"], "--strategy 'bfs': expected one of dfs, random, pct, pos"),
        (["--points", "words"], "--points 'words': expected one of named, access"),
        (["--require", "nope"], "--require 'nope': expected one of ok, lost_update"),
        (["--max-steps", "0"], "--max-steps 0: expected 1..1000000"),
        (["--preemptions", "all"], "--preemptions 'all': expected 0..10 or none"),
        (["--reduction", "por"], "--reduction 'por': expected one of sleep-sets, dpor, none"),
        (["--strategy", "pct", "--preemptions", "none"], "--preemptions none: pct needs"),
        (["--no-reduce", "--reduction", "dpor"], "--no-reduce with --reduction dpor: give one"),
        (
            ["--strategy", "random", "--reduction", "none"],
            "--reduction none with --strategy random",
        ),
    ],
)
def test_bad_options_exit_2_naming_the_value(tiny, args, message):
    code, _, err = run_cli(tiny, "explore", "tiny.py", "--variant", "shared", *args)
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("strategy", ["random", "pct", "pos", "rff", "auto"])
def test_samplers_find_the_lost_update_and_never_complete(tiny, strategy, no_leftovers):
    doc = explore_here(tiny, "shared", strategy=strategy, max_schedules=200)
    assert doc["exit_code"] == 1 and doc["failures"][0]["outcome"] == "lost_update"
    doc = explore_here(tiny, "apart", strategy=strategy, max_schedules=20)
    assert (doc["exit_code"], doc["complete"], doc["schedules"]) == (4, False, 20)
    assert doc["distinct_schedules"] <= 6


def test_access_points_explore_the_words_and_the_failure_replays(tiny):
    """At access level the read and the write of the shared word are points of their own:
    the lost update is found and its trace replays at that granularity; `apart` is complete
    with more schedules than its 6 of named points (every word access and lock op a step)."""
    code, doc = explore(tiny, "tiny.py", "--variant", "shared", "--points", "access")
    assert code == 1 and doc["points"] == "access"
    failure = doc["failures"][0]
    assert failure["outcome"] == "lost_update"
    code, replayed, _ = run_cli(
        tiny, "replay", "--trust-source", failure["trace_file"], "--json", "-"
    )
    assert code == 0 and replayed["replay"]["reproduced"]
    code, doc = explore(tiny, "tiny.py", "--variant", "apart", "--points", "access", "--no-reduce")
    assert (code, doc["verdict"], doc["complete"]) == (0, "pass", True)
    assert doc["schedules"] > 6


@pytest.mark.parametrize(
    "variant, schedules, pruned, sleep_blocked, steps",
    [("own", 1, 4, 2, 4 + 3 + 2), ("same", 4, 1, 0, 4 * 4)],
)
def test_access_points_give_reads_and_the_sleep_sets_prune_by_word(
    tmp_path, variant, schedules, pruned, sleep_blocked, steps, no_leftovers
):
    """Each actor is launched to its first point, `words[i].r`; its step a1 from there
    reads word i (and writes nothing), its step a2 from `words[i].w` reads and writes word i
    and ends. Four steps, C(4,2) = 6 orders at K=2 (test above). A step parked at an access
    point reads exactly its words, so in `own` every step of t0 (A) commutes with every step
    of t1 (B): one class of orders. The dfs runs AABB; backtracks to B after A (A, carrying
    a2, sleeps: B goes on, pruned 1; at the end only A can go and it sleeps: pruned 1,
    sleep-blocked); then B first (A, carrying a1, sleeps: pruned 1 at B's second step, 1 at
    the end, sleep-blocked): 1 schedule run to its end (`schedules`), 4 pruned, 2
    sleep-blocked (dropped repeats, counted apart, not in the budget).
    In `same` both read word 0 and write it: only the two reads commute, as with unknown
    reads (a named point), and the counts are those of the test above at K=2: 4, 1, 0."""
    user_files(tmp_path, "words.py")
    doc = testbed.explore(
        str(tmp_path / "words.py"), variant=variant, points="access", seed=1,
        max_failures=0, trace_dir=str(tmp_path / "traces"), reduction="sleep-sets",
    ).document  # fmt: skip
    assert (doc["schedules"], doc["pruned"], doc["sleep_blocked"]) == (
        schedules, pruned, sleep_blocked,
    )  # fmt: skip
    assert (doc["complete"], doc["exit_code"], doc["steps"]) == (True, 0, steps)
    assert doc["outcomes"] == {"ok": schedules, "lost_update": 0, "v2": 0, "v3": 0}


def test_reads_are_known_at_access_points_only():
    """A step parked at an access point reads its words (`.w` too: a CAS reads them); at a
    lock's point, the lock; at a named point (or its start) nothing is known."""
    assert reads_at("words[1].r", ["l0"]) == {("words", 1)}
    assert reads_at("words[1:3].r", ["l0"]) == {("words", 1), ("words", 2)}
    assert reads_at("words[0].w", ["l0"]) == {("words", 0)}
    assert reads_at("l0.acquire", ["l0"]) == reads_at("l0.release", ["l0"]) == {("lock", "l0")}
    assert reads_at("search.slot", ["l0"]) is None and reads_at("", ["l0"]) is None
    write0 = Footprint(frozenset({("words", 0)}), frozenset({("words", 0)}))
    read1 = Footprint(frozenset(), frozenset({("words", 1)}))
    unknown = Footprint(frozenset())
    assert independent(write0, read1) and independent(read1, unknown)
    assert not independent(write0, unknown)
    assert not independent(write0, Footprint(frozenset(), frozenset({("words", 0)})))


@pytest.mark.parametrize(
    "variant, reduction, schedules, pruned, sleep_blocked",
    [("own", "dpor", 1, 2, 0), ("own", "sleep-sets", 1, 4, 2), ("own", "none", 6, 0, 0),
     ("same", "dpor", 4, 1, 0), ("same", "sleep-sets", 4, 1, 0),
     ("three", "dpor", 1, 6, 0), ("three", "sleep-sets", 1, 28, 8)],
)  # fmt: skip
def test_dpor_runs_one_schedule_a_class_with_no_bound(
    tmp_path, variant, reduction, schedules, pruned, sleep_blocked, no_leftovers
):
    """`--preemptions none`: every schedule (two actors of two steps need at most 2
    preemptions, so the sleep sets give the counts of the test above). Source-set DPOR
    starts each node with one actor and adds another only for a race. In `own` nothing
    races: AABB alone (pruned: B at the first two nodes, never tried). In `same` the
    races of AABB (a2 writes word 0 that b1 reads) ask for B after a1; ABBA's (b2 and a2
    both write it; a1 read what b2 writes) for A after a1 b1 and for B at the root; ABAB
    adds nothing; BBAA is B's: A sleeps after b1 (a1 commutes with b1) until b2, and the
    race of b2 with a1 asks for A where it sleeps (pruned 1). 4 schedules, one a class of
    equivalent orders. `three` (nothing races, 90 orders): DPOR 1 (pruned: 2 + 2 + 1 + 1
    actors never tried on the way), the sleep sets 1 and 8 sleep-blocked."""
    user_files(tmp_path, "words.py")
    doc = testbed.explore(
        str(tmp_path / "words.py"), variant=variant, points="access", seed=1,
        preemptions="none", reduction=reduction, max_failures=0,
        trace_dir=str(tmp_path / "traces"),
    ).document  # fmt: skip
    assert (doc["reduction"], doc["preemption_bound"], doc["complete"]) == (reduction, None, True)
    assert (doc["schedules"], doc["pruned"], doc["sleep_blocked"]) == (
        schedules, pruned, sleep_blocked,
    )  # fmt: skip
    assert doc["outcomes"]["ok"] == schedules and doc["exit_code"] == 0


def test_dpor_finds_the_lost_update_and_the_deadlock(tiny, no_leftovers):
    """`shared` at named points has the race structure of `same` above: 4 classes, two of
    them (both read before either writes) lose the update; `abba` deadlocks."""
    doc = explore_here(tiny, "shared", preemptions="none", max_failures=0)
    assert (doc["reduction"], doc["schedules"], doc["complete"]) == ("dpor", 4, True)
    assert doc["outcomes"] == {"ok": 2, "lost_update": 2}
    doc = explore_here(tiny, "abba", preemptions="none")
    assert doc["exit_code"] == 1 and doc["failures"][0]["outcome"] == "deadlock"


def test_dpor_sees_every_outcome_the_sleep_sets_see(tmp_path, no_leftovers):
    """`twice`: 12 steps, 924 orders. Both reductions run one schedule a class of
    equivalent orders (104 classes) and see the same outcomes in as many schedules; the
    sleep sets drop 2 sleep-blocked schedules besides (counted apart)."""
    user_files(tmp_path, "words.py")
    docs = {
        r: testbed.explore(
            str(tmp_path / "words.py"), variant="twice", points="access", seed=1,
            preemptions="none", reduction=r, max_failures=0, trace_dir=str(tmp_path / "t"),
        ).document
        for r in ("dpor", "sleep-sets")
    }  # fmt: skip
    dpor, sleep = docs["dpor"], docs["sleep-sets"]
    assert (dpor["schedules"], dpor["sleep_blocked"], dpor["complete"]) == (104, 0, True)
    assert (sleep["schedules"], sleep["sleep_blocked"], sleep["complete"]) == (104, 2, True)
    assert dpor["outcomes"] == sleep["outcomes"] == {"ok": 12, "lost_update": 0, "v2": 16, "v3": 24}


def test_the_strategy_option_lists_every_registered_strategy():
    """`--strategy`'s choices (the options table) are the registry's names."""
    from testbed.explorer.strategies import STRATEGIES
    from testbed.harness.options import EXPLORE_STRATEGIES

    assert tuple(EXPLORE_STRATEGIES) == tuple(STRATEGIES)


def test_reorder_10_is_found_at_one_preemption_where_the_depth_first_order_starved(
    tmp_path, no_leftovers
):
    """reorder_10 (9 setters write a then b, a checker reads a then b; SCTBench): the dfs
    at K=2 or 3 varied the last choices first and its sleep sets blocked 4,999 of 5,000
    schedules (each counted against the budget). Bounded DPOR deepens the bound: K = 0
    (one schedule a class of whole-actor orders), then K = 1, where the checker run between
    a setter's two writes is found, with the fewest preemptions there are (one)."""
    doc = testbed.explore(
        str(SCENARIOS / "reorder.py"), variant="bad", setters=9, preemptions=3, seed=1,
        reduction="dpor", max_schedules=100, trace_dir=str(tmp_path / "traces"),
    ).document  # fmt: skip
    assert doc["exit_code"] == 1, doc["reasons"]
    (failure,) = doc["failures"]
    assert (failure["outcome"], failure["preemptions"]) == ("torn", 1)
    assert doc["schedules"] <= 50 and doc["sleep_blocked"] == 0
    good = testbed.explore(
        str(SCENARIOS / "reorder.py"), variant="good", setters=2, preemptions=2, seed=1,
        trace_dir=str(tmp_path / "traces"),
    ).document  # fmt: skip
    assert (good["exit_code"], good["complete"], good["outcomes"]["torn"]) == (0, True, 0)


@pytest.mark.parametrize(
    "variant, reduction, schedules, pruned, sleep_blocked",
    [("own", "dpor", 1, 2, 0), ("own", "sleep-sets", 1, 4, 2),
     ("same", "dpor", 4, 1, 0), ("same", "sleep-sets", 4, 1, 0)],
)  # fmt: skip
def test_named_points_observe_reads_and_give_the_access_level_counts(
    tmp_path, variant, reduction, schedules, pruned, sleep_blocked, no_leftovers
):
    """named_words: each actor's step read->write reads its word (the view notes the read,
    without a point), write->end writes it (and reads it). Footprints: in `own`, t0's
    {read w0}, {write w0} and t1's {read w1}, {write w1}: nothing of one touches the
    other, so every order is one class, as `own` of `words` at access level (the test
    above): DPOR 1 schedule (pruned: t1 at the first two nodes), sleep sets 1 and 2
    sleep-blocked (4 pruned). In `same` the two reads commute and the rest race: 4 classes
    (AABB, ABBA, ABAB, BBAA; counted in the test above). Before reads were observed at
    named points a step's reads were unknown, and `own` ran 4 (dpor) schedules too."""
    doc = testbed.explore(
        str(SCENARIOS / "named_words.py"), variant=variant, seed=1, preemptions="none",
        reduction=reduction, max_failures=0, trace_dir=str(tmp_path / "traces"),
    ).document  # fmt: skip
    assert (doc["points"], doc["complete"], doc["exit_code"]) == ("named", True, 0)
    assert (doc["schedules"], doc["pruned"], doc["sleep_blocked"]) == (
        schedules, pruned, sleep_blocked,
    )  # fmt: skip


def test_core_requests_on_different_slots_commute():
    """Genode's core answers a request's footprint: two attachments (the creation of a
    stack) in different slots touch different keys and commute; in one slot, or on one
    dataspace, they do not; two RAM allocations share the PD's quota and the dataspace
    counter; a request whose footprint is unknown (WHOLE) conflicts with every request."""
    from kernel_model.genode.core import Footprints, Op
    from kernel_model.genode.layout import SLOT_SIZE
    from kernel_model.genode.status import Status
    from testbed.explorer.reduction import CORE, KEYED, WHOLE

    def step(keys):
        return Footprint(frozenset(keys), frozenset(keys), KEYED)

    f = Footprints()
    size = 16 * 4096
    a = f(0, Op.ATTACH_AT, 1, 3 * SLOT_SIZE, size, Status.OK, 0)
    b = f(0, Op.ATTACH_AT, 2, 4 * SLOT_SIZE, size, Status.OK, 0)
    assert independent(step(a), step(b))
    assert ("core", "rm", 0, 3 * SLOT_SIZE) in a and ("core", "ds", 1) in a
    assert ("pd0.pages", 3 * SLOT_SIZE // 4096 // 64) in a  # the page-bitmap word core read
    same_slot = f(0, Op.ATTACH_AT, 3, 3 * SLOT_SIZE, size, Status.REGION_CONFLICT, 0)
    assert not independent(step(a), step(same_slot))
    same_ds = f(0, Op.ATTACH_AT, 1, 5 * SLOT_SIZE, size, Status.OK, 0)
    assert not independent(step(a), step(same_ds))
    detach = f(0, Op.DETACH, 4 * SLOT_SIZE, 0, 0, Status.OK, 0)  # b's: its ds and range
    assert ("core", "ds", 2) in detach and independent(step(a), step(detach))
    r1 = f(0, Op.RAM_ALLOC, size, 0, 0, Status.OK, 7)
    r2 = f(0, Op.RAM_ALLOC, size, 0, 0, Status.OK, 8)
    assert not independent(step(r1), step(r2))
    whole = Footprint(frozenset({CORE}), frozenset(), WHOLE)
    assert not independent(step(a), whole)


def test_dpor_proves_genode_race_fixed_in_few_schedules(tmp_path, no_leftovers):
    """2 creators x 1 child, every schedule (no bound), named points: with reads observed
    and core's footprints, DPOR completes in well under 200 schedules (it did not finish
    in 5,000 when every named step and every request conflicted); racy is still found."""
    doc = testbed.explore(
        "genode-race", variant="fixed", children=1, preemptions="none", seed=1,
        max_schedules=200, trace_dir=str(tmp_path / "traces"),
    ).document  # fmt: skip
    assert (doc["exit_code"], doc["complete"], doc["reduction"]) == (0, True, "dpor")
    assert doc["schedules"] <= 200 and doc["outcomes"]["region_conflict"] == 0
    racy = testbed.explore(
        "genode-race", variant="racy", children=1, preemptions="none", seed=1,
        require=["region_conflict"], trace_dir=str(tmp_path / "traces"),
    ).document  # fmt: skip
    # the required INTERESTING outcome found: exit 0 (one meaning an exit code)
    assert racy["exit_code"] == 0 and racy["failures"][0]["outcome"] == "region_conflict"


@pytest.mark.parametrize("points", ["named", "access"])
def test_ten_actors_that_starved_the_sleep_sets_are_found_with_the_defaults(
    tmp_path, points, no_leftovers
):
    """reorder_10 (9 setters, a checker last): with observed reads every setter's steps
    commute with the others', so sleep sets at K=2 ran a sleep-blocked schedule for nearly
    every order of the setters (named: 95,041 of them, then `complete` with its failure
    never run: sleep sets lose schedules under a bound). The default now, bounded DPOR,
    finds the torn read at one preemption within 100 schedules."""
    user_files(tmp_path, "reorder.py")
    doc = testbed.explore(
        str(tmp_path / "reorder.py"), variant="bad", points=points, seed=1,
        max_schedules=100, trace_dir=str(tmp_path / "traces"),
    ).document  # fmt: skip
    assert doc["reduction"] == "dpor" and doc["exit_code"] == 1
    (failure,) = doc["failures"]
    assert (failure["outcome"], failure["preemptions"]) == ("torn", 1)
    assert failure["schedule"] <= 100 and doc["sleep_blocked"] == 0
