"""The baseline every IPC figure is compared with: a bare posix_ipc semaphore ping-pong
between two processes, started the way the testbed starts its own (forkserver).

    testbed bench pingpong [--profile quick|default|tough] [--trials N]
"""

from __future__ import annotations

import mmap
import os
import secrets
import statistics
import time

import multiprocess
import posix_ipc
import psutil

from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table

PINS = ("same", "spread")
START_TIMEOUT_S = 60.0  # a peer's start, on a machine loaded by other runs


def _peer(ping: str, pong: str, n: int, cpus: list[int] | None) -> None:
    if cpus is not None:
        psutil.Process().cpu_affinity(cpus)
    a, b = posix_ipc.Semaphore(ping), posix_ipc.Semaphore(pong)
    a.acquire(START_TIMEOUT_S)  # the other side may start late on a loaded machine
    b.release()
    for _ in range(n - 1):
        a.acquire(10)
        b.release()


def _cpus(pin: str) -> tuple[list[int] | None, list[int] | None]:
    cpus = sorted(psutil.Process().cpu_affinity())
    return {
        "same": ([cpus[0]], [cpus[0]]),
        "spread": ([cpus[0]], [cpus[1 % len(cpus)]]),
        "none": (None, None),
    }[pin]


SPIN_GIVE_UP = 10**9  # the peer's polls without a question: the other side died


def _spin_peer(name: str, n: int, cpus: list[int] | None) -> None:
    if cpus is not None:
        psutil.Process().cpu_affinity(cpus)
    shm = posix_ipc.SharedMemory(name)
    m = mmap.mmap(shm.fd, 64)
    shm.close_fd()
    w = memoryview(m).cast("Q")
    for i in range(1, n + 1):
        k = 0
        while w[0] != i:
            k += 1
            if k > SPIN_GIVE_UP:
                return
        w[1] = i
    w.release()
    m.close()


def spin_round_trip_us(n: int, pin: str = "spread") -> float:
    """Microseconds a round trip of two processes polling a shared word each (no semaphore,
    no system call): the floor of a spinning request across CPUs."""
    mine, theirs = _cpus(pin)
    name = f"/tbbench.{os.getpid()}.{secrets.token_hex(3)}.spin"
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, size=64)
    m = mmap.mmap(shm.fd, 64)
    shm.close_fd()
    w = memoryview(m).cast("Q")
    me = psutil.Process()
    old = me.cpu_affinity()
    try:
        p = multiprocess.get_context("forkserver").Process(
            target=_spin_peer, args=(name, n + 100, theirs)
        )
        p.start()
        if mine is not None:
            me.cpu_affinity(mine)
        t, deadline = 0.0, time.monotonic() + START_TIMEOUT_S + n * 1e-3
        for i in range(1, n + 101):
            if i == 101:  # after a warm-up
                t = time.perf_counter()
            w[0] = i
            k = 0
            while w[1] != i:
                k += 1
                if k & 0xFFFFF == 0 and (not p.is_alive() or time.monotonic() > deadline):
                    raise RuntimeError("the polling peer stopped answering")
        dt = time.perf_counter() - t
        p.join(10)
        return dt / n * 1e6
    finally:
        me.cpu_affinity(old)
        w.release()
        m.close()
        posix_ipc.unlink_shared_memory(name)


def round_trip_us(n: int, pin: str) -> float:
    """Microseconds a round trip; `pin` is same (one CPU), spread (two CPUs) or none."""
    return round_trip(n, pin)[0]


def cpu_s(pid: int) -> float | None:
    """Seconds process `pid` (its main thread) has run, to the nanosecond (Linux's
    /proc/PID/schedstat; psutil's cpu_times count 10 ms ticks); None if it is gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) * 1e-9
    except (OSError, ValueError, IndexError):
        return None


def round_trip(n: int, pin: str) -> tuple[float, float | None]:
    """Microseconds a round trip, wall clock and CPU time (both processes; None if the
    peer's could not be read): on one CPU the CPU time is what the ping-pong costs
    whatever else runs there."""
    mine, theirs = _cpus(pin)
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
        ping.release()
        pong.acquire(START_TIMEOUT_S)  # includes the peer's start
        for _ in range(99):  # warm-up
            ping.release()
            pong.acquire(10)
        c0, m0, t = cpu_s(p.pid), cpu_s(os.getpid()), time.perf_counter()
        for _ in range(n):
            ping.release()
            pong.acquire(10)
        dt = time.perf_counter() - t
        m1, c1 = cpu_s(os.getpid()), cpu_s(p.pid)  # not reaped yet: a zombie keeps its figure
        p.join(10)
        cpu = None
        if None not in (c0, c1, m0, m1):
            cpu = (c1 - c0 + m1 - m0) / n * 1e6
        return dt / n * 1e6, cpu
    finally:
        me.cpu_affinity(old)
        for s in (ping, pong):
            s.unlink()
            s.close()


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """Round trips a pin, trials interleaved over the pins; the median and spread kept."""
    us: dict[str, list[float]] = {pin: [] for pin in PINS}
    for t in range(p.trials):
        for pin in PINS:
            us[pin].append(round_trip_us(p["calls"], pin))
        log(f"trial {t + 1}/{p.trials}: " + ", ".join(f"{k} {v[-1]:.2f} us" for k, v in us.items()))
    figures = {
        pin: {"median_us": statistics.median(x), "min_us": min(x), "max_us": max(x), "all_us": x}
        for pin, x in us.items()
    }
    figures["spread_over_same"] = figures["spread"]["median_us"] / figures["same"]["median_us"]
    rows = [
        [pin, f"{f['median_us']:.2f}", f"{f['min_us']:.2f}-{f['max_us']:.2f}"]
        for pin, f in ((k, figures[k]) for k in PINS)
    ]
    table = Table(
        f"posix_ipc semaphore ping-pong round trip ({p.trials} trials x {p['calls']} calls)",
        ["pin", "median us", "min-max us"],
        rows,
        f"across CPUs / one CPU: {figures['spread_over_same']:.2f}x",
    )
    return figures, [table]


BENCH = Bench(
    "pingpong",
    "the baseline of every IPC figure: a bare semaphore ping-pong between two processes",
    measure,
    profiles={
        "quick": {"trials": 1, "calls": 2000},
        "default": {"trials": 3, "calls": 20000},
        "tough": {"trials": 7, "calls": 50000},
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    raise SystemExit(main())
