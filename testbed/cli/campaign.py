"""`testbed campaign SCENARIO ...` (or `--file CAMPAIGN.toml`): a matrix of seeded stress runs
on Dask distributed, its aggregates in a table, a JSON document with every run's inside, and
optionally HTML and JUnit reports."""

from __future__ import annotations

import argparse
import contextlib
import random
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from testbed.harness import environment, output_paths
from testbed.harness import options as option_table
from testbed.harness.options import Parser, formatter
from testbed.scenario import ConfigError

USAGE = (
    "testbed campaign SCENARIO [--variants a,b|all] [--strategies none,...] [--pins same,...]\n"
    "       [--trials N] [--duration S] [--budget S] [--seed S] [--scheduler local|tcp://H:P]\n"
    "       [--json PATH] [--html PATH] [--junit PATH] [scenario options]\n"
    "   or: testbed campaign --file CAMPAIGN.toml [...]"
)
EPILOG = """examples:
  testbed campaign genode-race --variants racy,quickfix --pins same,spread --trials 20
  testbed campaign genode-race --strategies none,yield:0.5,pct:3 --budget 600 --json c.json
  testbed campaign ./my_scenario.py --scheduler tcp://10.0.0.5:8786 --trials 1000
  testbed campaign --file campaign.toml --html campaign.html --junit campaign.xml

a campaign file:
  [[scenario]]
  ref = "genode-race"              # or a path, relative to the file
  variants = ["racy", "quickfix"]  # the command line's values are the defaults
  pins = ["same", "spread"]
  trials = 50
  options = ["--creators", "4"]

each run is `testbed stress SCENARIO --variant V --perturb S --pin P --seed SEED+k
--max-failures 1 --duration D` (it stops at its first failure); trial k of every cell has
seed SEED+k. exit codes: 0 no FORBIDDEN outcome, 1 a FORBIDDEN outcome seen, 2 bad usage,
3 interrupted, runs lost (after retries), or a run aborted or recorded no outcome, 4
incomplete: the --budget ended before every run was done (skipped runs; a cell with no
finished run is "not run")"""


def register(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser(
        "campaign",
        help="a matrix of seeded runs on Dask distributed, with aggregates",
        usage=USAGE,
        add_help=False,
        prefix_chars="+",  # every argument, --help and --file first included, is parsed below
        formatter_class=formatter,
    )
    sp.add_argument("args", nargs=argparse.REMAINDER)


def parser() -> Parser:
    p = Parser(prog="testbed campaign", usage=USAGE, epilog=EPILOG, formatter_class=formatter)
    option_table.add_options(p, option_table.CAMPAIGN)
    return p


def worker_names(addresses: list[str]) -> dict[str, str]:
    """Worker addresses as people name them: `host#k`, the k-th worker seen on that host
    (`inproc://192.0.2.2/3708/4` is `local#1` for the embedded cluster's first)."""
    names: dict[str, str] = {}
    per_host: dict[str, int] = {}
    for a in addresses:
        scheme, _, rest = a.partition("://")
        host = "local" if scheme == "inproc" else rest.split("/")[0].rsplit(":", 1)[0] or a
        per_host[host] = per_host.get(host, 0) + 1
        names[a] = f"{host}#{per_host[host]}"
    return names


def _progress(live: bool):
    """A rich table on a terminal, a plain line every 2 s otherwise (both on stderr)."""
    console = Console(stderr=True)
    state = {"next": 0.0}
    display = Live(console=console, refresh_per_second=4, transient=True) if live else None

    def show(p) -> None:
        names = worker_names(list(p.per_worker))
        if display is not None:
            t = Table(title="campaign")
            for c in ("elapsed", "done", "failing", "retried", "lost", *names.values()):
                t.add_column(c, justify="right")
            t.add_row(f"{p.elapsed_s:.0f}s", f"{p.done}/{p.total}", str(p.failing),
                      str(p.retried), str(p.lost), *map(str, p.per_worker.values()))  # fmt: skip
            display.update(t)
        elif time.monotonic() >= state["next"]:
            state["next"] = time.monotonic() + 2.0
            workers = " ".join(f"{names[w]}={n}" for w, n in p.per_worker.items())
            print(f"{p.elapsed_s:6.0f}s runs {p.done}/{p.total} failing {p.failing} "
                  f"retried {p.retried} lost {p.lost} {workers}", file=sys.stderr, flush=True)  # fmt: skip

    return show, display


def summary(doc: dict[str, Any], console: Console) -> None:
    t = Table(title=f"campaign: {', '.join(doc['scenarios'])} ({doc['stopped']})")
    for c in ("scenario", "variant", "strategy", "pin", "runs", "failing", "rate [95%]",
              "ttff median [q1-q3]", "attempts to first", "rate/attempt", "retried", "lost"):  # fmt: skip
        t.add_column(
            c, justify="left" if c in ("scenario", "variant", "strategy", "pin") else "right"
        )
    for a in doc["aggregates"]:
        q, att = a["first_failure_s"], a["attempts_to_first_failure"]
        if a["run_failure_rate"] is None:  # no finished run: nothing measured
            t.add_row(a["scenario"], a["variant"], a["strategy"], a["pin"], "0", "-",
                      "not run", "-", "-", "-", str(a["retried"]), str(a["lost"]))  # fmt: skip
            continue
        lo, hi = a["run_failure_rate_wilson95"]
        t.add_row(
            a["scenario"], a["variant"], a["strategy"], a["pin"], str(a["runs"]),
            f"{a['failing_runs']}" + (f" ({a['forbidden_runs']} FORBIDDEN)" if a["forbidden_runs"] else ""),
            f"{a['run_failure_rate']:.2f} \\[{lo:.2f}-{hi:.2f}]",
            "-" if q["median"] is None
            else f"{q['median'] * 1e3:.1f} ms \\[{q['q1'] * 1e3:.1f}-{q['q3'] * 1e3:.1f}]",
            "-" if att["median"] is None else f"{att['median']:,.0f}",
            f"<= {a['rate_upper_bound_95']:.2g} (95%)" if a["rate_upper_bound_95"] is not None
            else "-" if a["failure_rate_per_attempt"] is None
            else f"{a['failure_rate_per_attempt']:.2g}",
            str(a["retried"]), str(a["lost"]),
        )  # fmt: skip
    console.print(t)
    console.print(
        f"{doc['runs_done']} runs done, {doc['runs_lost']} lost, {doc['runs_skipped']} skipped, "
        f"{doc['runs_retried']} retried, in {doc['elapsed_s']:.1f} s on {doc['cluster']['workers']} "
        f"workers ({doc['cluster']['scheduler']}); verdict {doc['verdict']}"
    )
    for r in doc["runs"]:
        d = r.get("document") or {}
        if d.get("verdict") in ("aborted", "no-evidence") and d.get("reasons"):
            console.print(f"  {r['variant']}/{r['strategy']}/{r['pin']} seed {r['seed']}: "
                          f"{d['verdict']}: {d['reasons'][0]}", soft_wrap=True, markup=False,
                          highlight=False)  # fmt: skip
        if r.get("document", {}).get("verdict") == "fail":
            for tf in r["document"].get("trace_files", [])[:1]:
                console.print(f"  {r['variant']}/{r['strategy']}/{r['pin']} seed {r['seed']}: "
                              f"testbed replay {shlex.quote(tf)}", soft_wrap=True, markup=False,
                              highlight=False)  # fmt: skip


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_ctrl_c():
    """SIGTERM stops a campaign as Ctrl-C does: its runs stopped and cleaned up, the cluster
    closed, its document written, marked interrupted (exit 3), as `testbed stress` does."""
    if threading.current_thread() is not threading.main_thread():  # handlers are its own
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run(args: argparse.Namespace) -> int:
    from testbed.campaign import matrix, runner

    argv = list(args.args)
    if not argv or argv[0] in ("-h", "--help"):
        parser().print_help()
        return 0 if argv else 2
    scenario = argv.pop(0) if argv and not argv[0].startswith("-") else None
    ns, extra = parser().parse_known_args(argv)
    if ns.file and scenario:
        raise ConfigError(f"{scenario}: expected a SCENARIO or --file, not both")
    if not ns.file and not scenario:
        raise ConfigError("expected a SCENARIO or --file CAMPAIGN.toml (testbed campaign --help)")
    option_table.check(option_table.CAMPAIGN, vars(ns), None)
    seed = random.randrange(option_table.MAX_SEED + 1) if ns.seed is None else ns.seed
    import psutil

    usable = len(psutil.Process().cpu_affinity())
    cpus = ns.cpus_per_run if ns.cpus_per_run is not None else min(2, usable)
    if ns.scheduler == "local":
        runner.cpu_sets(cpus)  # checks --cpus-per-run
    if ns.file:
        if extra:
            raise ConfigError(f"{' '.join(extra)}: with --file, scenario options go in the file")
        defaults = {"variants": ns.variants, "strategies": ns.strategies, "pins": ns.pins,
                    "trials": ns.trials, "duration": ns.duration}  # fmt: skip
        entries = matrix.from_toml(ns.file, defaults)
    else:
        entries = [matrix.entry(scenario, ns.variants, ns.strategies, ns.pins, ns.trials,
                                ns.duration, extra)]  # fmt: skip
    if ns.scheduler == "local":  # a remote worker makes it on its own machine
        try:
            Path(ns.trace_dir).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(
                f"--trace-dir {ns.trace_dir}: cannot be made ({e.strerror})"
            ) from None
    runs = matrix.runs(entries, seed, ns.trace_dir)
    show, display = _progress(sys.stderr.isatty())
    started = time.monotonic()
    if display is not None:
        display.start()
    try:
        with _sigterm_as_ctrl_c():
            records, stopped, cluster = runner.execute(
                runs, ns.scheduler, cpus, ns.budget, ns.max_retries, show
            )
    except KeyboardInterrupt:  # between the handler's set-up and execute's own
        print("testbed campaign: interrupted", file=sys.stderr)
        return 3
    finally:
        if display is not None:
            display.stop()
    aggs = runner.aggregates(records)
    forbidden = any(a["forbidden_runs"] for a in aggs)
    lost = sum(r["status"] == "lost" for r in records)
    skipped = sum(r["status"] == "skipped" for r in records)
    # a run that aborted, or recorded nothing, leaves its cell unjudged: not a pass; 4: the
    # budget ended before every run was done: incomplete, never a pass (a campaign that ran
    # nothing has checked nothing)
    unjudged = any(a["aborted_runs"] or a["no_evidence_runs"] for a in aggs)
    code = (
        1 if forbidden
        else 3 if stopped == "interrupted" or lost or unjudged
        else 4 if skipped
        else 0
    )  # fmt: skip
    doc = {
        "kind": "campaign",
        "environment": environment.envelope(),
        "scenarios": sorted({a["scenario"] for a in aggs}),
        "entries": [vars(e) for e in entries],
        "seed": seed,
        "budget_s": ns.budget,
        "cluster": cluster,
        "stopped": stopped,
        "elapsed_s": time.monotonic() - started,
        "runs_total": len(records),
        "runs_done": sum(r["status"] == "done" for r in records),
        "runs_lost": lost,
        "runs_skipped": skipped,
        "runs_retried": sum(r["attempt"] > 1 or r.get("scheduler_retries", 0) > 0 for r in records),
        "aggregates": aggs,
        "verdict": {1: "fail", 3: "aborted", 4: "incomplete"}.get(code, "pass"),
        "exit_code": code,
        "runs": records,
    }
    console = Console(stderr=ns.json == "-", width=max(Console().width, 140))
    summary(doc, console)
    if ns.json:
        output_paths.write_json(ns.json, doc)
    if ns.html:
        from testbed.report.html import write_html

        write_html([doc], ns.html)
        console.print(f"HTML report: {ns.html}")
    if ns.junit:
        from testbed.report.junit import write_junit

        write_junit([doc], ns.junit, "testbed.campaign")
        console.print(f"JUnit XML: {ns.junit}")
    return code
