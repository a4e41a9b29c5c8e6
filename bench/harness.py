"""The bench harness: every bench of bench/ declares one `BENCH = Bench(...)` and the harness
gives it the same options, the same input checks, one result envelope and one table style.

A bench in a few lines (this is the whole convention):

    def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
        xs = [one_trial(p.seconds, seed=t) for t in range(p.trials)]  # interleave settings
        return {"rows": xs}, [Table("title", ["col", ...], [[cell, ...], ...])]

    BENCH = Bench("name", "one line: what it measures", measure,
                  profiles={"quick": {"trials": 1, "seconds": 0.5, "calls": 2000},
                            "default": {...}, "tough": {...}},
                  variants=("racy", "quickfix"))  # the --variant values it accepts, if any

    def main(argv=None) -> int:      # python -m testbed.bench.name keeps working
        return harness.main(BENCH, argv)

and its module name added to NAMES in bench/__init__.py. Figures are ratios against a
baseline measured in the same run, trials interleaved so that a drift of the machine
weighs on all settings alike; `measure` returns plain JSON values and its tables, as text.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from testbed.harness import environment
from testbed.scenario import ConfigError

PROFILES = ("quick", "default", "tough")
MAX_TRIALS = 1000
MAX_SECONDS = 600.0
EXIT_USAGE, EXIT_ABORTED = 2, 3


@dataclass
class Table:
    """One table of a bench, cells already formatted: the harness prints them in one style
    and the result document keeps them for the HTML report."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass(frozen=True)
class Params:
    """What a bench is asked to do: the profile's knobs, with --trials/--seconds/--variant."""

    profile: str
    trials: int
    seconds: float
    variant: str | None
    knobs: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.knobs[key]


Log = Callable[[str], None]


@dataclass(frozen=True)
class Bench:
    name: str
    summary: str
    measure: Callable[[Params, Log], tuple[dict[str, Any], list[Table]]]
    profiles: dict[str, dict[str, Any]]
    variants: tuple[str, ...] = ()


def check_options(
    benches: Sequence[Bench],
    profile: str,
    trials: int | None,
    seconds: float | None,
    variant: str | None,
) -> None:
    """ConfigError naming the bad value and the accepted range; nothing is clamped."""
    if profile not in PROFILES:
        raise ConfigError(f"--profile {profile!r}: expected one of {', '.join(PROFILES)}")
    if trials is not None and not 1 <= trials <= MAX_TRIALS:
        raise ConfigError(f"--trials {trials}: expected 1..{MAX_TRIALS}")
    if seconds is not None and not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise ConfigError(f"--seconds {seconds:g}: expected 0 < seconds <= {MAX_SECONDS:g}")
    if variant is not None:
        for b in benches:
            if variant not in b.variants:
                accepted = ", ".join(b.variants) if b.variants else "none (it has no variants)"
                raise ConfigError(f"--variant {variant!r} for bench {b.name}: expected {accepted}")


def params(
    bench: Bench, profile: str, trials: int | None, seconds: float | None, variant: str | None
) -> Params:
    knobs = dict(bench.profiles[profile])
    t = knobs.pop("trials", 1) if trials is None else trials
    knobs.pop("trials", None)
    s = knobs.pop("seconds", 1.0) if seconds is None else seconds
    knobs.pop("seconds", None)
    return Params(profile, t, s, variant or (bench.variants[0] if bench.variants else None), knobs)


def print_table(table: Table, console: Console) -> None:
    t = RichTable(title=escape(table.title), title_justify="left")
    for i, col in enumerate(table.columns):
        t.add_column(col, justify="left" if i == 0 else "right")
    for row in table.rows:
        t.add_row(*(escape(c) for c in row))
    console.print(t)
    if table.note:
        console.print(table.note, highlight=False, markup=False)


# -- figures a bench may print: earned, or null with the reason -------------------------------
def _binomial_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def difference(
    xs: Sequence[float], ys: Sequence[float], scale: float = 1.0, resolution: float = 0.0
) -> dict[str, Any]:
    """x - y of two noisy measurements, paired trial by trial, times `scale`: the median
    difference and a distribution-free interval for it (order statistics of the paired
    differences, coverage >= 95% from 6 trials on, `coverage` says how much below that).
    `value` is null, with `why`, when the difference is not measured: not above zero or
    within `resolution` (one trial), or an interval that reaches zero or below (more). A
    negative time is never a figure."""
    d = sorted((x - y) * scale for x, y in zip(xs, ys, strict=True))
    n = len(d)
    out: dict[str, Any] = {"value": None, "interval95": None, "coverage": None, "trials": n}
    if n == 0:
        return {**out, "why": "no trial"}
    median = statistics.median(d)
    if n >= 2:
        # the largest k with P(X < k) <= 2.5%: [d_k, d_(n-k+1)] covers the median with
        # probability 1 - 2 P(X < k); with fewer than 6 trials, k = 1 (the range) covers less
        k = 1
        while k + 1 <= n // 2 and _binomial_cdf(k, n) <= 0.025:
            k += 1
        lo, hi = d[k - 1], d[n - k]
        out["interval95"], out["coverage"] = [lo, hi], 1 - 2 * _binomial_cdf(k - 1, n)
        if lo <= max(resolution, 0.0):
            return {
                **out,
                "why": f"below the measurement's resolution: the interval "
                f"[{lo:.3g}, {hi:.3g}] of the difference reaches {max(resolution, 0.0):g}",
            }
    elif median <= max(resolution, 0.0):
        return {
            **out,
            "why": f"below the measurement's resolution: one trial's difference "
            f"{median:.3g} is not above {max(resolution, 0.0):g} (one trial, no interval)",
        }
    return {**out, "value": median, "why": None if n >= 2 else "one trial: no interval"}


def shown(figure: dict[str, Any], fmt: str = "{:.2f}", unit: str = "") -> str:
    """A table cell of a `difference`: the value, its unit and interval, or what it is not."""
    if figure["value"] is None:
        return "below resolution" if "resolution" in (figure["why"] or "") else "not measured"
    cell = fmt.format(figure["value"]) + unit
    if figure["interval95"] is not None:
        lo, hi = figure["interval95"]
        cell += f" [{fmt.format(lo)}-{fmt.format(hi)}]"
    return cell


def earned(figures: Any, path: str = "") -> tuple[Any, list[dict[str, str]]]:
    """The figures with every NaN or infinity made null, and the reasons: a bench document
    is strict JSON, and a figure that could not be measured says so."""
    if isinstance(figures, float) and not math.isfinite(figures):
        return None, [{"figure": path, "why": f"not measured ({figures!r}: no finite value)"}]
    if isinstance(figures, dict):
        out, why = {}, []
        for k, v in figures.items():
            out[k], w = earned(v, f"{path}.{k}" if path else str(k))
            why += w
        return out, why
    if isinstance(figures, (list, tuple)):
        items = [earned(v, f"{path}.{i}") for i, v in enumerate(figures)]
        return [v for v, _ in items], [w for _, ws in items for w in ws]
    return figures, []


def run_bench(bench: Bench, p: Params, console: Console, log: Log) -> dict[str, Any]:
    """Run one bench; its document: name, params, figures, tables, time taken."""
    started = time.monotonic()
    figures, tables = bench.measure(p, log)
    figures, unmeasured = earned(figures)
    for t in tables:
        print_table(t, console)
    return {
        "unmeasured": unmeasured,
        "bench": bench.name,
        "summary": bench.summary,
        "profile": p.profile,
        "params": {"trials": p.trials, "seconds": p.seconds, "variant": p.variant, **p.knobs},
        "figures": figures,
        "tables": [asdict(t) for t in tables],
        "bench_s": time.monotonic() - started,
    }


def suite_document(docs: list[dict[str, Any]], profile: str) -> dict[str, Any]:
    return {
        "kind": "bench",
        "environment": environment.envelope(profile=profile),
        "profile": profile,
        "benches": docs,
    }


EPILOG = (
    "examples:\n  testbed bench --profile quick\n"
    "  testbed bench quickfix_gap --trials 5 --seconds 2 --json gap.json\n"
    "  testbed bench --json bench.json --html bench.html\n\n"
    "exit codes: 0 done, 2 bad usage, 3 a bench failed to run"
)


def add_arguments(p: argparse.ArgumentParser, names: Sequence[str] | None) -> None:
    """The options of every bench; `names` (the NAME arguments) for `testbed bench`."""
    if names is not None:
        p.add_argument(
            "names", nargs="*", metavar="NAME", help=f"benches (default all): {', '.join(names)}"
        )
    p.add_argument("--profile", default="default", help=f"{'|'.join(PROFILES)} (default default)")
    p.add_argument(
        "--trials", type=int, help=f"trials a figure, overriding the profile (1..{MAX_TRIALS})"
    )
    p.add_argument(
        "--seconds",
        type=float,
        help=f"seconds a timed run, overriding the profile (0 < s <= {MAX_SECONDS:g})",
    )
    p.add_argument("--variant", help="the variant, for a bench that takes one")
    p.add_argument("--json", metavar="PATH|-", help="the result document (default bench/results/)")
    p.add_argument("--html", metavar="PATH", help="an HTML report of the result")


def execute(
    benches: Sequence[Bench],
    profile: str = "default",
    trials: int | None = None,
    seconds: float | None = None,
    variant: str | None = None,
    json_path: str | None = None,
    html_path: str | None = None,
) -> int:
    """Check everything, run the benches in order, write the suite document (and HTML)."""
    from testbed.harness import output_paths as outputs

    check_options(benches, profile, trials, seconds, variant)
    outputs.check_writable(json_path, "--json")
    outputs.check_writable(html_path, "--html", suffix=".html")
    plan = [(b, params(b, profile, trials, seconds, variant)) for b in benches]
    log_console = Console(stderr=True, emoji=False, highlight=False)
    out = Console(
        stderr=json_path == "-", width=max(Console().width, 120), emoji=False, highlight=False
    )
    started = time.monotonic()

    def log(msg: str) -> None:
        log_console.print(f"[{time.monotonic() - started:5.0f} s] {msg}", markup=False)

    docs = []
    failed = []
    for b, p in plan:
        log(f"bench {b.name} ({profile}: trials {p.trials}, seconds {p.seconds:g}) ...")
        try:
            docs.append(run_bench(b, p, out, lambda m, n=b.name: log(f"{n}: {m}")))
        except Exception as e:  # a run that could not be measured, or a bench's own bug:
            # named, the other benches run, the suite fails; the traceback in the document
            log(f"bench {b.name} failed: {type(e).__name__}: {e}")
            failed.append(b.name)
            docs.append({"bench": b.name, "summary": b.summary, "profile": profile,
                         "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(),
                         "figures": {}, "tables": []})  # fmt: skip
    doc = suite_document(docs, profile)
    doc["failed"] = failed
    if json_path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = docs[0]["bench"] if len(docs) == 1 else "suite"
        json_path = str(Path("bench") / "results" / f"{name}-{profile}-{stamp}.json")
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
    outputs.write_json(json_path, doc, strict=True)  # figures earned: no NaN can remain
    if json_path != "-":
        out.print(f"result document: {json_path}")
    if html_path:
        from testbed.report.html import write_html

        write_html([doc], html_path)
        out.print(f"HTML report: {html_path}")
    return EXIT_ABORTED if failed else 0


def main(bench: Bench, argv: list[str] | None = None) -> int:
    """`python -m testbed.bench.NAME [options]`: the one bench, through the harness."""
    p = argparse.ArgumentParser(
        prog=f"python -m testbed.bench.{bench.name}",
        description=bench.summary,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p, None)
    args = p.parse_args(argv)
    try:
        return execute([bench], args.profile, args.trials, args.seconds, args.variant,
                       args.json, args.html)  # fmt: skip
    except ConfigError as e:
        print(f"python -m testbed.bench.{bench.name}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
