"""Named POSIX semaphores as locks and events, with timeouts so a dead holder never hangs a run."""

from __future__ import annotations

import posix_ipc

from testbed.ipc import native


class LockTimeout(RuntimeError):
    """A wait exceeded its timeout: the holder died or the run is wedged (exit 3)."""


_SCRATCH = memoryview(bytearray(8)).cast("Q")

# semaphores this process opened ahead, by name: a PD's own lock is opened by its actors
# before the run starts and its name unlinked then, so a lock made of it later finds it here
_kept: dict[str, tuple[posix_ipc.Semaphore, int]] = {}


def keep_open(name: str, native_handle: bool = True) -> None:
    """Open the named semaphore now, for the process's life (or until `forget`): its name
    may be gone by the time a lock is made of it. `native_handle`: a C handle too, for the
    lock's fast path (hooks.c)."""
    if name not in _kept:
        _kept[name] = (posix_ipc.Semaphore(name), native.sem_open(name) if native_handle else 0)


def kept(name: str) -> posix_ipc.Semaphore | None:
    """The semaphore kept open under `name` (keep_open), if any."""
    held = _kept.get(name)
    return held[0] if held else None


def c_handle(name: str) -> int:
    """A C handle (sem_t *) on the named semaphore: the one kept open under `name` if any
    (its name may be unlinked by now), else one opened by name."""
    held = _kept.get(name)
    return held[1] if held and held[1] else native.sem_open(name)


def forget(name: str) -> None:
    """Close a semaphore kept open (the runner, at the end of its run); its C handle stays."""
    held = _kept.pop(name, None)
    if held is not None:
        held[0].close()


class Holder:
    """The shared word that names a lock's holder (actor index + 1, 0 for none), so a wait
    that times out, and the runner, can say who holds it."""

    __slots__ = ("words", "index", "me", "names")

    def __init__(self, words: memoryview, index: int, me: int, names: list[str]):
        self.words, self.index, self.me, self.names = words, index, me, names

    def describe(self) -> str:
        h = self.words[self.index]
        if not h:
            return "held by nobody (released just now, or its holder died in between)"
        return f"held by {self.names[h - 1] if h <= len(self.names) else f'actor {h - 1}'}"


class NamedLock:
    """`contended`, if given, is called when the lock is taken: in a controlled run the actor
    parks there (the runner learns at once that it is blocked, and decides when it tries
    again), so no two actors ever run at once; it answers False to block for real.
    `holder`, if given, is kept naming who holds the lock; with its word's `holder_address`
    the uncontended path (`try_acquire(0)`, `release`) is one C call each (hooks.c's
    `tb_hook_lock`: a watched pair takes 28% fewer instructions than through posix_ipc)."""

    __slots__ = (
        "name", "timeout", "_sem", "contended", "holder", "_w", "_i", "_me", "_try_now",
        "_release",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        timeout: float,
        contended=None,
        holder: Holder | None = None,
        holder_address: int = 0,
    ):
        self.name, self.timeout, self.contended, self.holder = name, timeout, contended, holder
        held = _kept.get(name)
        self._sem = held[0] if held else posix_ipc.Semaphore(name)
        # the holder word (a scratch word without a holder: no test on the hot path)
        self._w, self._i, self._me = (
            (holder.words, holder.index, holder.me) if holder else (_SCRATCH, 0, 1)
        )
        self._try_now = self._release = None
        if holder is not None and holder_address:
            handle = c_handle(name)
            self._try_now, self._release = native.lib().tb_hook_lock(
                handle, holder_address, holder.me
            )

    def acquire(self) -> None:
        if self.contended is not None:
            while True:
                try:
                    self._sem.acquire(0)
                    self._w[self._i] = self._me
                    return
                except posix_ipc.BusyError:
                    if not self.contended(self.name):
                        break
        try:
            self._sem.acquire(self.timeout)
        except posix_ipc.BusyError:
            raise self.timed_out() from None
        self._w[self._i] = self._me

    def try_acquire(self, timeout: float) -> bool:
        """Take the lock within `timeout` seconds (0: only if free now); answers whether."""
        if timeout == 0 and self._try_now is not None:
            return self._try_now()
        try:
            self._sem.acquire(timeout)
        except posix_ipc.BusyError:
            return False
        self._w[self._i] = self._me
        return True

    def timed_out(self) -> LockTimeout:
        """The error of a wait that took longer than `timeout`, naming the holder."""
        who = self.holder.describe() if self.holder is not None else "its holder"
        return LockTimeout(
            f"waited {self.timeout:g} s for lock {self.name}, {who}: the holder died or is stuck"
        )

    def release(self) -> None:
        if self._release is not None:
            self._release()  # the holder word cleared, the semaphore posted
            return
        self._w[self._i] = 0
        self._sem.release()

    def __enter__(self) -> NamedLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def close(self) -> None:
        if self.name not in _kept:  # a kept semaphore outlives its locks
            self._sem.close()


def create_semaphore(name: str, value: int) -> None:
    posix_ipc.Semaphore(name, posix_ipc.O_CREX, initial_value=value).close()


def unlink_semaphore(name: str) -> None:
    try:
        posix_ipc.unlink_semaphore(name)
    except posix_ipc.ExistentialError:
        pass
