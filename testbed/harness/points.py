"""Schedule points compiled out: the same model code with every `self.point(...)` statement
removed, so a benchmark can measure what the points cost against a build without them.

Set TESTBED_POINTS=off in the environment of a run to use that build.
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
import types
from functools import cache

ENV = "TESTBED_POINTS"


class _StripPoints(ast.NodeTransformer):
    def visit_Expr(self, node: ast.Expr):
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "point"
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "self"
        ):
            return ast.Pass()
        return node


@cache
def without_points(module: types.ModuleType) -> types.ModuleType:
    tree = _StripPoints().visit(ast.parse(inspect.getsource(module)))
    ast.fix_missing_locations(tree)
    stripped = types.ModuleType(module.__name__ + "_without_points")
    stripped.__dict__.update(__package__=module.__package__, __file__=module.__file__)
    sys.modules[stripped.__name__] = stripped  # dataclasses look their module up
    exec(compile(tree, module.__file__ or "<model>", "exec"), stripped.__dict__)
    return stripped


def build(module: types.ModuleType) -> types.ModuleType:
    """`module`, or its build without schedule points if TESTBED_POINTS=off."""
    return without_points(module) if os.environ.get(ENV) == "off" else module
