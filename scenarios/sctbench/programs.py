"""The programs, one class each, a few lines apart between `bad` and `good` (the family each
comes from in its docstring). Shared state is words (`env.words`), so `--points access`
makes every read, write and lock operation a schedule point."""

from __future__ import annotations

from contextlib import nullcontext

from testbed.scenarios.sctbench._base import Program


class Account(Program):
    """SCTBench account: a deposit and a withdrawal on one balance (100 + 50 - 20)."""

    name, description = "sct-account", "deposit and withdraw race on a balance"
    bug, bug_text = "wrong_balance", "the balance is not 130: an update was lost"
    bad_text, good_text = "read-modify-write unlocked", "under the account's lock"

    def actors(self, config):
        return [("deposit", {}), ("withdraw", {})]

    def locks(self, config):
        return ["m"]

    def regions(self, config):
        return {"balance": 1}

    def init_shared(self, shared, config):
        shared.words("balance")[0] = 100

    def run_actor(self, env, actor):
        b = env.words("balance")
        with nullcontext() if self.is_bad(env) else env.lock("m"):
            v = b[0]
            b[0] = v + 50 if actor.name == "deposit" else v - 20

    def arbiter(self, env):
        self.judge(env, env.words("balance")[0] == 130)


class LazyInit(Program):
    """SV-COMP lazy01 / SCTBench lazy: whoever sees `init == 0` initialises, once."""

    name, description = "sct-lazy-init", "check-then-initialise, by three threads"
    bug, bug_text = "initialised_twice", "two threads both saw init == 0"
    bad_text, good_text = "the check outside the lock", "check and set under one lock"

    def actors(self, config):
        return [(f"t{i}", {}) for i in range(3)]

    def locks(self, config):
        return ["m"]

    def regions(self, config):
        return {"init": 2}  # the flag, how many times it was set up

    def run_actor(self, env, actor):
        w, m = env.words("init"), env.lock("m")
        if self.is_bad(env):
            if w[0] == 0:
                with m:
                    w[0] = 1
                    w[1] = w[1] + 1
        else:
            with m:
                if w[0] == 0:
                    w[0] = 1
                    w[1] = w[1] + 1

    def arbiter(self, env):
        self.judge(env, env.words("init")[1] == 1)


class Reorder(Program):
    """SCTBench reorder_N: setters write a = 1 then b = -1; the checker asserts it sees
    both or neither (here 3 setters and a checker; the checker's window is late)."""

    name, description = "sct-reorder", "a checker between a setter's two writes"
    bug, bug_text = "half_set", "the checker saw a set and b not (or the reverse)"
    bad_text, good_text = "setters write unlocked", "setters and checker under one lock"
    SETTERS = 3

    def actors(self, config):
        return [(f"set{i}", {}) for i in range(self.SETTERS)] + [("check", {})]

    def locks(self, config):
        return ["m"]

    def regions(self, config):
        return {"ab": 2, "seen": 1}

    def run_actor(self, env, actor):
        ab, seen = env.words("ab"), env.words("seen")
        with nullcontext() if self.is_bad(env) else env.lock("m"):
            if actor.name == "check":
                a, b = ab[0], ab[1]
                seen[0] = int((a, b) not in ((0, 0), (1, 2)))
            else:
                ab[0] = 1
                ab[1] = 2  # -1 in the original: words are unsigned

    def arbiter(self, env):
        self.judge(env, env.words("seen")[0] == 0)


class TwoStage(Program):
    """SCTBench twostage: data1 under m1, then data2 = data1 + 1 under m2; a reader of
    both sees data1 set and data2 not."""

    name, description = "sct-twostage", "two locked stages, not atomic together"
    bug, bug_text = "torn", "the reader saw data1 set and data2 not yet"
    bad_text, good_text = "m1 released between the stages", "m1 held across both stages"

    def actors(self, config):
        return [("writer", {}), ("reader", {})]

    def locks(self, config):
        return ["m1", "m2"]

    def regions(self, config):
        return {"data": 2, "seen": 2}

    def run_actor(self, env, actor):
        data, seen = env.words("data"), env.words("seen")
        m1, m2 = env.lock("m1"), env.lock("m2")
        if actor.name == "writer":
            m1.acquire()
            data[0] = 1
            if self.is_bad(env):
                m1.release()
            with m2:
                data[1] = data[0] + 1
            if not self.is_bad(env):
                m1.release()
        else:
            with m1:
                seen[0] = data[0]
            with m2:
                seen[1] = data[1]

    def arbiter(self, env):
        d1, d2 = env.words("seen")
        self.judge(env, not (d1 == 1 and d2 != 2))


class WrongLock(Program):
    """SCTBench wronglock: two threads add to one counter, each under a lock of its own."""

    name, description = "sct-wronglock", "each thread takes a different lock"
    bug, bug_text = "lost_add", "the counter is not 2: an add was lost"
    bad_text, good_text = "one lock a thread", "one lock for both"

    def actors(self, config):
        return [("t0", {}), ("t1", {})]

    def locks(self, config):
        return ["m0", "m1"]

    def regions(self, config):
        return {"count": 1}

    def run_actor(self, env, actor):
        c = env.words("count")
        with env.lock(f"m{actor.index}" if self.is_bad(env) else "m0"):
            v = c[0]
            c[0] = v + 1

    def arbiter(self, env):
        self.judge(env, env.words("count")[0] == 2)


class Stack(Program):
    """SCTBench stack: one thread pushes two, another pops two; the top index is shared."""

    name, description = "sct-stack", "push and pop on an array stack"
    bug, bug_text = "stack_corrupt", "pop underflowed or a push was lost"
    bad_text, good_text = "top read and written unlocked", "push and pop under one lock"

    def actors(self, config):
        return [("push", {}), ("pop", {})]

    def locks(self, config):
        return ["m"]

    def regions(self, config):
        return {"stack": 4, "top": 1, "popped": 1}

    def run_actor(self, env, actor):
        s, top, popped = env.words("stack"), env.words("top"), env.words("popped")
        for k in range(2):
            with nullcontext() if self.is_bad(env) else env.lock("m"):
                t = top[0]
                if actor.name == "push":
                    s[t] = k + 1
                    top[0] = t + 1
                elif t > 0:
                    top[0] = t - 1
                    popped[0] = popped[0] + 1

    def arbiter(self, env):
        self.judge(env, env.words("top")[0] == 2 - env.words("popped")[0])


class Queue(Program):
    """SCTBench queue: two enqueuers and a dequeuer on a ring of four slots."""

    name, description = "sct-queue", "two enqueuers share the tail index"
    bug, bug_text = "lost_item", "an enqueued item was overwritten"
    bad_text, good_text = "tail read and written unlocked", "enqueue under the lock"

    def actors(self, config):
        return [("enq0", {}), ("enq1", {})]

    def locks(self, config):
        return ["m"]

    def regions(self, config):
        return {"slots": 4, "tail": 1}

    def run_actor(self, env, actor):
        slots, tail = env.words("slots"), env.words("tail")
        with nullcontext() if self.is_bad(env) else env.lock("m"):
            t = tail[0]
            slots[t % 4] = actor.index + 1
            tail[0] = t + 1

    def arbiter(self, env):
        slots, tail = env.words("slots"), env.words("tail")
        self.judge(env, tail[0] == 2 and sorted(slots[:2]) == [1, 2])


class CircularBuffer(Program):
    """SCTBench circular_buffer: a producer and a consumer keep a shared `count`."""

    name, description = "sct-circular-buffer", "producer and consumer share the count"
    bug, bug_text = "count_wrong", "count disagrees with what was produced and consumed"
    bad_text, good_text = "count updated unlocked by both", "count updated under the lock"

    def actors(self, config):
        return [("produce", {}), ("consume", {})]

    def locks(self, config):
        return ["m"]

    def regions(self, config):
        return {"buf": 4, "count": 1, "moved": 2}

    def run_actor(self, env, actor):
        buf, count, moved = env.words("buf"), env.words("count"), env.words("moved")
        for k in range(2):
            if actor.name == "produce":
                buf[k] = k + 1
            with nullcontext() if self.is_bad(env) else env.lock("m"):
                n = count[0]
                if actor.name == "produce":
                    count[0] = n + 1
                    moved[0] = moved[0] + 1
                elif n > 0:
                    count[0] = n - 1
                    moved[1] = moved[1] + 1

    def arbiter(self, env):
        produced, consumed = env.words("moved")
        self.judge(env, env.words("count")[0] == produced - consumed)


class _Deadlock(Program):
    """The bug is a cycle of lock waits: `deadlock`, which explore and stress name."""

    bug, bug_text = "deadlock", "threads wait for each other's locks in a cycle"

    def arbiter(self, env):
        self.judge(env, True)


class LockOrder(_Deadlock):
    """SCTBench deadlock01: A then B in one thread, B then A in the other."""

    name, description = "sct-lock-order", "two locks taken in opposite orders"
    bad_text, good_text = "opposite orders", "the same order"

    def actors(self, config):
        return [("t0", {}), ("t1", {})]

    def locks(self, config):
        return ["a", "b"]

    def regions(self, config):
        return {"x": 1}

    def run_actor(self, env, actor):
        order = ("a", "b") if actor.index == 0 or not self.is_bad(env) else ("b", "a")
        with env.lock(order[0]), env.lock(order[1]):
            x = env.words("x")
            x[0] = x[0] + 1


class Carter(_Deadlock):
    """SCTBench carter01: a lock-order deadlock between two threads, a third thread a
    bystander that takes one of the locks and makes the window rarer."""

    name, description = "sct-carter", "a lock-order deadlock with a bystander"
    bad_text, good_text = "t0 and t1 take A and B in opposite orders", "one order for all"

    def actors(self, config):
        return [("t0", {}), ("t1", {}), ("bystander", {})]

    def locks(self, config):
        return ["a", "b"]

    def regions(self, config):
        return {"x": 2}

    def run_actor(self, env, actor):
        x = env.words("x")
        if actor.name == "bystander":
            with env.lock("a"):
                x[1] = x[1] + 1
            return
        order = ("a", "b") if actor.index == 0 or not self.is_bad(env) else ("b", "a")
        with env.lock(order[0]):
            x[0] = x[0] + 1
            with env.lock(order[1]):
                x[0] = x[0] + 1


class Bluetooth(Program):
    """SCTBench bluetooth_driver: an I/O adds itself unless the driver is stopping; the
    stopper sets the flag, drops its own reference and stops the device at zero."""

    name, description = "sct-bluetooth", "check the stopping flag, then count an I/O"
    bug, bug_text = "io_after_stop", "an I/O ran on a stopped device"
    bad_text, good_text = "flag check, then increment", "flag check and increment under a lock"

    def actors(self, config):
        return [("io", {}), ("stop", {})]

    def locks(self, config):
        return ["m"]

    def regions(self, config):
        return {"dev": 4}  # pending I/O, stopping flag, stopped, I/O ran after stop

    def init_shared(self, shared, config):
        shared.words("dev")[0] = 1  # the driver's own reference

    def _release(self, env, dev):
        with env.lock("m"):
            dev[0] = dev[0] - 1
            last = dev[0] == 0
        if last:
            dev[2] = 1

    def run_actor(self, env, actor):
        dev, m = env.words("dev"), env.lock("m")
        if actor.name == "stop":
            with m:
                dev[1] = 1
            self._release(env, dev)
            return
        if self.is_bad(env):
            if dev[1]:  # the flag checked, then the count raised: a window between
                return
            with m:
                dev[0] = dev[0] + 1
        else:
            with m:
                if dev[1]:
                    return
                dev[0] = dev[0] + 1
        if dev[2]:
            dev[3] = 1
        self._release(env, dev)

    def arbiter(self, env):
        self.judge(env, env.words("dev")[3] == 0)


PROGRAMS = (Account, LazyInit, Reorder, TwoStage, WrongLock, Stack, Queue, CircularBuffer,
            LockOrder, Carter, Bluetooth)  # fmt: skip

# the instances the entry points name (`sct-account` = testbed.scenarios.sctbench.programs:ACCOUNT ...)
for _p in PROGRAMS:
    globals()[_p.name[4:].upper().replace("-", "_")] = _p()
