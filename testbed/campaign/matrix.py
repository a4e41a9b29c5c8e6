"""A campaign's matrix: for each scenario, every variant x strategy x pin, `trials` seeded
runs; every option checked (through the stress parser itself) before anything runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.harness import loader, perturb
from testbed.harness.options import PINS, stress_parser
from testbed.scenario import ConfigError

MAX_TRIALS = 1_000_000
MAX_RUN_S = 3600.0
# options the campaign sets itself a run: a scenario's options may not set them again
OWN = ("--variant", "--perturb", "--pin", "--seed", "--duration", "--rounds",
       "--max-failures", "--json", "--trace-dir")  # fmt: skip


@dataclass
class Entry:
    """One scenario of a campaign and its axes."""

    scenario: str  # a reference, made canonical (absolute file paths)
    variants: list[str]
    strategies: list[str]
    pins: list[str]
    trials: int
    duration_s: float
    options: list[str] = field(default_factory=list)  # the scenario's and run's own options


@dataclass(frozen=True)
class Run:
    """One run of the matrix: its cell, its trial, its seed and its command line."""

    cell: str
    key: dict[str, str]
    trial: int
    seed: int
    argv: list[str]

    @property
    def command(self) -> str:
        import shlex

        return shlex.join(["testbed", "stress", *self.argv])


def _split_list(value: str | list[str], option: str) -> list[str]:
    items = value if isinstance(value, list) else value.split(",")
    items = [str(s).strip() for s in items if str(s).strip()]
    if not items:
        raise ConfigError(f"{option} {value!r}: expected a comma-separated list")
    return items


def entry(
    scenario: str,
    variants: str | list[str] = "all",
    strategies: str | list[str] = "none",
    pins: str | list[str] = "none",
    trials: int = 10,
    duration_s: float = 2.0,
    options: list[str] | None = None,
) -> Entry:
    """A checked entry: ConfigError naming the bad value and the accepted ones."""
    ref = loader.canonical(scenario)
    sc = loader.load(ref)
    vs = list(sc.variants) if variants in ("all", ["all"]) else _split_list(variants, "--variants")
    for v in vs:
        if v not in sc.variants:
            raise ConfigError(f"--variants {v!r}: expected all or some of {', '.join(sc.variants)}")
    ss = _split_list(strategies, "--strategies")
    for s in ss:
        perturb.parse(s)
    ps = _split_list(pins, "--pins")
    for p in ps:
        if p not in PINS:
            raise ConfigError(f"--pins {p!r}: expected some of {', '.join(PINS)}")
    if not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise ConfigError(f"--trials {trials}: expected 1..{MAX_TRIALS}")
    if not (isinstance(duration_s, int | float) and math.isfinite(duration_s)
            and 0 < duration_s <= MAX_RUN_S):  # fmt: skip
        raise ConfigError(f"--duration {duration_s}: expected 0 < seconds <= {MAX_RUN_S:g}")
    opts = list(options or [])
    for o in opts:
        if o.split("=", 1)[0] in OWN:
            raise ConfigError(f"{o}: the campaign sets it a run; expected a scenario option")
    e = Entry(ref, vs, ss, ps, trials, float(duration_s), opts)
    # the stress parser itself checks the scenario's options, once per variant
    from testbed.harness.options import run_options

    parser = stress_parser(sc, ref, prog="testbed campaign")
    for v in vs:
        run_options(sc, ref, parser.parse_args(_argv(e, v, ss[0], ps[0], 0, None)))
    return e


def _argv(e: Entry, variant: str, strategy: str, pin: str, seed: int, trace_dir: str | None):
    argv = ["--variant", variant, "--perturb", strategy, "--pin", pin, "--seed", str(seed),
            "--duration", f"{e.duration_s:g}", "--max-failures", "1"]  # fmt: skip
    if trace_dir:
        argv += ["--trace-dir", trace_dir]
    return argv + e.options


def runs(entries: list[Entry], seed: int, trace_dir: str) -> list[Run]:
    """Every run of the matrix, trials outermost (trial k of every cell before trial k+1, so
    a budget cut leaves every cell with about as many runs), trial k seeded seed + k."""
    trace_dir = str(Path(trace_dir).resolve())
    cells = []
    for e in entries:
        for v in e.variants:
            for s in e.strategies:
                for p in e.pins:
                    key = {"scenario": loader.load(e.scenario).name, "variant": v,
                           "strategy": s, "pin": p}  # fmt: skip
                    cells.append((e, key))
    out = []
    trials = max(e.trials for e in entries)
    for t in range(trials):
        for i, (e, key) in enumerate(cells):
            if t < e.trials:
                s = (seed + t) % 2**32
                argv = [e.scenario, *_argv(e, key["variant"], key["strategy"], key["pin"], s,
                                            trace_dir)]  # fmt: skip
                out.append(Run(f"c{i}", key, t, s, argv))
    return out


def from_toml(path: str, defaults: dict[str, Any]) -> list[Entry]:
    """Entries of a campaign file: `[[scenario]]` tables with `ref`, and optionally
    `variants`, `strategies`, `pins`, `trials`, `duration`, `options` (a list of strings);
    the command line's values are the defaults."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise ConfigError("--file needs Python 3.11 or later (tomllib)") from None
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--file {path}: no such file")
    try:
        data = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"--file {path}: not TOML ({e})") from None
    tables = data.get("scenario")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"--file {path}: expected one or more [[scenario]] tables with ref = ...")
    known = {"ref", "variants", "strategies", "pins", "trials", "duration", "options"}
    entries = []
    for t in tables:
        unknown = set(t) - known
        if unknown or "ref" not in t:
            raise ConfigError(
                f"--file {path}: [[scenario]] {t.get('ref', '?')}: keys {sorted(unknown)} "
                f"unknown or ref missing; expected {', '.join(sorted(known))}"
            )
        ref = t["ref"]
        if ref.split(":")[0].endswith(".py") and not Path(ref.split(":")[0]).is_absolute():
            ref = str(p.parent / ref)  # a scenario file beside the campaign file
        entries.append(
            entry(ref, t.get("variants", defaults["variants"]),
                  t.get("strategies", defaults["strategies"]), t.get("pins", defaults["pins"]),
                  t.get("trials", defaults["trials"]), t.get("duration", defaults["duration"]),
                  [str(o) for o in t.get("options", [])])
        )  # fmt: skip
    return entries
