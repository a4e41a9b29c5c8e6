"""The core process: serves every PD's requests through the mailboxes until the run ends.

If the runner dies (even by SIGKILL), core notices and unlinks the run's named objects,
so nothing is left in /dev/shm.
"""

from __future__ import annotations

import json
import sys
import time

from . import mailbox, names, process, recorder, registry
from .locks import unlink_semaphore
from .native import Atomics
from .spec import RunSpec

OWNER_CHECK_S = 0.5


def cleanup(spec: RunSpec) -> None:
    """Unlink every named object of the run (safe to call twice, from any process)."""
    for sem in spec.semaphores():
        unlink_semaphore(sem)
    try:
        import posix_ipc

        posix_ipc.unlink_shared_memory(spec.segment_name)
    except posix_ipc.ExistentialError:
        pass


def main(spec: RunSpec) -> None:
    seg = process.enter(spec, "core")
    core = registry.get(spec.scenario).core(seg, spec.config)
    log = open(spec.core_log, "w", buffering=1 << 16) if spec.core_log else None

    def logged(client: int, op: int, pd: int, a0: int, a1: int, a2: int) -> tuple[int, int]:
        status, value = core.serve(op, pd, a0, a1, a2)
        line = {"op": op, "pd": pd, "client": client, **core.describe(op, a0, a1, a2)}
        line["status"] = status.name.lower()
        log.write(json.dumps(line) + "\n")
        return status, value

    def plain(client: int, op: int, pd: int, a0: int, a1: int, a2: int) -> tuple[int, int]:
        return core.serve(op, pd, a0, a1, a2)

    if spec.record:  # every request core serves is an event of the trace too
        rec = recorder.Recorder(
            seg, recorder.CORE_RING, spec.ring_events, seg.addr("control", mailbox.TICKET)
        )
        inner = logged if log is not None else plain
        key = getattr(core, "key", lambda op, a0, a1, a2: 0)

        def recorded(client: int, op: int, pd: int, a0: int, a1: int, a2: int) -> tuple[int, int]:
            status, value = inner(client, op, pd, a0, a1, a2)
            rec.record_what(
                recorder.CORE_EVENT + op,
                recorder.pack_core(op, client, status, key(op, a0, a1, a2)),
            )
            return status, value

    server = mailbox.Server(
        seg,
        len(spec.actors),
        spec.doorbell,
        [spec.reply_sem(a.index) for a in spec.actors],
        spec.core_spin_s,
    )
    handle = recorded if spec.record else logged if log is not None else plain
    control = seg.words("control")
    Atomics().fetch_add(seg.addr("control", mailbox.READY), 1)
    next_check = time.monotonic() + OWNER_CHECK_S
    try:
        while not control[mailbox.CORE_STOP]:
            server.serve(handle)
            if time.monotonic() > next_check:
                next_check = time.monotonic() + OWNER_CHECK_S
                if not names.owner_alive(spec.prefix):
                    control[mailbox.STOP] = control[mailbox.ABORT] = 1  # actors: stop now
                    cleanup(spec)
                    sys.exit(3)
    finally:
        if log is not None:
            log.close()
