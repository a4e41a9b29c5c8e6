"""A barrier of `n` actors on one word of the shared segment, so rounds line up across processes.

The word only grows: the k-th passage of the barrier waits until it reaches n * (k + 1).
A wait gives up when the run is stopping (answers False) and raises after the lock timeout.
"""

from __future__ import annotations

import time

from testbed.ipc.locks import LockTimeout
from testbed.ipc.native import Atomics

POLL_S = 100e-6


class Barrier:
    __slots__ = ("env", "addr", "n", "passed", "atomics")

    def __init__(self, env, addr: int, n: int):
        self.env, self.addr, self.n, self.passed = env, addr, n, 0
        self.atomics = Atomics()

    def wait(self) -> bool:
        """Arrive and wait for the other n - 1; False if the run is stopping."""
        self.passed += 1
        target = self.n * self.passed
        load = self.atomics.load
        if self.atomics.fetch_add(self.addr, 1) + 1 >= target:
            return True
        deadline = time.monotonic() + self.env.spec.lock_timeout
        while load(self.addr) < target:
            if self.env.stopping():
                return False
            if time.monotonic() > deadline:
                raise LockTimeout(
                    f"{self.env.actor.name} waited {self.env.spec.lock_timeout:g} s at a barrier "
                    f"of {self.n} actors ({load(self.addr)} of {target} arrivals)"
                )
            time.sleep(POLL_S)
        return True
