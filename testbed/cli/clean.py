"""`testbed clean`: remove the shared memory and semaphores of runs whose owner is gone."""

from __future__ import annotations

import argparse

from testbed.cli.common import SIMPLE_EXIT
from testbed.harness.options import formatter
from testbed.ipc import names


def register(sub: argparse._SubParsersAction) -> None:
    cl = sub.add_parser(
        "clean",
        help="remove your shared memory and semaphores left by runs whose owner is gone",
        formatter_class=formatter,
        epilog="examples:\n  testbed clean\n  testbed clean --dry-run\n"
        "  testbed clean --all --force   # every run's objects, live ones too\n\n" + SIMPLE_EXIT,
    )
    cl.add_argument("--all", action="store_true", help="also other users' objects")
    cl.add_argument(
        "--force", action="store_true", help="also objects of runs still alive (they then fail)"
    )
    cl.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")


def run(args: argparse.Namespace) -> int:
    removed, kept = names.clean(all_users=args.all, force=args.force, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for obj in removed:
        print(f"{verb} {obj.kind} {obj.name}")
    for k in kept:
        print(f"kept {k.obj.kind} {k.obj.name} ({k.why})")
    print(f"{len(removed)} {verb}, {len(kept)} kept")
    return 0
