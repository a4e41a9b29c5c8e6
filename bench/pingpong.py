"""The baseline every IPC figure is compared with: a bare posix_ipc semaphore ping-pong
between two processes, started the way the testbed starts its own (forkserver)."""

from __future__ import annotations

import os
import secrets
import time

import multiprocess
import posix_ipc
import psutil


def _peer(ping: str, pong: str, n: int, cpus: list[int] | None) -> None:
    if cpus is not None:
        psutil.Process().cpu_affinity(cpus)
    a, b = posix_ipc.Semaphore(ping), posix_ipc.Semaphore(pong)
    for _ in range(n):
        a.acquire(10)
        b.release()


def round_trip_us(n: int, pin: str) -> float:
    """Microseconds a round trip; `pin` is same (one CPU), spread (two CPUs) or none."""
    cpus = sorted(psutil.Process().cpu_affinity())
    mine, theirs = {
        "same": ([cpus[0]], [cpus[0]]),
        "spread": ([cpus[0]], [cpus[1 % len(cpus)]]),
        "none": (None, None),
    }[pin]
    tag = f"/tbbench.{os.getpid()}.{secrets.token_hex(3)}"
    ping = posix_ipc.Semaphore(tag + ".ping", posix_ipc.O_CREX)
    pong = posix_ipc.Semaphore(tag + ".pong", posix_ipc.O_CREX)
    me = psutil.Process()
    old = me.cpu_affinity()
    try:
        p = multiprocess.get_context("forkserver").Process(
            target=_peer, args=(ping.name, pong.name, n + 100, theirs)
        )
        p.start()
        if mine is not None:
            me.cpu_affinity(mine)
        for _ in range(100):  # warm-up
            ping.release()
            pong.acquire(10)
        t = time.perf_counter()
        for _ in range(n):
            ping.release()
            pong.acquire(10)
        dt = time.perf_counter() - t
        p.join(10)
        return dt / n * 1e6
    finally:
        me.cpu_affinity(old)
        for s in (ping, pong):
            s.unlink()
            s.close()
