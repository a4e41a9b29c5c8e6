"""Campaigns on Dask distributed: a few short runs on the embedded local cluster, and the
same against a real `dask scheduler` and `dask worker`s started here, one worker killed
while it runs a campaign's run (the run is run again on the other worker, and reported)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import cli, leftovers_of

DASK = str(Path(sys.executable).parent / "dask")


def test_campaign_on_the_embedded_cluster(tmp_path):
    out, xml, page = tmp_path / "c.json", tmp_path / "c.xml", tmp_path / "c.html"
    r = cli(
        "campaign", "genode-race", "--variants", "racy,fixed", "--pins", "same", "--trials", "1",
        "--duration", "0.3", "--seed", "7", "--cpus-per-run", "1", "--trace-dir",
        str(tmp_path / "traces"), "--json", str(out), "--junit", str(xml), "--html", str(page),
        timeout=120,
    )  # fmt: skip
    assert r.code == 0, r.err
    doc = json.loads(out.read_text())
    assert doc["kind"] == "campaign" and doc["stopped"] == "done"
    assert doc["cluster"]["workers"] == len(psutil.Process().cpu_affinity())
    assert doc["runs_total"] == doc["runs_done"] == 2 and doc["runs_lost"] == 0
    assert "environment" in doc and "cpu_model" in doc["environment"]
    for run in doc["runs"]:
        d = run["document"]
        assert d["seed"] == 7 + run["trial"] and d["variant"] == run["variant"]
        assert d["environment"]["python"]  # every run's document carries the envelope
    aggs = {a["variant"]: a for a in doc["aggregates"]}
    assert set(aggs) == {"racy", "fixed"} and aggs["fixed"]["forbidden_runs"] == 0
    fixed = aggs["fixed"]
    assert fixed["runs"] == 1 and fixed["failing_runs"] == 0
    assert fixed["rate_upper_bound_95"] == pytest.approx(3 / fixed["attempts"])
    lo, hi = fixed["run_failure_rate_wilson95"]
    assert lo == 0.0 and 0.79 < hi < 0.80  # Wilson, 0 of 1
    from junitparser import JUnitXml
    from test_report import read_page

    cases = {c.name: c for c in list(JUnitXml.fromfile(str(xml)))[0]}
    assert set(cases) == {"genode-race[racy,none,same]", "genode-race[fixed,none,same]"}
    assert cases["genode-race[fixed,none,same]"].is_passed
    page = read_page(page)
    assert json.loads(page.data) == [doc] and page.svgs >= 1 and page.external == []
    for a in aggs.values():  # the aggregate agrees with its runs
        assert a["failing_runs"] == sum(
            r["document"]["first_failure_s"] is not None
            for r in doc["runs"] if r["variant"] == a["variant"]
        )  # fmt: skip
        assert len(a["first_failure_s"]["all"]) == a["failing_runs"]


def test_the_budget_ends_first_the_campaign_is_incomplete_and_its_cells_not_run(tmp_path):
    """One worker (every usable CPU a run), runs of 30 s, a budget of 1 s: at most one run
    starts, the others are skipped. Skipped runs make the campaign incomplete (exit 4, never
    a pass), and a cell without a finished run says "not run", with no rate (null), never a
    rate of 0.00."""
    traces = str(tmp_path / "traces")
    out = tmp_path / "b.json"
    cpus = str(len(psutil.Process().cpu_affinity()))
    r = cli("campaign", "genode-race", "--variants", "fixed,bitalloc", "--trials", "2",
            "--duration", "30", "--budget", "1", "--cpus-per-run", cpus, "--trace-dir", traces,
            "--json", str(out), timeout=120)  # fmt: skip
    assert r.code == 4, r.out + r.err
    doc = json.loads(out.read_text(), parse_constant=_refuse)
    assert doc["verdict"] == "incomplete" and doc["exit_code"] == 4
    assert doc["stopped"] == "budget" and doc["runs_total"] == 4 and doc["cluster"]["workers"] == 1
    assert doc["runs_done"] <= 1 and doc["runs_done"] + doc["runs_skipped"] == 4
    skipped = [x for x in doc["runs"] if x["status"] == "skipped"]
    assert all("campaign stopped (budget)" in x["errors"][-1] for x in skipped)
    not_run = [a for a in doc["aggregates"] if a["runs"] == 0]
    assert not_run, doc["aggregates"]  # one run at most: one cell at least has none
    for a in not_run:
        assert a["not_run"].startswith("not run: 2 skipped")
        assert a["run_failure_rate"] is None and a["run_failure_rate_wilson95"] is None
        assert a["failure_rate_per_attempt"] is None and a["rate_upper_bound_95"] is None
    assert "not run" in r.out and "verdict incomplete" in r.out
    assert "0.00 [" not in r.out.replace("\\", "")  # no rate for what did not run
    # no run of it is left running: each was told to stop, and did
    assert not [p for p in psutil.process_iter(["cmdline"])
                if traces in (p.info["cmdline"] or []) and "stress" in p.info["cmdline"]]  # fmt: skip


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_every_run_and_cleans_up(tmp_path, signum):
    traces = str(tmp_path / "traces")

    def runs() -> list[int]:
        return [p.pid for p in psutil.process_iter(["cmdline"])
                if traces in (p.info["cmdline"] or []) and "stress" in p.info["cmdline"]]  # fmt: skip

    campaign = subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "campaign", "genode-race", "--variants", "fixed",
         "--trials", "4", "--duration", "60", "--cpus-per-run", "1", "--trace-dir", traces,
         "--json", str(tmp_path / "i.json")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not runs() and time.monotonic() < deadline:
        time.sleep(0.1)
    started = runs()
    assert started, "no run started"
    campaign.send_signal(signum)
    _, err = campaign.communicate(timeout=90)
    assert campaign.returncode == 3, err
    doc = json.loads((tmp_path / "i.json").read_text())
    assert doc["stopped"] == "interrupted" and doc["runs_done"] == 0
    assert runs() == []
    for pid in started:
        assert leftovers_of(pid) == []


def test_sigterm_mid_campaign_writes_what_ran_so_far(tmp_path):
    """SIGTERM once a run is done: the runs still going are stopped and cleaned up, the
    cluster closed, and the document holds the finished runs and marks the rest skipped,
    the campaign interrupted (exit 3, as `testbed stress` on SIGTERM)."""
    traces, out = str(tmp_path / "traces"), tmp_path / "t.json"
    campaign = subprocess.Popen(
        [sys.executable, "-m", "testbed.cli", "campaign", "genode-race", "--variants", "fixed",
         "--trials", "30", "--duration", "0.2", "--cpus-per-run", "1", "--trace-dir", traces,
         "--seed", "3", "--json", str(out)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    for line in campaign.stderr:  # the progress line, every 2 s off a terminal
        done = re.search(r"runs (\d+)/30", line)
        if done and int(done.group(1)) >= 1:
            break
    else:
        pytest.fail("the campaign ended before a run was done")
    running = [p.pid for p in psutil.process_iter(["cmdline"])
               if traces in (p.info["cmdline"] or []) and "stress" in p.info["cmdline"]]  # fmt: skip
    campaign.send_signal(signal.SIGTERM)
    _, err = campaign.communicate(timeout=90)
    assert campaign.returncode == 3, err
    doc = json.loads(out.read_text())
    assert doc["stopped"] == "interrupted" and doc["verdict"] == "aborted"
    assert 1 <= doc["runs_done"] < 30 and doc["runs_done"] + doc["runs_skipped"] == 30
    for run in doc["runs"]:
        if run["status"] == "done":
            assert run["document"]["seed"] == 3 + run["trial"]
        else:
            assert run["errors"][-1] == "not run: campaign stopped (interrupted)"
    assert not [p for p in psutil.process_iter(["cmdline"])
                if traces in (p.info["cmdline"] or []) and "stress" in p.info["cmdline"]]  # fmt: skip
    for pid in [campaign.pid, *running]:
        assert leftovers_of(pid) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trials", "0"], "--trials 0: expected 1..1000000"),
        (["--pins", "both"], "--pins 'both': expected some of same, spread, none"),
        (["--variants", "nope"], "--variants 'nope': expected all or some of racy"),
        (["--strategies", "wild"], "--perturb 'wild': expected"),
        (["--duration", "0"], "--duration 0.0: expected 0 < seconds <= 3600"),
        (["--scheduler", "udp://x"], "--scheduler 'udp://x': expected local or tcp://HOST:PORT"),
        (["--cpus-per-run", "999"], "--cpus-per-run 999: expected 1.."),
        (["--creators", "0"], "--creators"),
        (["--seed", "5", "--budget", "-1"], "--budget -1: expected 0 < seconds"),
    ],
)
def test_bad_campaign_input_exits_2(args, message, capsys):
    from testbed.cli.main import main

    assert main(["campaign", "genode-race", *args]) == 2  # in-process: nothing starts
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [DASK, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_campaign_on_a_dask_scheduler_survives_a_killed_worker(tmp_path):
    from distributed import Client

    sched_file = tmp_path / "scheduler.json"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], tmp_path)]  # fmt: skip
    workers = [  # started at once: they wait for the scheduler's file
        _start(["worker", "--scheduler-file", str(sched_file), "--nthreads", "1", "--no-nanny",
                "--no-dashboard", "--name", name], tmp_path)
        for name in ("victim", "survivor")
    ]  # fmt: skip
    procs += workers
    orphans: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        with Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
        out = tmp_path / "c.json"
        campaign = subprocess.Popen(
            [sys.executable, "-m", "testbed.cli", "campaign", "genode-race", "--variants",
             "fixed", "--trials", "2", "--duration", "1", "--seed", "1", "--scheduler",
             address, "--trace-dir", str(tmp_path / "traces"), "--json", str(out)],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        victim = psutil.Process(workers[0].pid)
        deadline = time.monotonic() + 60
        while not victim.children() and time.monotonic() < deadline:
            time.sleep(0.05)
        orphans = victim.children(recursive=False)
        assert orphans, "the victim never started a run"
        victim.send_signal(signal.SIGKILL)  # mid-run: the scheduler loses its task
        _, err = campaign.communicate(timeout=120)
        assert campaign.returncode == 0, err
        doc = json.loads(out.read_text())
        assert doc["runs_done"] == 2 and doc["runs_lost"] == 0  # nothing dropped
        assert doc["runs_retried"] >= 1  # and the retry is reported
        retried = [r for r in doc["runs"] if r["scheduler_retries"] or r["attempt"] > 1]
        assert retried and any("worker died" in e for r in retried for e in r["errors"])
        assert doc["aggregates"][0]["retried"] >= 1
        assert doc["cluster"]["scheduler"] == address
    finally:
        for p in procs:  # a Dask process holds no shared state: killed, not waited out
            p.kill()
            p.wait(30)
        # the killed worker's run finishes on its own and removes its objects
        psutil.wait_procs(orphans, timeout=30)
