"""SCTBench / SV-COMP pthread programs, ported from what they do (our own code): each an
iterating scenario with a `bad` variant (the benchmark's bug) and a `good` one (its fix), one
iteration the program's run, an arbiter grading the final state. Built-ins `sct-NAME`;
`testbed bench sctbench` runs stress and explore on each (docs/results.md)."""

from testbed.scenarios.sctbench.programs import PROGRAMS

__all__ = ["PROGRAMS"]
