"""The run's control block: the words of shared memory by which the runner, core and the
actors tell each other how the run goes (start, stop, abort, counts, the event ticket)."""

from __future__ import annotations

from testbed.ipc.segment import Layout

REGION = "control"
STOP = 0  # actors: finish the current attempt and end
CORE_STOP = 1  # core: answer what is pending and end
CORE_WAITING = 2  # core is about to sleep on the doorbell (mailbox handshake)
START_NS = 3  # the runner's clock started: actors begin
FAILURES = 4  # failure outcomes so far (all actors)
MAX_FAILURES = 5  # stop the run at this many (0: never)
ABORT = 6  # the run is aborted: every wait gives up
FREE_RUN = 7  # a controlled run has let its actors go
READY = 8  # processes attached and ready
TICKET = 9  # the global event counter (recording, perturbation)
TRACES = 10  # trace files claimed so far
DEADLOCK = 11  # the actor (index + 1) that reported a deadlock, 0 for none
EPOCH = 12  # reused processes: the iteration the runner has reset the shared state for
CORE_EPOCH = 13  # ... and the iteration core has rebuilt its service for
ABANDON = 14  # reused processes: parked actors drop the current iteration
WORDS = 16
LOCK_HOLDERS = WORDS  # then one word a lock (in `locks()` order): its holder's index + 1, 0 free


def add_region(layout: Layout, nlocks: int = 0) -> None:
    layout.add_words(REGION, WORDS + nlocks)


def holder_word(lock_index: int) -> int:
    """The control word naming who holds lock `lock_index` (actor index + 1; 0: nobody)."""
    return LOCK_HOLDERS + lock_index
