"""The SCTBench ports (scenarios/sctbench/) as threads of one Python process, for frontrun (a
peer) to explore: the same programs, bad and good, a few lines each, shared state an object's
attributes and lists, locks `threading.Lock` (made in `setup`, after frontrun patched them).
`frontrun_explore` runs frontrun's DPOR on one; bench/sctbench.py puts it in its table."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any

Program = tuple[Callable[[], Any], list[Callable[[Any], None]], Callable[[Any], bool]]


def _guard(s, bad: bool, name: str = "m"):
    return nullcontext() if bad else getattr(s, name)


def account(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(balance=100, m=threading.Lock())

    def deposit(s):
        with _guard(s, bad):
            v = s.balance
            s.balance = v + 50

    def withdraw(s):
        with _guard(s, bad):
            v = s.balance
            s.balance = v - 20

    return setup, [deposit, withdraw], lambda s: s.balance == 130


def lazy_init(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(init=0, count=0, m=threading.Lock())

    def t(s):
        if bad:
            if s.init == 0:
                with s.m:
                    s.init = 1
                    s.count = s.count + 1
        else:
            with s.m:
                if s.init == 0:
                    s.init = 1
                    s.count = s.count + 1

    return setup, [t, t, t], lambda s: s.count == 1


def reorder(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(a=0, b=0, seen=0, m=threading.Lock())

    def setter(s):
        with _guard(s, bad):
            s.a = 1
            s.b = 2

    def check(s):
        with _guard(s, bad):
            a, b = s.a, s.b
            s.seen = int((a, b) not in ((0, 0), (1, 2)))

    return setup, [setter, setter, setter, check], lambda s: s.seen == 0


def twostage(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(d1=0, d2=0, s1=0, s2=0, m1=threading.Lock(), m2=threading.Lock())

    def writer(s):
        s.m1.acquire()
        s.d1 = 1
        if bad:
            s.m1.release()
        with s.m2:
            s.d2 = s.d1 + 1
        if not bad:
            s.m1.release()

    def reader(s):
        with s.m1:
            s.s1 = s.d1
        with s.m2:
            s.s2 = s.d2

    return setup, [writer, reader], lambda s: not (s.s1 == 1 and s.s2 != 2)


def wronglock(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(count=0, m0=threading.Lock(), m1=threading.Lock())

    def add(k):
        def t(s):
            with getattr(s, f"m{k}" if bad else "m0"):
                v = s.count
                s.count = v + 1

        return t

    return setup, [add(0), add(1)], lambda s: s.count == 2


def stack(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(items=[0] * 4, top=0, popped=0, m=threading.Lock())

    def push(s):
        for k in range(2):
            with _guard(s, bad):
                t = s.top
                s.items[t] = k + 1
                s.top = t + 1

    def pop(s):
        for _ in range(2):
            with _guard(s, bad):
                t = s.top
                if t > 0:
                    s.top = t - 1
                    s.popped = s.popped + 1

    return setup, [push, pop], lambda s: s.top == 2 - s.popped


def queue(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(slots=[0] * 4, tail=0, m=threading.Lock())

    def enq(k):
        def t(s):
            with _guard(s, bad):
                t = s.tail
                s.slots[t % 4] = k + 1
                s.tail = t + 1

        return t

    return setup, [enq(0), enq(1)], lambda s: s.tail == 2 and sorted(s.slots[:2]) == [1, 2]


def circular_buffer(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(buf=[0] * 4, count=0, produced=0, consumed=0, m=threading.Lock())

    def produce(s):
        for k in range(2):
            s.buf[k] = k + 1
            with _guard(s, bad):
                n = s.count
                s.count = n + 1
                s.produced = s.produced + 1

    def consume(s):
        for _ in range(2):
            with _guard(s, bad):
                n = s.count
                if n > 0:
                    s.count = n - 1
                    s.consumed = s.consumed + 1

    return setup, [produce, consume], lambda s: s.count == s.produced - s.consumed


def lock_order(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(x=0, a=threading.Lock(), b=threading.Lock())

    def t(first, second):
        def body(s):
            with getattr(s, first), getattr(s, second):
                s.x = s.x + 1

        return body

    return setup, [t("a", "b"), t("b", "a") if bad else t("a", "b")], lambda s: s.x == 2


def carter(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(x=0, y=0, a=threading.Lock(), b=threading.Lock())

    def t(first, second):
        def body(s):
            with getattr(s, first):
                s.x = s.x + 1
                with getattr(s, second):
                    s.x = s.x + 1

        return body

    def bystander(s):
        with s.a:
            s.y = s.y + 1

    workers = [t("a", "b"), t("b", "a") if bad else t("a", "b"), bystander]
    return setup, workers, lambda s: s.x == 4


def bluetooth(bad: bool) -> Program:
    def setup():
        return SimpleNamespace(pending=1, stopping=0, stopped=0, late=0, m=threading.Lock())

    def release(s):
        with s.m:
            s.pending = s.pending - 1
            last = s.pending == 0
        if last:
            s.stopped = 1

    def io(s):
        if bad:
            if s.stopping:
                return
            with s.m:
                s.pending = s.pending + 1
        else:
            with s.m:
                if s.stopping:
                    return
                s.pending = s.pending + 1
        if s.stopped:
            s.late = 1
        release(s)

    def stop(s):
        with s.m:
            s.stopping = 1
        release(s)

    return setup, [io, stop], lambda s: s.late == 0


PROGRAMS: dict[str, Callable[[bool], Program]] = {
    "sct-account": account, "sct-lazy-init": lazy_init, "sct-reorder": reorder,
    "sct-twostage": twostage, "sct-wronglock": wronglock, "sct-stack": stack,
    "sct-queue": queue, "sct-circular-buffer": circular_buffer, "sct-lock-order": lock_order,
    "sct-carter": carter, "sct-bluetooth": bluetooth,
}  # fmt: skip


def installed() -> bool:
    try:
        import frontrun  # noqa: F401
    except ImportError:
        return False
    return True


def frontrun_explore(name: str, variant: str, max_executions: int, budget_s: float) -> str:
    """frontrun's DPOR with no preemption bound on the threads version of `name`: "found #N"
    (N executions), "proof N" (the search ended by itself before its caps), "- (N)", or what
    stopped frontrun; "not installed" without it."""
    try:
        import frontrun
        from frontrun._cooperative import patch_locks, unpatch_locks
    except ImportError:
        return "not installed"
    setup, workers, invariant = PROGRAMS[name](variant == "bad")
    t0 = time.monotonic()
    patch_locks()  # what `frontrun pytest` does: its scheduler sees threading's locks
    try:
        res = frontrun.explore(
            setup=setup,
            workers=workers,
            invariant=invariant,
            preemption_bound=None,
            max_executions=max_executions,
            total_timeout=budget_s,
            deadlock_timeout=1.0,
            reproduce_on_failure=0,
        )
    except Exception as e:  # frontrun gives up in its own ways (inconclusive, internal)
        return f"error: {type(e).__name__}"
    finally:
        unpatch_locks()
    n = res.num_explored
    if res.property_holds is False:  # stop_on_first: the last execution is the failing one
        return f"found #{n}"
    timed_out = time.monotonic() - t0 >= budget_s
    if res.property_holds and n < max_executions and not timed_out:
        return f"proof {n}"
    return f"- ({n})"
