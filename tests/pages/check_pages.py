"""`make check-pages`: make one report page of each kind (stress, explore, campaign, bench) from
real runs, open each in headless Chromium as a user would, and fail on a blank page, a script
error, a request leaving the page, embedded JSON the browser cannot parse, or a missing failure
table. Screenshots land in OUT (default build/pages) for a person to look at."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
)  # fmt: skip
WIDTH, HEIGHT = 1400, 2400
# the explore page's failing scenario, a test scenario file copied into OUT and run from there
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "racy_increment.py"
# each kind of page: the commands that make its documents (run in OUT), and whether its
# failure table must list at least one failing row
PAGES = {
    "stress": (
        [["stress", "genode-mutants", "--variant", "ipc_window", "--duration", "1", "--seed",
          "3", "--json", "stress.json"]],
        ["stress.json"], True,
    ),
    "explore": (
        [["explore", "racy_increment.py", "--variant", "unlocked", "--max-failures", "0",
          "--seed", "1", "--json", "explore.json"]],
        ["explore.json"], True,
    ),
    "campaign": (
        [["campaign", "genode-mutants", "--variants", "ipc_window,bitalloc", "--trials", "2",
          "--duration", "1", "--seed", "5", "--json", "campaign.json"]],
        ["campaign.json"], True,
    ),
    "bench": (
        [["bench", "rtems_switch", "--profile", "quick", "--json", "bench.json"]],
        ["bench.json"], False,
    ),
}  # fmt: skip


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    sys.exit("check-pages: no chromium on PATH (make check-pages installs Debian's chromium)")


def testbed(out: Path, *args: str, ok: tuple[int, ...] = (0, 1)) -> None:
    """Run `testbed ARGS` in `out`; exit 1 (a FORBIDDEN outcome) is what most pages show."""
    cmd = [sys.executable, "-m", "testbed.cli", *args]
    r = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=300)
    if r.returncode not in ok:
        sys.exit(f"check-pages: {' '.join(args)} exited {r.returncode}:\n{r.stderr[-2000:]}")


def browse(browser: str, page: Path, png: Path) -> dict[str, str]:
    """Open `page`, screenshot it, and answer the data-* attributes its own script set."""
    with tempfile.TemporaryDirectory() as profile:
        flags = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        url = page.resolve().as_uri()
        r = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
        subprocess.run([*flags, f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={png}", url],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    m = re.search(r"<body([^>]*)>", r.stdout)
    if not m:
        return {"errors": f"no DOM (chromium exited {r.returncode}): {r.stderr[-500:]}"}
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', m.group(1)))


def blank(png: Path) -> float:
    """The share of the screenshot's pixels that are not the page's white."""
    hist = Image.open(png).convert("L").histogram()
    return sum(hist[:245]) / sum(hist)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="build/pages", help="where pages and screenshots go")
    ap.add_argument("--kinds", default=",".join(PAGES), help="which kinds of page")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCENARIO, out / SCENARIO.name)
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    browser, problems = chromium(), []
    for name in args.kinds.split(","):
        commands, docs, wants_failures = PAGES[name]
        for c in commands:
            testbed(out, *c)
        page = out / f"{name}.html"
        testbed(out, "report", *docs, "--html", page.name, ok=(0,))
        png = out / f"{name}.png"
        attrs = browse(browser, page, png)
        ink = blank(png) if png.exists() else 0.0
        found = []
        if attrs.get("rendered") != "yes":
            found.append("the page's script never ran to its end")
        if attrs.get("errors"):
            found.append(f"script errors: {attrs['errors']}")
        if attrs.get("requests", "0") != "0":
            found.append(f"{attrs['requests']} requests left the page")
        if attrs.get("documents") != str(len(docs)):
            found.append("the embedded JSON did not parse to the documents")
        rows = int(attrs.get("failure-rows", "0") or 0)
        if wants_failures and rows == 0:
            found.append("no row in the failure table")
        if ink < 0.02:
            found.append(f"a blank screenshot ({ink:.1%} of it drawn)")
        status = "ok" if not found else "FAILED: " + "; ".join(found)
        print(f"{name:9s} {page}  failure rows {rows}, {ink:.0%} drawn, screenshot {png}: "
              f"{status}")  # fmt: skip
        problems += found
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
