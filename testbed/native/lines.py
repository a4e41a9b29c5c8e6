"""Where in a native actor's C source an address is: the library it is in (dladdr), then its
file, line and function (addr2line on the -g build), for `testbed explain`'s story."""

from __future__ import annotations

import ctypes
import functools
import linecache
import shutil
import subprocess
from typing import Any

from testbed.native import build


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("fname", ctypes.c_char_p),
        ("fbase", ctypes.c_void_p),
        ("sname", ctypes.c_char_p),
        ("saddr", ctypes.c_void_p),
    ]


@functools.cache
def _dladdr() -> Any:
    fn = ctypes.CDLL(None).dladdr
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)], ctypes.c_int
    return fn


@functools.cache
def source_line(address: int) -> dict[str, Any]:
    """`{file, line, function, code}` of a return address in a native library (the call's
    line: the address less one), the first frame outside testbed.h when calls were inlined;
    {} when it cannot be told (no addr2line, no debug information)."""
    info = _DlInfo()
    addr2line = shutil.which("addr2line")
    if not address or addr2line is None or not _dladdr()(address, ctypes.byref(info)):
        return {}
    if not info.fname or not info.fbase:
        return {}
    offset = address - info.fbase - 1
    try:
        out = subprocess.run(
            [addr2line, "-e", info.fname.decode(), "-f", "-i", hex(offset)],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.splitlines()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    header = str(build.INCLUDE / "testbed.h")
    for function, where in zip(out[::2], out[1::2], strict=False):
        file, _, line = where.rpartition(":")
        line = line.split(" ", 1)[0]  # "14 (discriminator 2)"
        if file == "??" or not line.isdigit() or int(line) == 0 or file == header:
            continue
        return {
            "file": file,
            "line": int(line),
            "function": function,
            "code": linecache.getline(file, int(line)).strip(),
        }
    return {}
