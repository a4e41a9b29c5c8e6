"""Issue 20, item 2: a PD cannot act as another. Each actor maps only its own mailbox page
and its own PD's regions, takes only its own PD's locks, core's bitmaps are core's own
memory, the names of the mailbox segment, each PD's segment, each PD's locks and the reply
semaphores are gone once every process opened them, and a stray pending bit never replays a
request. A PD's own regions start each iteration fresh (core puts them back); core's state
that actors read (a page table) is read-only to them."""

from __future__ import annotations

import mmap
import shutil
from pathlib import Path

import pytest
from conftest import run_cli, scenario_text, vary

from testbed.harness.loader import load
from testbed.harness.run import RunOptions, prepare
from testbed.scenario import ConfigError

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    for name in ("other_pd.py", "pd_fresh.py"):
        shutil.copy(SCENARIOS / name, tmp_path / name)
    return tmp_path


def test_pd0_writing_into_pd1s_mailbox_region_lock_and_cores_bitmaps_changes_nothing_of_pd1(
    user_dir,
):
    code, doc, err = run_cli(
        user_dir, "stress", "other_pd.py", "--variant", "python", "--rounds", "1",
        "--lock-timeout", "10", "--json", "-",
    )  # fmt: skip
    assert code == 0, err
    assert doc["outcomes"] == {"no_access": 11, "breached": 0, "intact": 1, "harmed": 0}


def test_core_regions_are_in_no_shared_segment(user_dir):
    sc = load(str(user_dir / "other_pd.py"))
    spec = prepare(RunOptions(sc, "python", {}))
    assert "pd0.pages" in spec.layout.private and "pd0.pages" not in spec.layout.regions
    assert "mailboxes" not in spec.layout.regions


def test_a_pds_own_regions_and_locks_are_in_its_segment_alone():
    sc = load("genode-race")
    config = {"pds": 2, "creators": 2, "children": 1, "stack_size": 16384}
    spec = prepare(RunOptions(sc, "fixed", config))
    assert set(spec.layout.pds) == {0, 1}
    assert {"pd1.threads", "pd1.slots"} == set(spec.layout.pds[1])
    assert "pd1.threads" not in spec.layout.regions
    assert spec.lock_owner == {"pd0.threads": 0, "pd0.alloc": 0, "pd1.threads": 1, "pd1.alloc": 1}
    segments, semaphores = spec.private_names()
    assert [n.rsplit(".", 1)[1] for n in segments[1:]] == ["pd0", "pd1"]
    assert spec.lock_sem("pd1.alloc") in semaphores


def test_a_pds_own_region_is_fresh_each_iteration_though_no_actor_maps_the_other(user_dir):
    code, doc, err = run_cli(
        user_dir, "stress", "pd_fresh.py", "--variant", "plain", "--rounds", "50", "--json", "-"
    )
    assert code == 0, err
    assert doc["outcomes"] == {"fresh": 100, "stale": 0, "counted": 50, "miscounted": 0}


def test_explore_puts_a_pds_own_region_back_between_schedules(user_dir):
    code, doc, err = run_cli(
        user_dir, "explore", "pd_fresh.py", "--variant", "plain", "--seed", "1", "--json", "-"
    )
    assert code == 0, err
    assert doc["schedules"] >= 2 and doc["outcomes"]["stale"] == 0


def test_the_arbiter_reads_no_pds_own_region(user_dir):
    code, doc, err = run_cli(
        user_dir, "stress", "pd_fresh.py", "--variant", "peek", "--rounds", "5", "--json", "-"
    )
    assert code == 3, err
    assert "the arbiter reads region 'pd0.count', which belongs to PD 0" in doc["reasons"][0]


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ("scribble", "pd1.main: TypeError: cannot modify read-only memory"),
        ("scribble_c", "pd1.main (pid "),  # a SIGSEGV: the page is read-only in its process
    ],
)
def test_an_actor_cannot_write_a_read_only_region(user_dir, variant, reason):
    code, doc, err = run_cli(
        user_dir, "stress", "pd_fresh.py", "--variant", variant, "--rounds", "5", "--json", "-"
    )
    assert code == 3, err
    assert reason in doc["reasons"][0]
    if variant == "scribble_c":
        assert "ended with signal 11" in doc["reasons"][0]


def test_a_page_table_is_on_pages_of_its_own():
    sc = load("stack-overflow")
    config = {"pds": 2, "threads": 2, "stack_size": 16384, "frame_size": 256}
    spec = prepare(RunOptions(sc, "managed", config))
    assert spec.layout.read_only == {"pd0.pt", "pd1.pt"}
    offset, nbytes = spec.layout.pds[1]["pd1.pt"]
    assert offset % mmap.PAGESIZE == 0
    assert all(o >= offset + nbytes for o, _ in spec.layout.pds[1].values() if o > offset)


OWNED = 'return {f"pd{pd}.{what}": pd for pd in range(PDS)'


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            OWNED,
            'return {"nowhere": 0} | {f"pd{pd}.{what}": pd for pd in range(PDS)',
            "pd_owned names 'nowhere', which is neither a region",
        ),
        (OWNED, OWNED.replace(": pd ", ": pd + 5 "), "'pd0.count' to PD 5: expected a PD some"),
        (
            "    def core(",
            "    def not_core(",
            r"pd_owned\(config\) in a run of iterations without",
        ),
        (
            'return [f"pd{pd}.table"',
            'return ["nowhere"] + [f"pd{pd}.table"',
            "read_only names 'nowhere'",
        ),
    ],
)
def test_pd_owned_is_checked_before_anything_runs(tmp_path, old, new, message):
    path = tmp_path / "pd_fresh.py"
    path.write_text(vary(scenario_text("pd_fresh.py"), old, new))
    with pytest.raises(ConfigError, match=message):
        prepare(RunOptions(load(str(path)), "plain", {}))
