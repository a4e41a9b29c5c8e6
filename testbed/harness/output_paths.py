"""Output paths checked before anything runs: a run of minutes must not end in a traceback
(or create directories anywhere) because an output path is wrong; and result documents written
whole. Used by every command, the benches, `testbed.run` and the pytest plugin."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from testbed.scenario import ConfigError


def check_writable(path: str | None, option: str, suffix: str = "") -> None:
    """ConfigError unless `path` can be written: its directory exists and is writable, it is
    not a directory, and it has `suffix` if one is required. "-" is standard output."""
    if path is None or path == "-":
        return
    p = Path(path)
    if suffix and p.suffix.lower() != suffix:
        raise ConfigError(f"{option} {path}: expected a file name ending in {suffix}")
    if p.is_dir():
        raise ConfigError(f"{option} {path}: is a directory, expected a file name")
    if p.exists() and not p.is_file() and str(p) not in STREAMS:
        raise ConfigError(
            f"{option} {path}: not a regular file (a device, a FIFO or a socket); expected a "
            f"file name, or one of {', '.join(STREAMS)}"
        )
    _check_parent(p, path, option)
    _probe_file(p, path, option)


STREAMS = ("/dev/null", "/dev/stdout", "/dev/stderr")  # not files, but written as usual


def check_directory(path: str | None, option: str) -> None:
    """ConfigError unless `path` is a writable directory, or can be made one in a directory
    that exists (only the last component is ever created)."""
    if path is None:
        return
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"{option} {path}: is not a directory")
        if not os.access(p, os.W_OK):
            raise ConfigError(f"{option} {path}: directory is not writable")
        _probe_directory(p, path, option)
        return
    _check_parent(p, path, option)
    _probe_directory(p.parent if str(p.parent) else Path("."), path, option)


def _check_parent(p: Path, path: str, option: str) -> None:
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{option} {path}: directory {parent} is not writable")


def _probe_file(p: Path, path: str, option: str) -> None:
    """Open the file as the run will (os.access says yes to root even where no file can be
    made, as in /proc or on a read-only mount): an existing file opened for appending (its
    content untouched), a new one created and removed again."""
    try:
        if p.exists():
            with open(p, "ab"):
                pass
        else:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            os.unlink(p)
    except OSError as e:
        raise ConfigError(f"{option} {path}: cannot be written ({e.strerror})") from None


def _probe_directory(d: Path, path: str, option: str) -> None:
    """Make and remove a file in `d`: the directory takes files, whoever asks."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".testbed-probe-", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"{option} {path}: directory {d} takes no file ({e.strerror})") from None


def write_json(path: str, doc: Any, strict: bool = False) -> None:
    """The document as indented JSON to `path`, or to standard output for "-"; `strict`:
    ValueError rather than a bare NaN or Infinity (which is not JSON)."""
    text = json.dumps(doc, indent=2, allow_nan=not strict)
    try:
        if path == "-":
            print(text)
        else:
            Path(path).write_text(text + "\n")
    except OSError as e:  # a full disk: said, not a traceback (exit 2)
        raise ConfigError(
            f"{path}: the result document could not be written: {e.strerror}"
        ) from None
