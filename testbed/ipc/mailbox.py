"""Requests to core: one mailbox per client in shared memory, a doorbell, a reply semaphore each.

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
from collections.abc import Callable

from testbed.ipc.control import ABORT, CORE_WAITING
from testbed.ipc.native import lib, sem_open
from testbed.ipc.segment import Layout, Segment

WORDS = 8  # state, op, (unused), a0, a1, a2, status, value: one cache line a mailbox
ST, OP, UNUSED, A0, A1, A2, STATUS, VALUE = range(WORDS)
# No request names its PD: core knows each client's PD from the run's spec (its session),
# so a client cannot act for another PD whatever it writes into its mailbox.


class CoreUnreachable(RuntimeError):
    """No reply within the timeout: core died or the run was aborted (exit 3)."""


def add_regions(layout: Layout, nclients: int) -> None:
    layout.add_words("pending", (nclients + 63) // 64)
    layout.add_words("mailboxes", WORDS * nclients)


class Client:
    """One process's end of its mailbox. `call(op, a0=0, a1=0, a2=0) -> (status, value)` is
    one request and its reply: a C builtin (testbed/ipc/hooks.c) that writes the request
    into the mailbox and does the handshake, the spin and the wait (mailbox.c's tb_call),
    with no ctypes call and no Python frame in between (raises CoreUnreachable)."""

    def __init__(
        self, seg: Segment, index: int, doorbell: str, reply_sem: str, spin_s: float, timeout: float
    ):
        so = lib()
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
    ):
        so = lib()
        self.mb = seg.words("mailboxes")
        self._s = ctypes.c_void_p(
            so.tb_server_new(
                seg.address("pending"),
                (nclients + 63) // 64,
                seg.address("control", CORE_WAITING),
                seg.address("mailboxes"),
                nclients,
                sem_open(doorbell),
                spin_s,
                timeout,
            )
        )
        for i, name in enumerate(reply_sems):
            so.tb_server_set_reply(self._s, i, sem_open(name))
        self._step, self._run = so.tb_server_step, so.tb_server_run
        self._pystep = so.tb_hook_step(self._s, seg.address("mailboxes"))
        self._boxes = [
            ctypes.c_void_p(seg.address("mailboxes", WORDS * i)) for i in range(nclients)
        ]

    def serve(
        self, handle: Callable[[int, int, int, int, int], tuple[int, int]], batch: int = 4096
    ) -> int:
        """Answer up to `batch` requests with `handle(client, op, a0, a1, a2) -> (status,
        value)`, or until none comes within the timeout (or the doorbell rings with none);
        returns how many, so the caller can look around. The last request is answered by
        the next call's first step. Each step is one call of a C builtin (hooks.c): it
        writes the answer, does the handshake and hands over the next request's words."""
        step, mb = self._pystep, self.mb
        request = step()
        for n in range(batch):
            if request is None:
                return n
            status, value = handle(*request)
            if n + 1 == batch:  # answered by the next call's first step
                b = WORDS * request[0]
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
