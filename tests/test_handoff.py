"""The step handoff (testbed/ipc/handoff.c): no lost wake-up in the window between a waiter's
last look and its sleep, a late post is only a hint, a ping-pong of real processes loses no
give, and explore finds the same schedules and verdicts with a spinning handoff, and with
every process on one CPU, as with the semaphore alone."""

from __future__ import annotations

import multiprocessing
import os

import posix_ipc
import pytest
from conftest import user_files

import testbed
from testbed.cli.main import main
from testbed.ipc import handoff, names
from testbed.ipc.handoff import Handoff
from testbed.ipc.locks import create_semaphore
from testbed.ipc.native import lib
from testbed.ipc.segment import Layout, Segment

ACTOR = 0


class Pair:
    """One actor's go handoff as both sides hold it, on a segment and a semaphore of its own."""

    def __init__(self, spin: float = 0.0):
        self.prefix = names.new_prefix()
        layout = Layout()
        handoff.add_region(layout, 1)
        self.layout = layout
        self.seg = Segment.create(self.prefix + ".seg", layout)
        self.seg.words(handoff.REGION)[handoff.ALLOW] = 1  # (the runner's Allowance, `spin`)
        self.sem_names = [self.prefix + ".go", self.prefix + ".arrived"]
        for name in self.sem_names:
            create_semaphore(name, 0)
        self.giver = Handoff(self.seg, self.sem_names[0], ACTOR, True, 0.0)
        self.waiter = Handoff(self.seg, self.sem_names[0], ACTOR, True, spin)

    def sem_value(self) -> int:
        sem = posix_ipc.Semaphore(self.sem_names[0])
        try:
            return sem.value
        finally:
            sem.close()

    def close(self) -> None:
        self.giver.close()
        self.waiter.close()
        self.seg.close()
        self.seg.unlink()
        for name in self.sem_names:
            posix_ipc.unlink_semaphore(name)


@pytest.fixture
def pair():
    p = Pair()
    yield p
    p.close()


def test_a_give_between_the_last_look_and_the_sleep_wakes_the_sleeper(no_leftovers, pair):
    """The racy window, forced: the waiter has raised its flag and seen no give; the giver
    gives before the waiter blocks. The giver saw the flag, so it posted: the block returns
    at once with the give, and no post is left over."""
    so = lib()
    assert so.tb_handoff_announce(pair.waiter._h) == 0  # flag up, nothing given yet
    pair.giver.give()  # ... the waiter is preempted here ...
    assert pair.sem_value() == 1  # the giver saw the flag and posted
    assert so.tb_handoff_block(pair.waiter._h, 5.0) == 1
    assert pair.sem_value() == 0
    assert pair.waiter.stats() == {"spun": 0, "slept": 1}


def test_a_give_before_the_flag_is_seen_by_the_last_look_and_nobody_posts(no_leftovers, pair):
    so = lib()
    pair.giver.give()  # the waiter is preempted before it raises its flag
    assert so.tb_handoff_announce(pair.waiter._h) == 1
    assert pair.sem_value() == 0  # the giver saw no flag: no post, no wake-up
    assert not pair.waiter.wait(0.05, spin=False)  # one give, taken once


def test_a_late_post_is_only_a_hint(no_leftovers, pair):
    """A post meant for an earlier wait wakes a sleeper for nothing: it sleeps again until
    its own give (or its timeout)."""
    sem = posix_ipc.Semaphore(pair.sem_names[0])
    try:
        sem.release()  # a giver of the last wait, late
    finally:
        sem.close()
    assert not pair.waiter.wait(0.2, spin=False)
    pair.giver.give()
    assert pair.waiter.wait(5.0, spin=False)


def test_a_spinning_waiter_takes_a_give_without_a_post(no_leftovers):
    p = Pair(spin=handoff.SPIN_S)
    try:
        p.giver.give()
        assert p.waiter.wait(5.0)
        assert p.waiter.stats() == {"spun": 1, "slept": 0} and p.sem_value() == 0
    finally:
        p.close()


def _echo(prefix: str, layout: Layout, n: int, spin: float) -> None:
    """The actor's side of a ping-pong: take a go, give an arrival, n times."""
    seg = Segment.attach(prefix + ".seg", layout)
    go = Handoff(seg, prefix + ".go", ACTOR, True, spin)
    arrived = Handoff(seg, prefix + ".arrived", ACTOR, False, 0.0)
    ok = go.wait(10.0)
    for _ in range(n - 1):
        ok = ok and arrived.give_and_wait(go, 10.0)
    arrived.give()
    go.close()
    arrived.close()
    seg.close()
    os._exit(0 if ok else 1)


@pytest.mark.parametrize("spin", [0.0, handoff.SPIN_S, 2e-6])
def test_a_ping_pong_of_two_processes_loses_no_give(spin, no_leftovers):
    """2,000 round trips between two processes, the runner pausing now and then (so waits
    end spinning, asleep, and in between): every wait is answered, none times out."""
    p = Pair()
    n = 2000
    child = multiprocessing.get_context("forkserver").Process(
        target=_echo, args=(p.prefix, p.layout, n, spin)
    )
    child.start()
    try:
        arrived = Handoff(p.seg, p.sem_names[1], ACTOR, False, spin)
        for k in range(n):
            p.giver.give()
            if k % 7 == 0:
                os.sched_yield()
            assert arrived.wait(10.0), f"round trip {k}: no arrival"
        stats = arrived.stats()
        arrived.close()
        child.join(30)
        assert child.exitcode == 0
        assert stats["spun"] + stats["slept"] == n
        assert stats["spun"] == 0 if spin == 0 else True
    finally:
        if child.is_alive():
            child.kill()
        p.close()


def test_nobody_spins_on_one_cpu():
    cpus = os.sched_getaffinity(0)
    assert handoff.spin_s("sem") == handoff.spin_s("one-cpu") == 0.0
    try:
        os.sched_setaffinity(0, {min(cpus)})
        assert handoff.spin_s("auto") == handoff.spin_s("spin") == 0.0
    finally:
        os.sched_setaffinity(0, cpus)
    two = handoff.SPIN_S if len(cpus) > 1 else 0.0
    assert handoff.spin_s("auto") == handoff.spin_s("spin") == two


def test_a_bad_handoff_is_exit_2_naming_the_value(capsys):
    assert main(["explore", "genode-race", "--variant", "fixed", "--handoff", "fast"]) == 2
    err = capsys.readouterr().err
    assert "--handoff 'fast': expected one of auto, one-cpu, spin, sem" in err
    assert "Traceback" not in err


def test_one_cpu_and_pin_spread_is_exit_2_naming_both(capsys):
    argv = ["explore", "genode-race", "--variant", "fixed", "--handoff", "one-cpu"]
    assert main([*argv, "--pin", "spread"]) == 2
    err = capsys.readouterr().err
    assert "--handoff one-cpu with --pin spread" in err and "Traceback" not in err


def _verdict(doc: dict) -> tuple:
    return (
        doc["verdict"], doc["exit_code"], doc["schedules"], doc["pruned"], doc["steps"],
        doc["outcomes"], [(f["outcome"], f["schedule"], f["steps"]) for f in doc["failures"]],
    )  # fmt: skip


@pytest.mark.parametrize("points", ["named", "access"])
def test_every_handoff_gives_the_same_schedules_and_verdicts(points, tmp_path, no_leftovers):
    """The handoff changes how fast a step is handed over, never which steps run: the tiny
    lost update and Genode's quick fix (whose steps talk to core), explored with the
    spinning handoff, on one CPU and with the semaphore alone, give the same counts and
    failures (the same failing schedule). On one CPU the runner, core and every actor
    were pinned to it during the search, and the runner has its own CPUs back after."""
    mine = os.sched_getaffinity(0)
    tiny = user_files(tmp_path, "tiny.py")
    runs = [
        (str(tiny / "tiny.py"), {"variant": "shared", "preemptions": 2, "max_failures": 0}),
        (
            "genode-race",
            {"variant": "quickfix", "children": 1, "preemptions": 1,
             "require": ["region_conflict"]},
        ),
    ]  # fmt: skip
    for ref, options in runs:
        docs = {
            mode: testbed.explore(
                ref, points=points, seed=1, handoff=mode, trace_dir=str(tmp_path / mode),
                **options,
            ).document
            for mode in ("sem", "spin", "one-cpu")
        }  # fmt: skip
        assert _verdict(docs["sem"]) == _verdict(docs["spin"]) == _verdict(docs["one-cpu"]), ref
        assert docs["sem"]["handoff"]["spun"] == 0 and docs["spin"]["handoff"]["mode"] == "spin"
        assert docs["sem"]["failures"], f"{ref}: nothing found: the comparison proves little"
        one = docs["one-cpu"]["handoff"]
        assert one["one_cpu"] in mine and one["spun"] == 0 and one["spin_us"] == 0
        assert {"runner", "core"} < set(one["cpus"]), one["cpus"]  # and the actors
        assert all(cpus == [one["one_cpu"]] for cpus in one["cpus"].values()), one["cpus"]
        assert docs["sem"]["handoff"]["one_cpu"] is None
        assert os.sched_getaffinity(0) == mine


def test_auto_puts_a_search_on_one_cpu_unless_pinned_spread(tmp_path, no_leftovers):
    """`auto` (the default) is one-cpu, on the CPU the runner runs on; with --pin spread
    it leaves the processes spread, as before."""
    tiny = user_files(tmp_path, "tiny.py") / "tiny.py"
    docs = {
        pin: testbed.explore(
            str(tiny), variant="shared", preemptions=1, max_failures=0, seed=1, pin=pin,
            trace_dir=str(tmp_path / pin),
        ).document
        for pin in ("none", "spread")
    }  # fmt: skip
    auto, spread = docs["none"]["handoff"], docs["spread"]["handoff"]
    assert auto["mode"] == "auto" and auto["one_cpu"] in os.sched_getaffinity(0)
    assert all(cpus == [auto["one_cpu"]] for cpus in auto["cpus"].values())
    assert spread["one_cpu"] is None
    assert _verdict(docs["none"]) == _verdict(docs["spread"])
