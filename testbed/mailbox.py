"""Requests to core: one mailbox per client in shared memory, a doorbell, a reply semaphore each.

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

import time
from collections.abc import Callable

import posix_ipc

from .native import Atomics
from .segment import Layout, Segment

IDLE, REQUEST, WAITING, REPLIED = 0, 1, 2, 3
WORDS = 8  # state, op, pd, a0, a1, a2, status, value: one cache line a mailbox
ST, OP, PD, A0, A1, A2, STATUS, VALUE = range(WORDS)

# Words of the "control" region shared by the runner, core and actors.
STOP, CORE_STOP, CORE_WAITING, START_NS, FAILURES, MAX_FAILURES, ABORT, FREE_RUN, READY = range(9)
CONTROL_WORDS = 16


class CoreUnreachable(RuntimeError):
    """No reply within the timeout: core died or the run was aborted (exit 3)."""


def add_regions(layout: Layout, nclients: int) -> None:
    layout.add_words("control", CONTROL_WORDS)
    layout.add_words("pending", (nclients + 63) // 64)
    layout.add_words("mailboxes", WORDS * nclients)


class Client:
    """One process's end of its mailbox. `call` is one request and its reply."""

    def __init__(
        self,
        seg: Segment,
        index: int,
        doorbell: str,
        reply_sem: str,
        spin_s: float,
        timeout: float,
    ):
        self.atomics = Atomics()
        self.w = seg.words("mailboxes")[WORDS * index : WORDS * (index + 1)]
        self.control = seg.words("control")
        self.state_addr = seg.addr("mailboxes", WORDS * index)
        self.pending_addr = seg.addr("pending", index // 64)
        self.bit = 1 << (index % 64)
        self.waiting_addr = seg.addr("control", CORE_WAITING)
        self.doorbell = posix_ipc.Semaphore(doorbell)
        self.reply = posix_ipc.Semaphore(reply_sem)
        self.spin_s, self.timeout = spin_s, timeout

    def call(self, op: int, pd: int, a0: int = 0, a1: int = 0, a2: int = 0) -> tuple[int, int]:
        w = self.w
        w[OP], w[PD], w[A0], w[A1], w[A2] = op, pd, a0, a1, a2
        if self.atomics.submit(
            self.state_addr, REQUEST, self.pending_addr, self.bit, self.waiting_addr
        ):
            self.doorbell.release()
        if w[ST] != REPLIED and self.spin_s > 0:
            deadline = time.perf_counter() + self.spin_s
            while w[ST] != REPLIED and time.perf_counter() < deadline:
                pass
        if w[ST] != REPLIED and self.atomics.cas(self.state_addr, REQUEST, WAITING) == REQUEST:
            self._block()
        status, value = w[STATUS], w[VALUE]
        w[ST] = IDLE
        return status, value

    def _block(self) -> None:
        waited = 0.0
        while True:
            try:
                self.reply.acquire(0.5)
                return
            except posix_ipc.BusyError:
                waited += 0.5
                if self.control[ABORT] or waited >= self.timeout:
                    raise CoreUnreachable(
                        f"no reply from core after {waited:g} s (core died or the run aborted)"
                    ) from None


class Server:
    """Core's end: waits for pending requests and answers each with `handle`."""

    def __init__(
        self,
        seg: Segment,
        nclients: int,
        doorbell: str,
        reply_sems: list[str],
        handle: Callable[[int, int, int, int, int, int], tuple[int, int]],
        spin_s: float,
    ):
        self.atomics = Atomics()
        self.mb = seg.words("mailboxes")
        self.pending = seg.words("pending")
        self.pending_addrs = [seg.addr("pending", i) for i in range(len(self.pending))]
        self.state_addrs = [seg.addr("mailboxes", WORDS * i) for i in range(nclients)]
        self.control = seg.words("control")
        self.waiting_addr = seg.addr("control", CORE_WAITING)
        self.doorbell = posix_ipc.Semaphore(doorbell)
        self.replies = [posix_ipc.Semaphore(n) for n in reply_sems]
        self.handle, self.spin_s = handle, spin_s
        self.served = 0

    def serve_pending(self) -> int:
        """Answer every pending request; returns how many."""
        n = 0
        mb, atomics = self.mb, self.atomics
        for word, addr in enumerate(self.pending_addrs):
            if not self.pending[word]:
                continue
            bits = atomics.exchange(addr, 0)
            while bits:
                low = bits & -bits
                i = word * 64 + low.bit_length() - 1
                bits ^= low
                b = WORDS * i
                status, value = self.handle(
                    i, mb[b + OP], mb[b + PD], mb[b + A0], mb[b + A1], mb[b + A2]
                )
                mb[b + STATUS], mb[b + VALUE] = status, value
                if atomics.exchange(self.state_addrs[i], REPLIED) == WAITING:
                    self.replies[i].release()
                n += 1
        self.served += n
        return n

    def _any_pending(self) -> bool:
        return any(self.pending)

    def wait(self, timeout: float) -> None:
        """Spin briefly, then sleep on the doorbell until a request or the timeout."""
        if self.spin_s > 0:
            deadline = time.perf_counter() + self.spin_s
            while time.perf_counter() < deadline:
                if self._any_pending():
                    return
        self.atomics.store(self.waiting_addr, 1)
        if self._any_pending():
            self.atomics.store(self.waiting_addr, 0)
            return
        try:
            self.doorbell.acquire(timeout)
        except posix_ipc.BusyError:
            pass
        self.atomics.store(self.waiting_addr, 0)
