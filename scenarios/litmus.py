"""Litmus tests in C on real cores (issue 21): store buffering and message passing, relaxed
and fenced, one iteration of the testbed's (fresh state, the actors released together, an
arbiter), graded as jcstress grades them (scenarios/litmus.c)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from testbed.scenario import Actor, ActorEnv, Grade, Outcome, Scenario

ACC, INT, FORB = Grade.ACCEPTABLE, Grade.INTERESTING, Grade.FORBIDDEN
WORDS_APART = 8  # x and y each a cache line of its own (64-byte lines)


class Litmus(Scenario):
    name = "litmus"
    description = "store buffering and message passing in C, two actors on real cores"
    variants = {
        "sb-relaxed": "SB: x = 1; r0 = y || y = 1; r1 = x, no fence",
        "sb-fenced": "SB with a full fence between each actor's store and load",
        "mp-relaxed": "MP: x = 1; y = 1 || r0 = y; r1 = x, no fence",
        "mp-fenced": "MP with a full fence between the two stores and the two loads",
    }
    outcomes = (
        Outcome(
            "relaxed",
            "an outcome no interleaving gives (SB: r0 = r1 = 0; MP: flag seen, data not)",
            {"sb-relaxed": INT, "sb-fenced": FORB, "mp-relaxed": INT, "mp-fenced": FORB},
        ),
        Outcome(
            "interleaved",
            "an outcome some interleaving of the two actors gives",
            dict.fromkeys(variants, ACC),
            failure=False,
        ),
    )
    native = "litmus.c"
    iterate = True  # fresh x, y, r each iteration; --rounds counts iterations
    examples = (
        "testbed stress litmus --variant sb-relaxed --rounds 200000 --pin spread",
        "testbed stress litmus --variant sb-fenced --rounds 200000 --pin spread",
        "testbed stress litmus --variant sb-relaxed --rounds 2000 --points access",
        "testbed explore litmus --variant sb-relaxed --points access   # no relaxed outcome",
    )

    def configure(self, args) -> dict[str, Any]:
        return {"fenced": args.variant.endswith("-fenced")}

    def actors(self, config: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [("t0", {}), ("t1", {})]

    def regions(self, config: Mapping[str, Any]) -> dict[str, int]:
        # x and y the test's variables, r the registers; ready the actors' rendezvous
        return {"x": WORDS_APART, "y": WORDS_APART, "r": 2, "ready": WORDS_APART}

    def run_actor(self, env: ActorEnv, actor: Actor) -> None:
        env.native("litmus_mp" if env.config["variant"].startswith("mp") else "litmus_sb")

    def arbiter(self, env: ActorEnv) -> None:
        r0, r1 = env.words("r")[:2]
        mp = env.config["variant"].startswith("mp")
        relaxed = (r0, r1) == (1, 0) if mp else (r0, r1) == (0, 0)
        env.record("relaxed" if relaxed else "interleaved")


SCENARIO = Litmus()
