"""Requests to core: one mailbox per client in shared memory, a doorbell, a reply semaphore each.

The mailboxes are a segment of their own, one page a client (as a UTCB is): core maps them
all, a client maps its own page only, so no process can write another's request or answer.
The runner unlinks the segment's name once every process has mapped it (nobody opens it
later), and core serves a client only if its own mailbox holds a request: the pending bits
are in the shared segment, a hint that any actor could set.

The handshake itself runs in the C library (mailbox.c), one call a side per request.

The handshake is futex-like, so a request costs a semaphore operation only when the other
side is really asleep:
- client: write the request, mark it pending, and ring the doorbell only if core said it
  was going to sleep (`core_waiting`); then spin briefly on the mailbox state, and only if
  no reply came, move REQUEST -> WAITING with a CAS and block on its reply semaphore.
- core: announce `core_waiting`, look for pending requests once more, then block on the
  doorbell. A reply moves the state to REPLIED and posts the semaphore only if the client
  had moved it to WAITING.
"""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Callable

import posix_ipc

from testbed.ipc.control import ABORT, CORE_WAITING
from testbed.ipc.native import address_of, lib, sem_open
from testbed.ipc.segment import Layout, Segment, reserve

WORDS = 8  # state, op, (unused), a0, a1, a2, status, value: one cache line a mailbox
ST, OP, UNUSED, A0, A1, A2, STATUS, VALUE = range(WORDS)
# No request names its PD: core knows each client's PD from the run's spec (its session),
# so a client cannot act for another PD whatever it writes into its mailbox.


class CoreUnreachable(RuntimeError):
    """No reply within the timeout: core died or the run was aborted (exit 3)."""


PAGE = mmap.PAGESIZE
STRIDE = PAGE // 8  # words from one client's mailbox to the next's: a page each


def add_regions(layout: Layout, nclients: int) -> None:
    """The pending bits, in the shared segment (the mailboxes are a segment of their own)."""
    layout.add_words("pending", (nclients + 63) // 64)


def create(name: str, nclients: int) -> None:
    """Make the mailbox segment, a zeroed page a client, its pages reserved in /dev/shm."""
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, size=PAGE * nclients)
    try:
        reserve(shm.fd, PAGE * nclients, name)
    finally:
        shm.close_fd()


class Boxes:
    """A process's mapping of the mailbox segment: every client's page (`index` None: core)
    or client `index`'s page only. `words(i)` is client i's mailbox, `address(i)` its
    address; a client asking for another's gets a PermissionError."""

    def __init__(self, name: str, nclients: int, index: int | None = None):
        self.index = index
        shm = posix_ipc.SharedMemory(name)
        try:
            if index is None:
                self.mm = mmap.mmap(shm.fd, PAGE * nclients)
            else:
                self.mm = mmap.mmap(shm.fd, PAGE, offset=PAGE * index)
        finally:
            shm.close_fd()
        self.base = address_of(self.mm)
        self._words = memoryview(self.mm).cast("Q")

    def _offset(self, i: int) -> int:
        if self.index is None:
            return STRIDE * i
        if i != self.index:
            raise PermissionError(f"mailbox {i}: client {self.index} maps its own mailbox only")
        return 0

    def words(self, i: int) -> memoryview:
        o = self._offset(i)
        return self._words[o : o + WORDS]

    def address(self, i: int) -> int:
        return self.base + 8 * self._offset(i)

    def close(self) -> None:
        self._words.release()
        try:
            self.mm.close()
        except BufferError:  # a view still held: the mapping goes at exit
            pass


class Client:
    """One process's end of its mailbox. `call(op, a0=0, a1=0, a2=0) -> (status, value)` is
    one request and its reply: a C builtin (testbed/ipc/hooks.c) that writes the request
    into the mailbox and does the handshake, the spin and the wait (mailbox.c's tb_call),
    with no ctypes call and no Python frame in between (raises CoreUnreachable)."""

    def __init__(
        self,
        seg: Segment,
        index: int,
        doorbell: str,
        reply_sem: str,
        spin_s: float,
        timeout: float,
        boxes: Boxes | None = None,  # None: a "mailboxes" region of `seg` (tests)
    ):
        so = lib()
        if boxes is not None:
            self.w, mb = boxes.words(index), boxes.address(index)
        else:
            self.w = seg.words("mailboxes")[WORDS * index : WORDS * (index + 1)]
            mb = seg.address("mailboxes", WORDS * index)
        self._c = ctypes.c_void_p(
            so.tb_client_new(
                mb,
                seg.address("pending", index // 64),
                1 << (index % 64),
                seg.address("control", CORE_WAITING),
                sem_open(doorbell),
                sem_open(reply_sem),
                spin_s,
                timeout,
                seg.address("control", ABORT),
            )
        )
        self.timeout = timeout
        self.call: Callable[..., tuple[int, int]] = so.tb_hook_call(
            self._c,
            mb,
            CoreUnreachable,
            CoreUnreachable("the run was aborted while waiting for core"),
            CoreUnreachable(f"no reply from core within {timeout:g} s (core died or is stuck)"),
        )


class Server:
    """Core's end: one call into the C library answers a request and waits for the next."""

    def __init__(
        self,
        seg: Segment,
        nclients: int,
        doorbell: str,
        reply_sems: list[str],
        spin_s: float,
        timeout: float = 0.1,
        boxes: Boxes | None = None,  # None: a "mailboxes" region of `seg` (tests)
    ):
        so = lib()
        if boxes is not None:
            self.mb, base, self.stride = boxes._words, boxes.base, STRIDE
        else:
            self.mb, base, self.stride = seg.words("mailboxes"), seg.address("mailboxes"), WORDS
        self._s = ctypes.c_void_p(
            so.tb_server_new(
                seg.address("pending"),
                (nclients + 63) // 64,
                seg.address("control", CORE_WAITING),
                base,
                nclients,
                sem_open(doorbell),
                spin_s,
                timeout,
                self.stride,
            )
        )
        for i, name in enumerate(reply_sems):
            so.tb_server_set_reply(self._s, i, sem_open(name))
        self._step, self._run = so.tb_server_step, so.tb_server_run
        self._pystep = so.tb_hook_step(self._s, base, self.stride)
        self._boxes = [ctypes.c_void_p(base + 8 * self.stride * i) for i in range(nclients)]

    def serve(
        self, handle: Callable[[int, int, int, int, int], tuple[int, int]], batch: int = 4096
    ) -> int:
        """Answer up to `batch` requests with `handle(client, op, a0, a1, a2) -> (status,
        value)`, or until none comes within the timeout (or the doorbell rings with none);
        returns how many, so the caller can look around. The last request is answered by
        the next call's first step. Each step is one call of a C builtin (hooks.c): it
        writes the answer, does the handshake and hands over the next request's words."""
        step, mb, stride = self._pystep, self.mb, self.stride
        request = step()
        for n in range(batch):
            if request is None:
                return n
            status, value = handle(*request)
            if n + 1 == batch:  # answered by the next call's first step
                b = stride * request[0]
                mb[b + STATUS], mb[b + VALUE] = status, value
                return batch
            request = step(status, value)
        return batch

    def serve_in_place(
        self, serve: Callable[[ctypes.c_void_p, int], int], batch: int = 4096
    ) -> int:
        """As `serve`, for a handler in C, `serve(mailbox address, client)`, that reads the
        request from the mailbox and writes STATUS and VALUE itself: no word passes through
        Python (about 0.8 us less a request here than `serve` with the same C handler). If
        `serve.c_function` is (address of a C `serve(core, mailbox, client)`, core), the
        whole batch runs in C (mailbox.c's tb_server_run): no Python between requests."""
        c_function = getattr(serve, "c_function", None)
        if c_function is not None:
            return self._run(self._s, *c_function, batch)
        step, s, boxes = self._step, self._s, self._boxes
        for n in range(batch):
            i = step(s)
            if i < 0:
                return n
            serve(boxes[i], i)
        return batch
