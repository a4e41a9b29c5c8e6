"""Finds scenarios by name: `genode-race` is the module scenarios/genode_race.py."""

from __future__ import annotations

import importlib
import pkgutil

from .scenario import ConfigError, Scenario


def names() -> list[str]:
    import scenarios

    # a module whose name starts with "_" holds what several scenarios share
    return sorted(
        m.name.replace("_", "-")
        for m in pkgutil.iter_modules(scenarios.__path__)
        if not m.name.startswith("_")
    )


def get(name: str) -> Scenario:
    if name not in names():
        raise ConfigError(f"unknown scenario {name!r}; installed: {', '.join(names())}")
    module = importlib.import_module("scenarios." + name.replace("-", "_"))
    return module.SCENARIO
