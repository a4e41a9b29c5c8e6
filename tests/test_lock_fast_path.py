"""A named lock's uncontended path in C (hooks.c's tb_hook_lock, used by the free gate):
it takes and lets go of the same semaphore, and keeps the same holder word, as the
posix_ipc path it stands in for."""

from __future__ import annotations

import ctypes
import secrets

import pytest

from testbed.ipc.locks import Holder, NamedLock, create_semaphore, unlink_semaphore


@pytest.fixture
def sem_name():
    name = f"/tbtest.{secrets.token_hex(4)}.lock"
    create_semaphore(name, 1)
    yield name
    unlink_semaphore(name)


def test_the_c_path_and_the_posix_path_share_the_semaphore_and_the_holder_word(sem_name):
    words = (ctypes.c_uint64 * 4)()
    view = memoryview(words).cast("B").cast("Q")
    holder = Holder(view, 2, 3, ["a", "b", "c"])
    fast = NamedLock(sem_name, 1.0, None, holder, ctypes.addressof(words) + 16)
    slow = NamedLock(sem_name, 1.0, None, Holder(view, 2, 2, ["a", "b", "c"]))
    assert fast.try_acquire(0) and words[2] == 3
    assert not fast.try_acquire(0) and not slow.try_acquire(0)  # taken: no second holder
    assert "held by c" in slow.timed_out().args[0]
    fast.release()
    assert words[2] == 0
    assert slow.try_acquire(0) and words[2] == 2
    assert not fast.try_acquire(0)
    slow.release()
    assert fast.try_acquire(0.05) and words[2] == 3  # a wait with a timeout: posix_ipc's
    fast.release()
    fast.acquire()
    assert words[2] == 3 and not slow.try_acquire(0.01)
    fast.release()
    assert words[2] == 0 and slow.try_acquire(0)
    slow.release()
    fast.close(), slow.close()
