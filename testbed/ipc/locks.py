"""Named POSIX semaphores as locks and events, with timeouts so a dead holder never hangs a run."""

from __future__ import annotations

import posix_ipc


class LockTimeout(RuntimeError):
    """A wait exceeded its timeout: the holder died or the run is wedged (exit 3)."""


class NamedLock:
    """`contended`, if given, is called when the lock is taken: in a controlled run the actor
    parks there (the runner learns at once that it is blocked, and decides when it tries
    again), so no two actors ever run at once; it answers False to block for real."""

    __slots__ = ("name", "timeout", "_sem", "contended")

    def __init__(self, name: str, timeout: float, contended=None):
        self.name, self.timeout, self.contended = name, timeout, contended
        self._sem = posix_ipc.Semaphore(name)

    def acquire(self) -> None:
        if self.contended is not None:
            while True:
                try:
                    self._sem.acquire(0)
                    return
                except posix_ipc.BusyError:
                    if not self.contended(self.name):
                        break
        try:
            self._sem.acquire(self.timeout)
        except posix_ipc.BusyError:
            raise LockTimeout(
                f"waited {self.timeout:g} s for lock {self.name}: its holder died or is stuck"
            ) from None

    def try_acquire(self, timeout: float) -> bool:
        """Take the lock within `timeout` seconds (0: only if free now); answers whether."""
        try:
            self._sem.acquire(timeout)
            return True
        except posix_ipc.BusyError:
            return False

    def release(self) -> None:
        self._sem.release()

    def __enter__(self) -> NamedLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def close(self) -> None:
        self._sem.close()


def create_semaphore(name: str, value: int) -> None:
    posix_ipc.Semaphore(name, posix_ipc.O_CREX, initial_value=value).close()


def unlink_semaphore(name: str) -> None:
    try:
        posix_ipc.unlink_semaphore(name)
    except posix_ipc.ExistentialError:
        pass
