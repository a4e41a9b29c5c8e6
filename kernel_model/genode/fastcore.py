"""Genode's core in C (`_fastcore.c`): the same requests and answers as `core.Core`, faster.

`core.Core` stays the readable reference; tests/test_fastcore.py runs both on random request
sequences and compares every answer and the final state. No pager: a run with page tables
(stack-overflow, stack-growth, page-fault) uses the Python core.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.machinery
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from kernel_model.genode.core import Core
from kernel_model.genode.status import Status

_HERE = Path(__file__).resolve().parent
_STATUS = tuple(Status)
MAX_DATASPACES = 1 << 16  # as ram.RamService's default


class FastCoreMissing(RuntimeError):
    pass


@cache
def lib() -> ctypes.PyDLL:
    """The loaded C core; raises FastCoreMissing with the command that builds it."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = _HERE / f"_fastcore{suffix}"
        if path.exists():
            break
    else:
        raise FastCoreMissing(
            f"the C core (kernel_model/genode/_fastcore*.so) is not built in {_HERE}; "
            "build it with `make install`, or run with `--core python`"
        )
    so = ctypes.PyDLL(str(path))  # keeps the GIL: cheaper a call, and nothing here blocks
    u64, i64, vp = ctypes.c_uint64, ctypes.c_int64, ctypes.c_void_p
    for name, res, args in (
        ("fc_new", vp, (u64, ctypes.POINTER(vp), u64, u64)),
        ("fc_free", None, (vp,)),
        ("fc_serve", u64, (vp, u64, u64, u64, u64, u64)),
        ("fc_serve_mailbox", i64, None),  # hot: (core, mailbox, client), no conversion
        ("fc_serve_recorded", i64, None),
        ("fc_set_recorder", None, (vp, vp, u64)),
        ("fc_set_sessions", ctypes.c_int, (vp, ctypes.POINTER(u64), u64)),
        ("fc_pack", u64, (u64, u64, u64, u64)),
        ("fc_used", u64, (vp, u64)),
        ("fc_next_id", u64, (vp,)),
        ("fc_count", u64, (vp,)),
        ("fc_dataspace", ctypes.c_int, (vp, u64, ctypes.POINTER(u64))),
        ("fc_next_attachment", i64, (vp, u64, u64, ctypes.POINTER(u64))),
    ):
        fn = getattr(so, name)
        fn.restype = res
        if args is not None:
            fn.argtypes = args
    return so


class FastCore:
    """Core.serve's contract, in C: `serve(op, pd, a0, a1, a2) -> (Status, value)`.

    `bitmaps` are the addresses of each PD's page bitmap (AREA_PAGES bits), as the Python
    core's `page_bitmap`. `serve_mailbox(address)` serves the request in a testbed mailbox
    in place (one C call, no word crosses into Python): the core server's fast path."""

    key = staticmethod(Core.key)
    describe = staticmethod(Core.describe)

    def __init__(
        self,
        npds: int,
        bitmaps: Sequence[int],
        ram_quota: int,
        max_dataspaces: int = MAX_DATASPACES,
    ):
        if len(bitmaps) != npds:
            raise ValueError(f"{len(bitmaps)} page bitmaps for {npds} PDs")
        so = lib()
        self.npds, self._so = npds, so
        arr = (ctypes.c_void_p * max(npds, 1))(*bitmaps)
        self._c = ctypes.c_void_p(so.fc_new(npds, arr, ram_quota, max_dataspaces))
        if not self._c.value:
            raise MemoryError("the C core could not allocate its tables")
        # serve() passes its words through a scratch mailbox: five stores into a memoryview
        # and a call with two ready pointers cost a third of a call with six converted
        # 64-bit arguments (fc_serve's argtypes)
        self._scratch = (ctypes.c_uint64 * 8)()
        self._words = memoryview(self._scratch).cast("B").cast("Q")
        self._call = functools.partial(
            so.fc_serve_mailbox, self._c, ctypes.c_void_p(ctypes.addressof(self._scratch)), 0
        )

    def serve(self, op: int, pd: int, a0: int, a1: int, a2: int) -> tuple[Status, int]:
        w = self._words
        w[1], w[2], w[3], w[4], w[5] = op, pd, a0, a1, a2
        return _STATUS[self._call()], w[7]

    def mailbox_server(
        self, record: tuple[int, int] | None = None, sessions: Sequence[int] = ()
    ) -> Callable[[ctypes.c_void_p, int], int]:
        """`serve(mailbox, client)`: serve the request in the testbed mailbox at that address
        in place and answer its status (pass a c_void_p: ctypes then converts nothing).
        With `record` = (address of the testbed's C `tb_rec_what`, CORE_EVENT) each request
        is also recorded as the core server records it, in the same call. `sessions[client]`
        is the PD a client's requests are served for (the PD word of its mailbox is not
        read: a client cannot act for another PD)."""
        if sessions:
            arr = (ctypes.c_uint64 * len(sessions))(*sessions)
            if not self._so.fc_set_sessions(self._c, arr, len(sessions)):
                raise MemoryError("fc_set_sessions")
        if record is not None:
            self._so.fc_set_recorder(self._c, *record)
        fn = self._so.fc_serve_recorded if record is not None else self._so.fc_serve_mailbox
        serve = functools.partial(fn, self._c)
        serve.core = self  # the C state lives as long as the function that uses it
        # for a server loop in C: the function and its first argument, by address
        serve.c_function = (ctypes.cast(fn, ctypes.c_void_p).value, self._c.value)
        return serve

    # -- the state, for the differential test ------------------------------------------
    def used(self, pd: int = 0) -> int:
        return self._so.fc_used(self._c, pd)

    def next_id(self) -> int:
        return self._so.fc_next_id(self._c)

    def dataspaces(self, ids: Sequence[int]) -> dict[int, tuple[int, int, int]]:
        """{ds: (owner, size, attached)} for those of `ids` that exist; `count()` says how
        many exist in all."""
        out, buf = {}, (ctypes.c_uint64 * 3)()
        for ds in ids:
            if self._so.fc_dataspace(self._c, ds, buf):
                out[ds] = tuple(buf)
        return out

    def count(self) -> int:
        return self._so.fc_count(self._c)

    def attachments(self, pd: int) -> dict[int, tuple[int, int]]:
        """{offset: (ds, size)} of PD pd's region map."""
        out, buf, page = {}, (ctypes.c_uint64 * 2)(), 0
        while (page := self._so.fc_next_attachment(self._c, pd, page, buf)) >= 0:
            out[page * 4096] = (buf[0], buf[1] * 4096)
            page += 1
        return out

    def close(self) -> None:
        if self._c.value:
            self._so.fc_free(self._c)
            self._c = ctypes.c_void_p(0)

    def __del__(self) -> None:
        self.close()
