"""The core process: serves every PD's requests through the mailboxes until the run ends.

If the runner dies (even by SIGKILL), core notices and unlinks the run's named objects,
so nothing is left in /dev/shm.
"""

from __future__ import annotations

import ctypes
import functools
import json
import sys
import time
from collections.abc import Callable

from testbed.harness import iteration, loader, process, recorder, stats
from testbed.harness.spec import RunSpec
from testbed.ipc import control, mailbox, names
from testbed.ipc.locks import unlink_semaphore
from testbed.ipc.native import Atomics, lib
from testbed.ipc.segment import unlink_shm

OWNER_CHECK_S = 0.5


def cleanup(spec: RunSpec) -> None:
    """Unlink every named object of the run (safe to call twice, from any process)."""
    for sem in spec.semaphores():
        unlink_semaphore(sem)
    unlink_shm(spec.segment_name)
    for name in spec.pd_segment_names:
        unlink_shm(name)
    if spec.has_core:
        unlink_shm(spec.mailbox_name)


def main(spec: RunSpec) -> None:
    """Serve the scenario's core until the runner says stop; a scenario without a core gets
    no service, only the watch over the runner. A failure of core's own (its service would
    not build, a request crashed it) ends the run as aborted, with its reason: never a
    traceback on the user's terminal."""
    seg = process.enter(spec, "core")
    try:
        _serve(spec, seg)
    except Exception as e:
        slot = seg.words("stats")[stats.WORDS * len(spec.actors) :][: stats.WORDS]
        slot[stats.ERROR_NS] = time.monotonic_ns()
        stats.write_error(slot, f"core: {type(e).__name__}: {e}")
        seg.words("control")[control.ABORT] = 1
        sys.exit(3)


def _serve(spec: RunSpec, seg) -> None:
    ctl = seg.words("control")
    log = open(spec.core_log, "w", buffering=1 << 16) if spec.core_log else None
    serve, reset = _server(spec, seg, log) if spec.has_core else (None, None)
    Atomics().fetch_add(seg.address("control", control.READY), 1)
    next_check = time.monotonic() + OWNER_CHECK_S
    try:
        while not ctl[control.CORE_STOP]:
            if serve is not None:
                serve()
                if ctl[control.EPOCH] != ctl[control.CORE_EPOCH]:  # the next iteration's
                    reset()
                    ctl[control.CORE_EPOCH] = ctl[control.EPOCH]
            else:
                time.sleep(0.05)
            if time.monotonic() > next_check:
                next_check = time.monotonic() + OWNER_CHECK_S
                if not names.owner_alive(spec.prefix):
                    ctl[control.STOP] = ctl[control.ABORT] = 1  # actors: stop now
                    cleanup(spec)
                    sys.exit(3)
    finally:
        if log is not None:
            log.close()


def _server(spec: RunSpec, seg, log) -> tuple[Callable[[], int], Callable[[], None]]:
    """One call of the first serves a batch of requests (each logged to `log`, if given);
    the second builds the scenario's service afresh (a reused run's next iteration)."""
    scenario = loader.load(spec.scenario)
    # each client's session: the PD it was started for, from the runner's spec (never from
    # shared memory, which every actor can write)
    session = [a.pd for a in spec.actors]
    seg.map_private()  # core's own regions: in this process's memory alone
    server = mailbox.Server(
        seg,
        len(spec.actors),
        spec.doorbell,
        [spec.reply_sem(a.index) for a in spec.actors],
        spec.core_spin_s,
        boxes=mailbox.Boxes(spec.mailbox_name, len(spec.actors)),
    )
    rec = None
    if spec.record:  # every request core serves is an event of the trace too
        rec = recorder.Recorder(
            seg, recorder.CORE_RING, spec.ring_events, seg.address("control", control.TICKET)
        )
    current: list[Callable[[], int]] = []
    fresh = iteration.FreshState(seg, scenario, spec.config)

    def build() -> None:
        seg.zero_private()  # core's own state as a new run has it (an iteration's reset)
        current[:] = [_serving(scenario.core(seg, spec.config), server, rec, session, log)]

    def rebuild() -> None:
        """The next iteration's: the scenario's regions put back here, where every PD's
        own is mapped (an actor maps only its own PD's), then core's service anew."""
        fresh()
        build()

    build()  # the first: the runner initialised the regions before any child started
    return (lambda: current[0]()), rebuild


def _serving(core, server, rec, session: list[int], log) -> Callable[[], int]:
    """Serving `core`'s requests: in place in C if the core can and nothing is logged,
    else through a Python handler."""
    # a core in C may serve each request in its mailbox, in place, and record it itself
    # (not when logging, which needs the request's words in Python)
    in_place = getattr(core, "mailbox_server", None) if log is None else None
    if in_place is not None:
        if rec is not None:  # the C core records with the same C call, tb_rec_what
            fn = ctypes.cast(lib().tb_rec_what, ctypes.c_void_p).value
            serve = in_place(record=(fn, recorder.CORE_EVENT), sessions=session)
        else:
            serve = in_place(sessions=session)
        return functools.partial(server.serve_in_place, serve)

    def logged(client: int, op: int, a0: int, a1: int, a2: int) -> tuple[int, int]:
        pd = session[client]
        status, value = core.serve(op, pd, a0, a1, a2)
        line = {"op": op, "pd": pd, "client": client, **_describe(core, op, a0, a1, a2)}
        line["status"] = getattr(status, "name", str(status)).lower()
        log.write(json.dumps(line) + "\n")
        return status, value

    def plain(client: int, op: int, a0: int, a1: int, a2: int) -> tuple[int, int]:
        return core.serve(op, session[client], a0, a1, a2)

    handle = logged if log is not None else plain
    if rec is not None:
        inner = handle
        key = getattr(core, "key", lambda op, a0, a1, a2: 0)
        record = rec.request_hook()  # core_event(op), pack_core(...): one C call

        def recorded(client: int, op: int, a0: int, a1: int, a2: int) -> tuple[int, int]:
            status, value = inner(client, op, a0, a1, a2)
            record(op, client, status, key(op, a0, a1, a2))
            return status, value

        handle = recorded
    return functools.partial(server.serve, handle)


def _describe(core, op: int, a0: int, a1: int, a2: int) -> dict:
    describe = getattr(core, "describe", None)
    return describe(op, a0, a1, a2) if describe is not None else {"a0": a0, "a1": a1, "a2": a2}
