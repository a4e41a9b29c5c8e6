"""Writing a bench's result document: every bench writes one JSON file and says where."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console


def write(path: str | Path, doc: Any, console: Console) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    console.print(f"result document: {path}")
    return path
