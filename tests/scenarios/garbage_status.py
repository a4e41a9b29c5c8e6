"""A core that answers a garbage status word (tests/test_core_trust.py): by variant, one
with its top bit set (a client once took it for "no reply within 10 s") or a small number
that is no Status. The Genode session (CoreConnection) must name the value and the valid
ones; a raw `core_call` hands the word over as it is. Not a scenario of the tree: it
imports the kernel model beside `testbed`, as a test of core may."""

from kernel_model.genode.core import CoreConnection
from testbed import Grade, Outcome, Scenario

ACC = Grade.ACCEPTABLE
WORDS = {"top-bit": (1 << 64) - 1, "unknown": 99, "raw": (1 << 64) - 1}


class GarbageCore:
    def __init__(self, status: int):
        self.status = status

    def serve(self, op, pd, a0, a1, a2):
        return self.status, 7


class GarbageStatus(Scenario):
    name = "garbage-status"
    variants = {v: "a status word core should never give" for v in WORDS}
    outcomes = (
        Outcome("answered", "the word came back as it was", {v: ACC for v in WORDS}),
        Outcome("misread", "the word came back changed", {v: ACC for v in WORDS}),
    )

    def actors(self, config):
        return [("pd0.main", {"pd": 0})]

    def core(self, shared, config):
        return GarbageCore(WORDS[config["variant"]])

    def run_actor(self, env, actor):
        call = env.core_call(0)
        if env.config["variant"] == "raw":
            st, value = call(1, 4096)
            env.record("answered" if (st, value) == (WORDS["raw"], 7) else "misread")
            return
        CoreConnection(call).ram_alloc(4096)  # UnknownStatus: the run aborts, exit 3
        env.record("answered")


SCENARIO = GarbageStatus()
