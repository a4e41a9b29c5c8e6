"""Core trusts no request (tests/test_core_trust.py): PD 0 attacks core, by variant (asks as
PD 1, sends an op near 2**64, sets a pending bit of no client, forges the PD word of its
mailbox); PD 1 then attaches where PD 0 tried to. Not a scenario of the tree: it imports the
kernel model and the harness beside `testbed`, as a test of core may."""

from kernel_model.genode import layout
from kernel_model.genode.core import Core, Op
from kernel_model.genode.fastcore import FastCore
from testbed import Grade, Outcome, Scenario
from testbed.harness.stats import WORDS  # noqa: F401  (the harness is importable)
from testbed.ipc.native import Bitmap

ACC, FORB = Grade.ACCEPTABLE, Grade.FORBIDDEN
CORE = "python"  # or "c": tests/test_core_trust.py writes a copy for the one under test
OFFSET = 5 * layout.SLOT_SIZE


class Hostile(Scenario):
    name = "hostile"
    variants = {v: "an attack" for v in ("other-pd", "huge-op", "stray-bit", "forged-word")}
    outcomes = (
        Outcome("ok", "served", {v: ACC for v in variants}),
        Outcome("refused", "refused", {v: ACC for v in variants}),
        Outcome("harmed", "PD 1 lost its range to PD 0", {v: FORB for v in variants}),
    )
    quiet_actors = ("pd0.main",)  # the attacker: pd1.main records what the attack did

    def actors(self, config):
        return [("pd0.main", {"pd": 0}), ("pd1.main", {"pd": 1})]

    def regions(self, config):
        return {
            "pages0": Bitmap.words(layout.AREA_PAGES),
            "pages1": Bitmap.words(layout.AREA_PAGES),
            "sync": 1,
        }

    def core(self, seg, config):
        if CORE == "c":  # the default core of the built-ins, served in place in C
            return FastCore(2, [seg.address(f"pages{pd}") for pd in range(2)], layout.AREA_SIZE)
        return Core(
            2,
            lambda pd: Bitmap(seg.address(f"pages{pd}"), layout.AREA_PAGES),
            ram_quota=layout.AREA_SIZE,
        )

    def run_actor(self, env, actor):
        variant, sync = env.config["variant"], env.words("sync")
        if actor.pd == 0:
            if variant == "other-pd":
                call = env.core_call(1)  # refused: the session is PD 0's
            else:
                call = env.core_call(0)
            if variant == "huge-op":
                st, _ = call((1 << 64) - 1, 1, 2, 3)
                env.record("refused" if st == 10 else "ok")  # INVALID_OP
            if variant == "stray-bit":  # a pending bit for client 40, which does not exist
                env.words("pending")[0] |= 1 << 40
            if variant == "forged-word":  # the old PD word of its mailbox says PD 1
                env.boxes.words(actor.index)[2] = 1  # its own mailbox: the only one it maps
            st, ds = call(int(Op.RAM_ALLOC), layout.SLOT_SIZE)
            call(int(Op.ATTACH_AT), ds, OFFSET, layout.SLOT_SIZE)
            sync[0] = 1
            return
        while not sync[0]:
            if env.stopping():
                return
        call = env.core_call(1)
        st, ds = call(int(Op.RAM_ALLOC), layout.SLOT_SIZE)
        st, _ = call(int(Op.ATTACH_AT), ds, OFFSET, layout.SLOT_SIZE)
        env.record("ok" if st == 0 else "harmed")


SCENARIO = Hostile()
