"""What the commands' help shares: how a scenario is named, and the simplest exit codes."""

SCENARIO_FORMS = (
    "a built-in or installed name (testbed scenarios), PATH.py (its SCENARIO), PATH.py:NAME, "
    "or package.module:NAME"
)
SIMPLE_EXIT = "exit codes: 0 done, 2 bad usage"
TRUST_HELP = (
    'run the scenario file or module the trace names (its "source"): a trace from '
    "someone else then runs their code"
)
