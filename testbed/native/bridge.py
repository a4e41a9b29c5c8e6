"""The Python side of a native actor: fills testbed.h's `tb_env` for an actor's `Env` and calls
the scenario's C functions with it (`env.native(name)`), in the actor's own process.

Plain data (regions, names, params, the stop word) is in the struct; what the harness does
(a point it must act on, a lock, an outcome, a request to core) is a ctypes callback into the
Env's own methods, so locks, recording, replay and explore work as for a Python body. The hot
paths stay in C: a named point with nothing to do is a branch, a recorded one the testbed's
`tb_rec`; an access-level access is recorded by the testbed's `tb_acc_*` in one C call.

A callback that raises keeps the exception and sets `failed`; the header's wrapper sees it
and the shim unwinds (longjmp) to `tb__run`, and `call` raises it again here: a `ConfigError`
naming an undeclared name, a lock timeout, or explore's `Abandoned`.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from testbed.harness import deadlock, loader
from testbed.ipc import control, mailbox
from testbed.ipc.locks import NamedLock, c_handle
from testbed.ipc.mailbox import CoreUnreachable
from testbed.ipc.native import lib
from testbed.native import build
from testbed.scenario import ConfigError
from testbed.trace import access_points

if TYPE_CHECKING:
    from testbed.harness.actor import Env

u32, i32, i64, u64 = ctypes.c_uint32, ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64
vp, cp = ctypes.c_void_p, ctypes.c_char_p
P = ctypes.POINTER

PointFn = ctypes.CFUNCTYPE(i64, i32)
BeforeFn = ctypes.CFUNCTYPE(i64, i64)
RecordFn = ctypes.CFUNCTYPE(i64, i32)
LockFn = ctypes.CFUNCTYPE(i64, i32, i32)
CoreFn = ctypes.CFUNCTYPE(i64, u64, u64, u64, u64, P(u64))
FailFn = ctypes.CFUNCTYPE(None, cp, cp)


class NativeError(RuntimeError):
    """A native actor's own `tb_fail(env, message)`: a bug in the C, the run aborted."""


class TbEnv(ctypes.Structure):
    """testbed.h's `struct tb_env`, field for field."""

    _fields_ = [
        ("abi", u32),
        ("access", i32),
        ("actor_index", i32),
        ("failed", i32),
        ("point_mode", i32),
        ("nregions", i32),
        ("npoints", i32),
        ("noutcomes", i32),
        ("nlocks", i32),
        ("nparams", i32),
        ("actor_name", cp),
        ("variant", cp),
        ("stop", vp),
        ("region_names", P(cp)),
        ("region_base", P(vp)),
        ("region_words", P(u64)),
        ("region_read", P(u32)),
        ("region_write", P(u32)),
        ("point_names", P(cp)),
        ("outcome_names", P(cp)),
        ("lock_names", P(cp)),
        ("param_keys", P(cp)),
        ("param_values", P(i64)),
        ("rec", vp),
        ("acc_load", vp),
        ("acc_store", vp),
        ("acc_cas", vp),
        ("acc_fetch_add", vp),
        ("point", PointFn),
        ("before", BeforeFn),
        ("record", RecordFn),
        ("lock", LockFn),
        ("core", CoreFn),
        ("fail", FailFn),
        ("unwind", vp),
        ("caller", vp),
        ("lock_sem", P(vp)),
        ("lock_holder", P(vp)),
        ("lock_me", u64),
        ("core_client", vp),
        ("core_now", vp),
        ("core_op", P(u64)),
        ("core_args", P(u64)),
        ("core_status", P(u64)),
        ("core_value", P(u64)),
    ]


POINT_NOTHING, POINT_RECORD, POINT_HARNESS = 0, 1, 2
_ABI = int(build.ABI)


def _strings(values: list[str]) -> Any:
    return (cp * max(1, len(values)))(*(v.encode() for v in values))


def _params(env: Env) -> dict[str, int]:
    """Integer params: the scenario's config, then the actor's own over it."""
    out: dict[str, int] = {}
    for source in (env.config, env.actor.params):
        for key, value in source.items():
            if isinstance(value, (bool, int)) and -(1 << 63) <= int(value) < 1 << 63:
                out[str(key)] = int(value)
    return out


class Bridge:
    """One actor's native side: the loaded library and its `tb_env`, built once a process."""

    def __init__(self, env: Env):
        self.env, spec = env, env.spec
        scenario = loader.load(spec.scenario)
        self.path = build.library(scenario)
        self.so = ctypes.PyDLL(str(self.path))  # the actor is single-threaded: keep the GIL
        self._run = self.so.tb__run
        self._run.restype, self._run.argtypes = ctypes.c_int, [vp, P(TbEnv)]
        self._symbols: dict[str, int] = {}
        self.error: BaseException | None = None
        self._locks: list[Any] = [None] * len(spec.locks)

        regions = [r for r in env.regions if env.seg.reaches(r)]  # not another PD's own
        params = _params(env)
        s = self.s = TbEnv()
        s.abi, s.access, s.actor_index = _ABI, int(env.access), env.actor.index
        s.nregions, s.npoints, s.noutcomes = len(regions), len(spec.points), len(spec.outcomes)
        s.nlocks, s.nparams = len(spec.locks), len(params)
        self._keep = [
            env.actor.name.encode(),
            spec.variant.encode(),
            _strings(regions),
            (vp * max(1, len(regions)))(*(env.seg.address(r) for r in regions)),
            (u64 * max(1, len(regions)))(*(env.regions[r] for r in regions)),
            (u32 * max(1, len(regions)))(*self._family_ids(regions, access_points.read_family)),
            (u32 * max(1, len(regions)))(*self._family_ids(regions, access_points.write_family)),
            _strings(spec.points),
            _strings(spec.outcomes),
            _strings(spec.locks),
            _strings(list(params)),
            (i64 * max(1, len(params)))(*params.values()),
        ]
        (
            s.actor_name,
            s.variant,
            s.region_names,
            s.region_base,
            s.region_words,
            s.region_read,
            s.region_write,
            s.point_names,
            s.outcome_names,
            s.lock_names,
            s.param_keys,
            s.param_values,
        ) = self._keep
        s.stop = env.seg.address("control", control.STOP)
        self._recording(s)
        self._callbacks(s)
        self._locks_in_c(s)
        self._core_in_c(s)

    def _locks_in_c(self, s: TbEnv) -> None:
        """The locks C may take when free, and release, itself: those where the harness adds
        nothing to the lock (a free run's watched lock; not a pointed or controlled one)."""
        env, spec = self.env, self.env.spec
        if not spec.locks:
            return
        sems, holders = [], []
        for k, name in enumerate(spec.locks):
            if not spec.reaches_lock(env.actor, name):  # another PD's own: refused when C
                sems.append(None)  # takes it (the harness's env.lock), not before
                holders.append(None)
                continue
            held = self._locks[k] = env.lock(name)
            plain = getattr(held, "lock", None) if type(held) is deadlock.WatchedLock else None
            if isinstance(plain, NamedLock) and plain.contended is None and plain.holder:
                sems.append(c_handle(plain.name))
                holders.append(env.seg.address("control", control.holder_word(k)))
            else:
                sems.append(None)
                holders.append(None)
        if any(sems):
            self._keep += [(vp * len(sems))(*sems), (vp * len(holders))(*holders)]
            s.lock_sem = ctypes.cast(self._keep[-2], P(vp))
            s.lock_holder = ctypes.cast(self._keep[-1], P(vp))
            s.lock_me = env.actor.index + 1

    def _core_in_c(self, s: TbEnv) -> None:
        """Requests to core from C where the harness adds nothing to them (a free run: the
        gate hands the client's call back unchanged)."""
        env = self.env
        client = env._client
        if client is None or env.gate.core_call(client.call) is not client.call:
            return
        base = ctypes.addressof(ctypes.c_uint64.from_buffer(client.w))
        s.core_client = client._c.value
        s.core_now = ctypes.cast(lib().tb_call, vp).value
        for field, word in (
            ("core_op", mailbox.OP),
            ("core_args", mailbox.A0),
            ("core_status", mailbox.STATUS),
            ("core_value", mailbox.VALUE),
        ):
            setattr(s, field, ctypes.cast(base + 8 * word, P(u64)))
        self._client = client  # its mailbox and handle outlive the struct

    def _family_ids(self, regions: list[str], family: Callable[[str], str]) -> list[int]:
        if not self.env.access:
            return [0] * len(regions)
        return [self.env.point_index[family(r)] for r in regions]

    def _recording(self, s: TbEnv) -> None:
        """What tb_point does, and the recording C calls of access-level accesses."""
        env = self.env
        recording = env.gate.records_accesses
        if env.point is _nothing():
            s.point_mode = POINT_NOTHING
        elif recording and env.pert is None and env.record_ids == env.point_index:
            s.point_mode = POINT_RECORD  # what the point hook would do: tb_rec(id), in C
        else:
            s.point_mode = POINT_HARNESS
        if recording:
            so = lib()
            for field in ("rec", "acc_load", "acc_store", "acc_cas", "acc_fetch_add"):
                name = "tb_rec" if field == "rec" else f"tb_{field}"
                setattr(s, field, ctypes.cast(getattr(so, name), vp).value)

    def _callbacks(self, s: TbEnv) -> None:
        env, spec = self.env, self.env.spec
        points, outcomes = spec.points, spec.outcomes

        def point(k: int) -> int:
            env.point(points[k])
            return 0

        def record(code: int) -> int:
            k, at = code & 0xFFFF, (code >> 16) - 1  # tb_record_at: the point's id + 1 above
            if not 0 <= k < len(outcomes):
                raise ConfigError(
                    f"tb_record({k}): not an outcome id (tb_outcome answers 0..{len(outcomes) - 1})"
                )
            if not -1 <= at < len(points):
                raise ConfigError(
                    f"tb_record_at(..., {at}): not a point id (tb_point_id answers "
                    f"0..{len(points) - 1})"
                )
            env.record(outcomes[k], points[at] if at >= 0 else None)
            return 0

        def lock(k: int, acquire: int) -> int:
            if not 0 <= k < len(spec.locks):
                raise ConfigError(f"tb_lock({k}): not a lock id (0..{len(spec.locks) - 1})")
            held = self._locks[k]
            if held is None:
                held = self._locks[k] = env.lock(spec.locks[k])
            if acquire:
                held.acquire()
            else:
                held.release()
            return 0

        call = None

        def core(op: int, a0: int, a1: int, a2: int, reply: Any) -> int:
            nonlocal call
            if call is None:
                call = env.core_call(env.actor.pd)
            status, value = call(op, a0, a1, a2)
            reply[0] = value & 0xFFFFFFFFFFFFFFFF
            return status

        self._fns = [
            PointFn(self._guard(point)),
            BeforeFn(self._guard(before)) if (before := env.before_access()) else None,
            RecordFn(self._guard(record)),
            LockFn(self._guard(lock)),
            CoreFn(self._guard(core)),
            FailFn(self._fail),
        ]
        s.point, before_fn, s.record, s.lock, s.core, s.fail = self._fns
        if env.access and before_fn is not None:
            s.before = before_fn

    def _guard(self, fn: Callable[..., int]) -> Callable[..., int]:
        def guarded(*args: Any) -> int:
            try:
                return fn(*args) or 0  # (a hook answering None: 0)
            except BaseException as e:  # kept, and raised again once C has unwound
                self.error = e
                self.s.failed = 1
                return 0

        return guarded

    def _fail(self, what: bytes, name: bytes) -> None:
        """An undeclared name: the error names it and what is declared."""
        name_s = name.decode(errors="replace")
        spec = self.env.spec
        declared = {
            "region": ("regions(config)", list(self.env.regions)),
            "outcome": ("outcomes", spec.outcomes),
            "point": ("points", spec.points),
            "lock": ("locks(config)", spec.locks),
        }
        kind = what.decode()
        if kind == "core":  # tb_call's codes: -2 aborted, -1 no reply in time, -3 a semaphore
            self.error = CoreUnreachable(
                "the run was aborted while waiting for core"
                if name_s == "-2"
                else "a semaphore error while waiting for core"
                if name_s == "-3"
                else f"no reply from core (tb_call answered {name_s}: core died or is stuck)"
            )
            return
        if kind == "error":  # tb_fail: the C's own message
            self.error = NativeError(f"{self.env.actor.name}: {name_s}")
            return
        owner = self.env.seg.layout.owner.get(name_s) if kind == "region" else None
        if owner is not None:  # declared, but another PD's own
            self.error = PermissionError(
                f"region {name_s!r} belongs to PD {owner}: only PD {owner}'s actors and core "
                f"map it ({self.env.actor.name} is PD {self.env.actor.pd}'s)"
            )
            return
        if kind in declared:
            where, names = declared[kind]
            message = f"{kind} {name_s!r} is not declared by {where}: {', '.join(names) or 'none'}"
        elif kind == "address":
            message = (
                f"tb_load/tb_store/tb_cas/tb_fetch_add at --points access on "
                f"{name_s}, which is in no declared region ({', '.join(self.env.regions)})"
            )
        else:
            message = f"{kind} {name_s} is not declared"
        self.error = ConfigError(message)

    def symbol(self, name: str) -> int:
        if name not in self._symbols:
            try:
                fn = getattr(self.so, name)
            except AttributeError:
                raise ConfigError(
                    f"env.native({name!r}): no function {name!r} in the scenario's native "
                    f"sources ({', '.join(str(p) for p in build.sources(self._scenario()))})"
                ) from None
            self._symbols[name] = ctypes.cast(fn, vp).value
        return self._symbols[name]

    def _scenario(self):
        return loader.load(self.env.spec.scenario)

    def call(self, name: str) -> None:
        """Call `void name(tb_env *)`; raise what failed in it."""
        fn = self.symbol(name)
        self.s.failed, self.error = 0, None
        if self._run(fn, ctypes.byref(self.s)):
            error, self.error = self.error, None
            raise error or RuntimeError(f"{self.env.actor.name}: native {name} failed")


def _nothing() -> Callable[[str], None]:
    from testbed.harness.gate.free import _no_point

    return _no_point
