"""What every ported program shares: two variants (bad, good), two graded outcomes (`ok`, the
bug), an iteration the unit; a program declares its actors, locks, words and bodies."""

from __future__ import annotations

from testbed import Grade, Outcome, Scenario

BOTH = ("bad", "good")


class Program(Scenario):
    """`bug`: the outcome the bad variant can show and the good one never does."""

    bug = ""
    bug_text = ""
    bad_text = ""
    good_text = ""
    iterate = True
    deadlocks = False  # the bug is a deadlock: explore and stress name it themselves

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.variants = {"bad": cls.bad_text, "good": cls.good_text}
        cls.outcomes = (
            Outcome("ok", "the program's assertion holds", dict.fromkeys(BOTH, Grade.ACCEPTABLE),
                    failure=False),
            Outcome(cls.bug, cls.bug_text, dict.fromkeys(BOTH, Grade.FORBIDDEN)),
        )  # fmt: skip

    def is_bad(self, env) -> bool:
        return env.config["variant"] == "bad"

    def judge(self, env, holds: bool) -> None:
        env.record("ok" if holds else self.bug)
