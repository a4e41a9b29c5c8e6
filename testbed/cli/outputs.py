"""Files the CLI writes: checked before anything runs (a run of minutes must not end in a
traceback because a directory is missing), written whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testbed.harness.output_paths import check_directory, check_writable

__all__ = ["check_directory", "check_writable", "write_json"]


def write_json(path: str, doc: Any) -> None:
    text = json.dumps(doc, indent=2)
    if path == "-":
        print(text)
    else:
        Path(path).write_text(text + "\n")
