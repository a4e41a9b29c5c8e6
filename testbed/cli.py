"""The `testbed` command: list scenarios, run a stress test, clean up after dead runs."""

from __future__ import annotations

import argparse
import json
import random
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from . import names, perturb, recorder, registry
from .native import NativeLibraryMissing
from .result import EXIT_ABORTED, EXIT_USAGE
from .run import PINS, RunOptions, run
from .scenario import ConfigError

MAX_DURATION_S = 24 * 3600
# bench/points_cost.py: recording costs 7-40% of creations a second; bench/perturb_ttff.py:
# no measurable time to the first failure. A replayable trace of each failure is worth it.
DEFAULT_RECORD = True

STRESS_EXAMPLES = """examples:
  testbed stress genode-race --variant racy --duration 2
  testbed stress genode-race --variant quickfix --pin same --max-failures 1 --require region_conflict
  testbed stress stack-overflow --variant managed --rounds 3
  testbed stress rtems-isolation --variant smp-tlb --duration 5 --require stale_tlb_access
"""
EXIT_CODES = (
    "exit codes: 0 no FORBIDDEN outcome and every --require seen, 1 otherwise, 2 bad usage, "
    "3 aborted"
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: exit 2 with usage
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    how_long = g.add_mutually_exclusive_group()
    how_long.add_argument("--rounds", type=int, help="rounds each creator runs (1..1e9)")
    how_long.add_argument(
        "--duration", type=float, help=f"seconds to run (0 < s <= {MAX_DURATION_S}; default 2)"
    )
    g.add_argument("--pin", default="none", help=f"CPU placement: {'|'.join(PINS)} (default none)")
    g.add_argument(
        "--seed", type=int, help="seed of every random choice (0..2**32-1; default random)"
    )
    g.add_argument(
        "--max-failures",
        type=int,
        default=0,
        help="stop after N non-ok outcomes (default 0: never)",
    )
    g.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="OUTCOME",
        help="exit 1 unless this outcome is seen (repeatable)",
    )
    g.add_argument("--json", metavar="PATH|-", help="write the result document (- for stdout)")
    g.add_argument("--core-log", metavar="PATH", help="one JSON line per request core served")
    r = p.add_argument_group("perturbation and recording")
    r.add_argument(
        "--perturb", default="none", metavar="STRATEGY", help=f"{perturb.STRATEGIES} (default none)"
    )
    r.add_argument(
        "--hogs", type=int, default=0, help="CPU-hog processes on the actors' CPUs (0..64)"
    )
    r.add_argument(
        "--record",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_RECORD,
        help=f"record schedule-point events; traces of INTERESTING and FORBIDDEN outcomes "
        f"(default {'on' if DEFAULT_RECORD else 'off'})",
    )
    r.add_argument("--trace-dir", default="traces", help="where traces go (default ./traces)")
    r.add_argument(
        "--max-traces", type=int, default=3, help="trace files a run may write (0..1000; default 3)"
    )
    r.add_argument(
        "--ring-events",
        type=int,
        default=recorder.DEFAULT_RING_EVENTS,
        help="events each actor's ring holds (a power of two; default 65536)",
    )
    t = p.add_argument_group("tuning")
    t.add_argument("--reply-spin-us", type=float, help="client spin before blocking on a reply")
    t.add_argument("--core-spin-us", type=float, help="core spin before sleeping on the doorbell")
    t.add_argument(
        "--lock-timeout", type=float, default=10.0, help="seconds a lock wait may take (default 10)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="testbed",
        description="Real-concurrency testbed for kernel stack allocators: real processes, "
        "a real core process, shared memory and named semaphores.",
        formatter_class=_formatter,
        epilog="examples:\n  testbed scenarios\n  testbed stress genode-race --variant racy\n"
        "  testbed replay traces/T.json\n  testbed show traces/T.json --png T.png\n"
        "  testbed demo\n  testbed clean\n\nexit codes: 0 pass, 1 FORBIDDEN outcome or --require unmet, "
        "2 bad usage, 3 aborted",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sp = sub.add_parser(
        "scenarios",
        help="list scenarios, variants, outcomes and grades",
        formatter_class=_formatter,
        epilog="examples:\n  testbed scenarios\n  testbed scenarios --json",
    )
    sp.add_argument("--json", action="store_true", help="print as JSON")

    st = sub.add_parser(
        "stress",
        help="run a scenario under real preemption",
        formatter_class=_formatter,
        epilog=STRESS_EXAMPLES,
    )
    st_sub = st.add_subparsers(dest="scenario", required=True, parser_class=_Parser)
    for name in registry.names():
        sc = registry.get(name)
        p = st_sub.add_parser(
            name,
            help=sc.description,
            description=sc.description,
            formatter_class=_formatter,
            epilog="examples:\n"
            + "".join(f"  {line}\n" for line in sc.examples)
            + "\n"
            + EXIT_CODES,
        )
        p.add_argument(
            "--variant", required=True, help=" | ".join(f"{v}: {d}" for v, d in sc.variants.items())
        )
        sc.add_arguments(p)
        _common(p)

    rp = sub.add_parser(
        "replay",
        help="run a trace's order again; exit 0 if its outcome happens again, 1 if not",
        formatter_class=_formatter,
        epilog="examples:\n  testbed replay traces/genode-race.quickfix.7.ab12cd.0.json\n"
        "  testbed replay T.json --repeat 100 --json -",
    )
    rp.add_argument("trace")
    rp.add_argument(
        "--repeat", type=int, default=1, help="replays (1..10000); exit 0 only if all reproduce"
    )
    rp.add_argument("--json", metavar="PATH|-", help="write the result document(s)")
    rp.add_argument(
        "--lock-timeout", type=float, default=10.0, help="seconds an actor may wait its turn"
    )

    mn = sub.add_parser(
        "minimize",
        help="shrink a trace while its outcome still reproduces",
        formatter_class=_formatter,
        epilog="examples:\n  testbed minimize T.json\n  testbed minimize T.json -o small.json --max-replays 100",
    )
    mn.add_argument("trace")
    mn.add_argument(
        "-o", "--output", help="where the smaller trace goes (default: TRACE with .min.json)"
    )
    mn.add_argument(
        "--max-replays", type=int, default=300, help="replays to spend (1..100000; default 300)"
    )

    sh = sub.add_parser(
        "show",
        help="a trace's interleaving: text in the terminal, or a timeline picture",
        formatter_class=_formatter,
        epilog="examples:\n  testbed show T.json\n  testbed show T.json --png timeline.png\n"
        "  testbed show T.json --svg timeline.svg --last 0",
    )
    sh.add_argument("trace")
    out = sh.add_mutually_exclusive_group()
    out.add_argument("--png", metavar="OUT")
    out.add_argument("--svg", metavar="OUT")
    sh.add_argument(
        "--last", type=int, default=60, help="events of the text rendering, from the end (0: all)"
    )

    dm = sub.add_parser(
        "demo",
        help="every variant of the showcase scenarios for a few seconds, one summary table",
        formatter_class=_formatter,
        epilog="examples:\n  testbed demo\n  testbed demo --seconds 5 --json demo.json",
    )
    dm.add_argument(
        "--seconds", type=float, default=2.0, help="seconds a run (0 < s <= 600; default 2)"
    )
    dm.add_argument("--json", metavar="PATH", help="write every run's result document, as a list")

    cl = sub.add_parser(
        "clean",
        help="remove shared memory and semaphores left by runs whose owner is gone",
        formatter_class=_formatter,
        epilog="examples:\n  testbed clean\n  testbed clean --all   # also those of live runs",
    )
    cl.add_argument("--all", action="store_true", help="also remove objects of runs still alive")
    return parser


def _check_common(args: argparse.Namespace) -> tuple[int, float, int]:
    if args.rounds is not None and not 1 <= args.rounds <= 10**9:
        raise ConfigError(f"--rounds {args.rounds}: expected 1..1000000000")
    if args.duration is not None and not 0 < args.duration <= MAX_DURATION_S:
        raise ConfigError(f"--duration {args.duration:g}: expected 0 < seconds <= {MAX_DURATION_S}")
    if not 0 <= args.max_traces <= 1000:
        raise ConfigError(f"--max-traces {args.max_traces}: expected 0..1000")
    if args.max_failures < 0:
        raise ConfigError(f"--max-failures {args.max_failures}: expected 0 or more")
    if args.lock_timeout <= 0 or args.lock_timeout > 3600:
        raise ConfigError(f"--lock-timeout {args.lock_timeout:g}: expected 0 < seconds <= 3600")
    for opt in ("reply_spin_us", "core_spin_us"):
        v = getattr(args, opt)
        if v is not None and not 0 <= v <= 100_000:
            raise ConfigError(f"--{opt.replace('_', '-')} {v:g}: expected 0..100000")
    seed = random.randrange(2**32) if args.seed is None else args.seed
    if not 0 <= seed < 2**32:
        raise ConfigError(f"--seed {seed}: expected 0..4294967295")
    return args.rounds or 0, 2.0 if args.duration is None else args.duration, seed


def _summary(doc: dict[str, Any], console: Console) -> None:
    table = Table(title=f"{doc['scenario']} / {doc['variant']}: {doc['verdict'].upper()}")
    for col in ("outcome", "count", "grade"):
        table.add_column(col)
    for name, count in doc["outcomes"].items():
        table.add_row(name, f"{count:,}", doc["grades"][name])
    console.print(table)
    ff = doc["first_failure_s"]
    rate_key = next(k for k in doc if k.endswith("_per_s"))
    console.print(
        f"attempts {doc['attempts']:,} in {doc['elapsed_s']:.2f} s ({doc[rate_key]:,.0f}/s); "
        f"first failure {'none' if ff is None else f'{ff * 1000:.2f} ms'}; context switches "
        f"{doc['ctx_switches']['voluntary']:,} voluntary, {doc['ctx_switches']['involuntary']:,} "
        f"involuntary; seed {doc['seed']}"
    )
    for name, point in doc.get("detected_at", {}).items():
        console.print(f"  {name}: first detected at schedule point {point}")
    faults = doc.get("faults")
    if faults:
        console.print(
            f"page faults: {faults['resolved']:,} resolved, {faults['unresolvable']:,} unresolvable"
        )
        for r in faults["reports"][:3]:
            console.print(
                f"  {r.get('thread_name', r.get('thread'))}: {r['access']} fault at {r['address']:#x}, "
                f"no attachment in {r['region_map']} (pd {r['pd']})"
            )
    for path in doc.get("trace_files", []):
        console.print(f"trace: {path}  (testbed replay / show / minimize)")
    for reason in doc["reasons"]:
        console.print(f"  - {reason}")


def _stress(args: argparse.Namespace) -> int:
    sc = registry.get(args.scenario)
    rounds, duration, seed = _check_common(args)
    config = sc.configure(args)
    from .progress import for_terminal

    json_to_stdout = args.json == "-"
    console = Console(stderr=json_to_stdout)
    with for_terminal(f"{sc.name} / {args.variant}") as progress:
        doc = run(
            RunOptions(
                scenario=sc,
                variant=args.variant,
                config=config,
                seed=seed,
                rounds=rounds,
                duration_s=duration,
                pin=args.pin,
                max_failures=args.max_failures,
                require=args.require,
                core_log=args.core_log,
                reply_spin_us=args.reply_spin_us,
                core_spin_us=args.core_spin_us,
                lock_timeout_s=args.lock_timeout,
                progress=progress,
                record=args.record,
                ring_events=args.ring_events,
                perturb=args.perturb,
                hogs=args.hogs,
                trace_dir=args.trace_dir,
                max_traces=args.max_traces,
            )
        )
    _summary(doc, console)
    if args.json:
        text = json.dumps(doc, indent=2)
        if json_to_stdout:
            print(text)
        else:
            with open(args.json, "w") as f:
                f.write(text + "\n")
    return doc["exit_code"]


def _scenarios(args: argparse.Namespace) -> int:
    docs = [registry.get(n).describe() for n in registry.names()]
    if args.json:
        print(json.dumps(docs, indent=2))
        return 0
    console = Console()
    for d in docs:
        table = Table(title=f"{d['name']}: {d['description']}")
        table.add_column("outcome")
        for v in d["variants"]:
            table.add_column(v)
        for o in d["outcomes"]:
            table.add_row(o["name"], *(o["grades"][v] for v in d["variants"]))
        console.print(table)
        for v, desc in d["variants"].items():
            console.print(f"  {v}: {desc}")
    return 0


def _clean(args: argparse.Namespace) -> int:
    removed, kept = names.clean(everything=args.all)
    for obj in removed:
        print(f"removed {obj.kind} {obj.name}")
    for obj in kept:
        print(f"kept {obj.kind} {obj.name} (its run is alive)")
    print(f"{len(removed)} removed, {len(kept)} kept")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from .replay import replay
    from .trace import Trace

    if not 1 <= args.repeat <= 10000:
        raise ConfigError(f"--repeat {args.repeat}: expected 1..10000")
    trace = Trace.load(args.trace)
    console = Console(stderr=args.json == "-")
    docs = []
    for k in range(args.repeat):
        doc = replay(trace, lock_timeout_s=args.lock_timeout)
        docs.append(doc)
        if doc["verdict"] == "aborted":
            console.print(f"replay aborted: {doc['reasons'][0]}")
            break
        if args.repeat > 1:
            console.print(
                f"replay {k + 1}/{args.repeat}: {'reproduced' if doc['replay']['reproduced'] else 'NOT reproduced'}"
            )
    n = sum(d["replay"]["reproduced"] for d in docs)
    console.print(
        f"{trace.outcome}: reproduced in {n} of {len(docs)} replays "
        f"({docs[-1]['replay']['steps']} forced steps, scenario {trace.scenario}, variant {trace.variant})"
    )
    if args.json:
        text = json.dumps(docs[0] if args.repeat == 1 else docs, indent=2)
        print(text) if args.json == "-" else open(args.json, "w").write(text + "\n")
    if any(d["verdict"] == "aborted" for d in docs):
        return EXIT_ABORTED
    return 0 if n == len(docs) else 1


def _minimize(args: argparse.Namespace) -> int:
    from .replay import minimize, replay
    from .trace import Trace

    if not 1 <= args.max_replays <= 100_000:
        raise ConfigError(f"--max-replays {args.max_replays}: expected 1..100000")
    trace = Trace.load(args.trace)
    console = Console()
    first = replay(trace)
    if first["verdict"] == "aborted":
        console.print(f"the trace does not replay: {first['reasons'][0]}")
        return EXIT_ABORTED
    if not first["replay"]["reproduced"]:
        console.print(f"the trace does not reproduce {trace.outcome}: nothing to minimize")
        return 1
    small, stats = minimize(
        trace, args.max_replays, progress=lambda s: console.print(f"[dim]{s}[/dim]")
    )
    out = args.output or str(args.trace).removesuffix(".json") + ".min.json"
    small.save(out)
    before, after = stats["events_before"], stats["events_after"]
    console.print(
        f"{before} forced steps -> {after} ({100 * (before - after) / max(1, before):.0f}% removed) "
        f"in {stats['replays']} replays; written to {out}"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from .show import picture, text
    from .trace import Trace

    if args.last < 0:
        raise ConfigError(f"--last {args.last}: expected 0 or more")
    trace = Trace.load(args.trace)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    text(trace, console, args.last)
    for path in (args.png, args.svg):
        if path:
            picture(trace, path)
            console.print(f"timeline: {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    if not 0 < args.seconds <= 600:
        raise ConfigError(f"--seconds {args.seconds:g}: expected 0 < seconds <= 600")
    from .demo import demo

    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # a log or a pipe: don't fold the table to 80 columns
    return demo(args.seconds, args.json, console)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        handler = {
            "scenarios": _scenarios,
            "stress": _stress,
            "replay": _replay,
            "minimize": _minimize,
            "show": _show,
            "demo": _demo,
            "clean": _clean,
        }[args.command]
        return handler(args)
    except ConfigError as e:
        print(f"testbed: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NativeLibraryMissing as e:
        print(f"testbed: error: {e}", file=sys.stderr)
        return EXIT_ABORTED


if __name__ == "__main__":
    sys.exit(main())
