"""Sizes on the command line: 16K, 64K, 1M or a plain number of bytes."""

from __future__ import annotations

import re

from .scenario import ConfigError

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str, option: str, lo: int, hi: int) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ConfigError(
            f"{option} {text!r}: expected a size like 16K, 64K or 1M ({lo}..{hi} bytes)"
        )
    value = int(m.group(1)) * _UNITS[m.group(2).upper()]
    if not lo <= value <= hi:
        raise ConfigError(f"{option} {text}: {value} bytes, expected {lo}..{hi} bytes")
    return value
