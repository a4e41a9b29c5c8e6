"""The documentation still matches the tool: every `testbed ...` command in a code block of
README.md and docs/*.md parses with the real parsers (the command's, and for stress, explore
and campaign the scenario's own options), and every path the pages name in backquotes
exists."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from testbed.cli import campaign as campaign_cli
from testbed.cli import explore as explore_cli
from testbed.cli.main import build_parser
from testbed.harness import loader
from testbed.harness.options import stress_parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def commands() -> list[tuple[str, str]]:
    """(page, command) for each line of a code block that is a concrete `testbed` command: not
    a synopsis with [optional] parts or a|b choices, comments and (notes) cut off."""
    found = []
    for page in PAGES:
        for block in FENCE.findall(page.read_text()):
            for line in block.splitlines():
                line = re.sub(r"\s+(#|\().*$", "", line.strip())
                if not re.match(r"testbed [a-z]", line) or re.search(r"[\[\]|]|\.\.\.", line):
                    continue
                if any(re.fullmatch(r"[A-Z][A-Z_]*", w) for w in line.split()):
                    continue  # --variant V, --children C: a pattern, not a command
                found.append((page.name, line))
    return found


def builtin(ref: str) -> bool:
    return not ref.endswith(".py") and ":" not in ref


def check(argv: list[str]) -> None:
    """Parse `argv` (after `testbed`) as the CLI would, without running anything."""
    args = build_parser().parse_args(argv)
    if args.command in ("stress", "explore") and builtin(args.scenario):
        sc = loader.load(loader.canonical(args.scenario))
        if args.command == "stress":
            stress_parser(sc, args.scenario).parse_args(args.options)
        else:
            explore_cli.parser(sc, args.scenario).parse_args(args.options)
    elif args.command == "campaign" and args.args and not args.args[0].startswith("-"):
        ns, extra = campaign_cli.parser().parse_known_args(args.args[1:])
        if builtin(args.args[0]) and extra:
            sc = loader.load(loader.canonical(args.args[0]))
            stress_parser(sc, args.args[0]).parse_args(["--variant", next(iter(sc.variants))]
                                                       + extra)  # fmt: skip


CASES = commands()


def test_the_pages_hold_commands():
    assert len(CASES) >= 20 and {p for p, _ in CASES} >= {"README.md", "getting-started.md"}


@pytest.mark.parametrize("page, command", CASES, ids=[f"{p}:{c[:60]}" for p, c in CASES])
def test_every_command_in_the_docs_parses(page, command):
    check(shlex.split(command)[1:])


def test_a_wrong_option_is_caught():
    from testbed.harness.options import UsageError

    with pytest.raises(UsageError):
        check(["stress", "genode-race", "--variant", "racy", "--seconds", "2"])
    with pytest.raises(UsageError):
        check(["report", "x.json", "--hmtl", "x.html"])


def test_the_paths_the_pages_name_exist():
    """Paths with a directory part in backquotes (`kernel_model/genode/mmu.py`), relative to
    the repository; the user's own files (./x.py), traces and outputs aside."""
    missing = []
    for page in PAGES:
        for p in re.findall(r"`((?:testbed|kernel_model|scenarios|bench|tests)/[\w./-]+)`",
                            page.read_text()):  # fmt: skip
            if not (ROOT / p.rstrip("/")).exists() and not p.startswith("bench/results"):
                missing.append(f"{page.name}: {p}")
    assert missing == []


def printed_help(argv: list[str]) -> str:
    """What `testbed ARGV --help` prints, parsed as the CLI would."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return out.getvalue()


def test_every_help_lists_its_exit_codes():
    main_help = printed_help([])
    # the commands, as the help lists them (in its usage line and again under its arguments)
    commands = re.findall(r"\{([\w,-]+)\}", main_help)[0].split(",")
    assert {"stress", "explore", "replay", "campaign", "clean"} <= set(commands)
    helps = {n: printed_help([n]) for n in commands if n != "campaign"}
    helps["campaign"] = campaign_cli.parser().format_help()  # what `campaign --help` prints
    lacking = [n for n, text in helps.items() if "exit codes" not in text]
    assert "exit codes" in main_help and lacking == []


def test_campaign_progress_names_workers_by_host_and_index():
    from testbed.cli.campaign import worker_names

    assert worker_names(["inproc://192.0.2.2/3708/4", "inproc://192.0.2.2/3708/7",
                         "tcp://10.0.0.5:34567", "tcp://10.0.0.5:34569"]) == {
        "inproc://192.0.2.2/3708/4": "local#1", "inproc://192.0.2.2/3708/7": "local#2",
        "tcp://10.0.0.5:34567": "10.0.0.5#1", "tcp://10.0.0.5:34569": "10.0.0.5#2",
    }  # fmt: skip
