"""Loads the C library (testbed/ipc/*.c, tb.h lists its functions) with ctypes: bitmap ranges and
atomic words, the mailbox handshake, page tables, recording, the iteration gate, the step handoff.

Every call costs 100-300 ns, so callers hand it whole ranges, never one bit at a time.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
from functools import cache, partial
from pathlib import Path

_HERE = Path(__file__).resolve().parent


class NativeLibraryMissing(RuntimeError):
    pass


@cache
def lib() -> ctypes.PyDLL:
    """The loaded C library; raises NativeLibraryMissing with the command that builds it."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = _HERE / f"_native{suffix}"
        if path.exists():
            break
    else:
        raise NativeLibraryMissing(
            f"the testbed's C library (testbed/_native*.so) is not built in {_HERE}; "
            "build it with `make install` (or `pip install -e .` in the project directory)"
        )
    # PyDLL keeps the GIL during a call: 0.1-0.3 us less a call than CDLL here. The calls
    # that block (a request, core's wait) run only in single-threaded child processes.
    so = ctypes.PyDLL(str(path))
    u64, i64, vp, dbl = ctypes.c_uint64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_double
    obj = ctypes.py_object
    for name, res, args in (
        ("tb_bm_first_set", i64, (vp, u64, u64)),
        ("tb_bm_first_clear", i64, (vp, u64, u64)),
        ("tb_bm_set_range", None, (vp, u64, u64)),
        ("tb_bm_clear_range", None, (vp, u64, u64)),
        ("tb_bm_count", u64, (vp, u64, u64)),
        ("tb_cas", u64, (vp, u64, u64)),
        ("tb_fetch_add", u64, (vp, u64)),
        ("tb_exchange", u64, (vp, u64)),
        ("tb_load", u64, (vp,)),
        ("tb_store", None, (vp, u64)),
        ("tb_sem_open", vp, (ctypes.c_char_p,)),
        ("tb_client_new", vp, (vp, vp, u64, vp, vp, vp, dbl, dbl, vp)),
        ("tb_call", ctypes.c_int, None),
        ("tb_server_new", vp, (vp, u64, vp, vp, u64, vp, dbl, dbl, u64)),
        ("tb_server_set_reply", None, (vp, u64, vp)),
        ("tb_server_step", i64, None),
        ("tb_recorder_bind", None, (vp, u64, vp)),
        ("tb_rec", u64, None),  # hot calls: no argtypes (converting them costs 0.2 us a call
        ("tb_rec_what", u64, None),  # here); callers pass ints < 2**31 or c_void_p objects
        ("tb_rec_store", u64, None),  # (event, words, index, lo, hi): 32-bit halves
        ("tb_rec_find", ctypes.c_int, None),  # (event, words, n, lo, hi)
        ("tb_acc_load", u64, None),  # (event, words, index)
        ("tb_acc_store", u64, None),  # (event, words, index, lo, hi)
        ("tb_acc_copy", u64, None),  # (event, words, start, n, out)
        ("tb_acc_bm_first_set", i64, None),  # (event, bm, start, n): bits, < 2**31
        ("tb_acc_bm_first_clear", i64, None),
        ("tb_acc_bm_count", u64, None),
        ("tb_acc_bm_apply", u64, None),  # (event, bm, start, n, set)
        ("tb_acc_cas", u64, None),  # (event, words, index, exp lo, hi, desired lo, hi)
        ("tb_acc_fetch_add", u64, None),  # (event, words, index, lo, hi)
        ("tb_server_run", i64, (vp, vp, vp, i64)),
        ("tb_pt_set", None, (vp, u64, u64, ctypes.c_uint8)),
        ("tb_pt_check", i64, (vp, u64, u64, ctypes.c_uint8)),
        ("tb_now_ns", u64, ()),
        ("tb_gate_spin", u64, (vp, u64, u64)),
        ("tb_gate_bind", None, (vp, u64, u64, vp, vp, u64, vp)),
        ("tb_gate_close", ctypes.c_int, (u64,)),
        ("tb_gate_open", u64, (u64, u64)),
        ("tb_spread_note", u64, (vp, u64, vp, u64)),
        ("tb_handoff_new", vp, (vp, vp, vp, vp, vp, vp, dbl)),
        ("tb_handoff_free", None, (vp,)),
        ("tb_handoff_give", i64, (vp,)),
        ("tb_handoff_bump", None, (vp,)),
        ("tb_handoff_wait", i64, (vp, u64, ctypes.c_int, dbl)),
        ("tb_handoff_pass", i64, (vp, vp, dbl)),
        ("tb_handoff_stat", u64, (vp, ctypes.c_int)),
        ("tb_handoff_announce", i64, (vp,)),
        ("tb_handoff_block", i64, (vp, dbl)),
        # hooks.c: each answers a builtin function for a hot path (see `hooks`)
        ("tb_hook_point", obj, (obj, vp, ctypes.c_int)),
        ("tb_hook_record", obj, ()),
        ("tb_hook_store", obj, (ctypes.c_uint32, vp, u64)),
        ("tb_hook_find", obj, (ctypes.c_uint32, vp, u64)),
        ("tb_hook_call", obj, (vp, vp, obj, obj, obj)),
        ("tb_hook_step", obj, (vp, vp, u64)),
        ("tb_hook_record_request", obj, (u64, u64)),
        ("tb_hook_lock", obj, (vp, vp, u64)),
        # access_hooks.c: a recording access-level view's operations, a tuple of builtins
        ("tb_hook_words", obj, (ctypes.c_uint32, ctypes.c_uint32, vp, ctypes.c_ssize_t)),
        ("tb_hook_bits", obj, (ctypes.c_uint32, ctypes.c_uint32, vp, ctypes.c_ssize_t)),
    ):
        fn = getattr(so, name)
        fn.restype = res
        if args is not None:
            fn.argtypes = list(args)
    return so


def address_of(buffer, offset: int = 0) -> int:
    """Address of byte `offset` of a writable buffer (an mmap or bytearray)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer, offset))


class Bitmap:
    """A bitmap of `nbits` bits at a fixed address (64-bit words, bit i of word i // 64)."""

    __slots__ = ("addr", "nbits", "_first_set", "_first_clear", "_set", "_clear", "_count")

    def __init__(self, addr: int, nbits: int):
        so = lib()
        self.addr, self.nbits = addr, nbits
        self._first_set, self._first_clear = so.tb_bm_first_set, so.tb_bm_first_clear
        self._set, self._clear, self._count = (
            so.tb_bm_set_range,
            so.tb_bm_clear_range,
            so.tb_bm_count,
        )

    @staticmethod
    def words(nbits: int) -> int:
        return (nbits + 63) // 64

    def _check(self, start: int, n: int) -> None:
        if start < 0 or n < 0 or start + n > self.nbits:
            raise IndexError(f"bit range [{start}, {start + n}) outside [0, {self.nbits})")

    def first_set(self, start: int, n: int) -> int:
        self._check(start, n)
        return self._first_set(self.addr, start, n)

    def first_clear(self, start: int, n: int) -> int:
        self._check(start, n)
        return self._first_clear(self.addr, start, n)

    def any_set(self, start: int, n: int) -> bool:
        return self.first_set(start, n) >= 0

    def set_range(self, start: int, n: int) -> None:
        self._check(start, n)
        self._set(self.addr, start, n)

    def clear_range(self, start: int, n: int) -> None:
        self._check(start, n)
        self._clear(self.addr, start, n)

    def count(self, start: int = 0, n: int | None = None) -> int:
        n = self.nbits - start if n is None else n
        self._check(start, n)
        return self._count(self.addr, start, n)


class PageBytes:
    """`npages` one-byte page-table entries at a fixed address (see kernel_model.page_table)."""

    __slots__ = ("addr", "npages", "_set", "_check")

    def __init__(self, addr: int, npages: int):
        so = lib()
        self.addr, self.npages = addr, npages
        self._set, self._check = so.tb_pt_set, so.tb_pt_check

    def _range(self, start: int, n: int) -> None:
        if start < 0 or n < 0 or start + n > self.npages:
            raise IndexError(f"page range [{start}, {start + n}) outside [0, {self.npages})")

    def set_range(self, start: int, n: int, value: int) -> None:
        self._range(start, n)
        self._set(self.addr, start, n, value)

    def first_lacking(self, start: int, n: int, need: int) -> int:
        """First page in [start, start+n) whose entry lacks a bit of `need`, or -1."""
        self._range(start, n)
        return self._check(self.addr, start, n, need)


class Atomics:
    """Sequentially consistent operations on 64-bit words given by address."""

    __slots__ = ("cas", "fetch_add", "exchange", "load", "store")

    def __init__(self):
        so = lib()
        self.cas = so.tb_cas  # (addr, expected, desired) -> old value
        self.fetch_add = so.tb_fetch_add  # (addr, v) -> old value
        self.exchange = so.tb_exchange
        self.load = so.tb_load
        self.store = so.tb_store


class AtomicWord:
    """One 64-bit word at a fixed address, every operation sequentially consistent:
    `load()`, `store(value)`, `cas(expected, desired)` (answers the old value: the swap
    happened iff it equals `expected`), `fetch_add(value)` (answers the old value). Each is
    the C call with the address bound (functools.partial: no Python frame a call)."""

    __slots__ = ("addr", "load", "store", "cas", "fetch_add")

    def __init__(self, addr: int):
        so = lib()
        self.addr = addr
        self.load = partial(so.tb_load, addr)
        self.store = partial(so.tb_store, addr)
        self.cas = partial(so.tb_cas, addr)
        self.fetch_add = partial(so.tb_fetch_add, addr)


def sem_open(name: str) -> int:
    """A C handle on an existing named semaphore, for the mailbox calls of the C library."""
    handle = lib().tb_sem_open(name.encode())
    if not handle:
        raise FileNotFoundError(f"no semaphore {name}")
    return handle
