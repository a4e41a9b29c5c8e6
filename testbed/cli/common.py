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


def add_trace_arguments(parser) -> None:
    """The trace a command runs, and which scenario code it may run for it (replay, minimize):
    a trace is data, so its own scenario runs only when named or trusted."""
    parser.add_argument("trace")
    parser.add_argument(
        "--scenario", metavar="PATH",
        help="the scenario to run the trace with (PATH.py, PATH.py:NAME, package.module:NAME), "
        "instead of the one the trace names; needed unless that one is installed",
    )  # fmt: skip
    parser.add_argument("--trust-source", action="store_true", help=TRUST_HELP)
