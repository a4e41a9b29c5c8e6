"""Finds a scenario by reference, in the parent and again in every child process:
a built-in or installed name (entry-point group `testbed.scenarios`), `PATH.py[:NAME]`,
or `package.module:NAME`. Nothing here imports scenarios/ by name."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from testbed.scenario import ConfigError, Scenario, check

GROUP = "testbed.scenarios"
DEFAULT_ATTR = "SCENARIO"

_importing = 0  # > 0 while a scenario file is being imported (see NestedRun)
_files: dict[Path, ModuleType] = {}  # a scenario file's module, imported once a process


class NestedRun(BaseException):  # not an Exception: a script's `except Exception` lets it by
    """Raised by testbed.run/explore/replay/minimize when called while a scenario file is
    imported again (by reference, in the parent's check or in a child process): a plain
    script without `if __name__ == "__main__":` is imported up to that call, which it
    defined its scenario before, and the call is not run again."""


def refuse_nested_run() -> None:
    """The public API's first step: NestedRun while a scenario file is being imported."""
    if _importing:
        raise NestedRun("testbed's API called while a scenario file is being imported")


def adopt_main(module: ModuleType) -> None:
    """The running script (`__main__`) as the module of its own file, so that a reference
    to a scenario it defines does not import the script a second time in this process."""
    origin = getattr(module, "__file__", None)
    if origin:
        _files.setdefault(Path(origin).resolve(), module)


def builtin_names() -> list[str]:
    """Names registered under the entry-point group (this package's and installed ones)."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def _split(ref: str) -> tuple[str, str]:
    head, sep, attr = ref.rpartition(":")
    if sep and head and attr.isidentifier():
        return head, attr
    return ref, ""


def is_file_ref(ref: str) -> bool:
    return _split(ref)[0].endswith(".py")


def canonical(ref: str) -> str:
    """The form children and traces use: a file path made absolute, `:NAME` only if given."""
    target, attr = _split(ref)
    if target.endswith(".py"):
        target = str(Path(target).expanduser().resolve())
    return f"{target}:{attr}" if attr else target


@cache
def load(ref: str) -> Scenario:
    """The scenario `ref` names; ConfigError (exit 2) naming the reference and the reason."""
    target, attr = _split(ref)
    if target.endswith(".py"):
        return _from_file(Path(target), attr or DEFAULT_ATTR)
    if attr:
        try:
            module = importlib.import_module(target)
        except Exception as e:
            raise ConfigError(
                f"scenario {ref}: module {target} does not import: {_why(e)}"
            ) from None
        return _attribute(module, attr, f"module {target}")
    for ep in entry_points(group=GROUP):
        if ep.name == ref:
            try:
                obj = ep.load()
            except Exception as e:
                raise ConfigError(f"scenario {ref}: {ep.value} does not load: {_why(e)}") from None
            return _native(check(obj, f"scenario {ref} ({ep.value})"))
    known = ", ".join(builtin_names()) or "none"
    raise ConfigError(
        f"unknown scenario {ref!r}: expected a file (PATH.py or PATH.py:NAME), "
        f"package.module:NAME, or an installed name ({known})"
    )


def _from_file(path: Path, attr: str) -> Scenario:
    return _attribute(file_module(path), attr, f"scenario file {path.resolve()}")


def file_module(path: Path) -> ModuleType:
    """The module a scenario file defines, imported once a process (up to a call of the
    testbed's API at its top level: see NestedRun)."""
    global _importing
    if not path.is_file():
        raise ConfigError(f"scenario file {path}: no such file")
    path = path.resolve()
    if path in _files:
        return _files[path]
    name = "testbed_scenario_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"scenario file {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # as when running the file: its neighbours import
    _importing += 1
    try:
        spec.loader.exec_module(module)
    except NestedRun:
        pass  # a plain script: what it defined before calling testbed.run is its scenario
    except Exception as e:
        sys.modules.pop(name, None)
        raise ConfigError(f"scenario file {path} does not import: {_why(e)}") from None
    finally:
        _importing -= 1
    _files[path] = module
    return module


def _attribute(module, attr: str, where: str) -> Scenario:
    if not hasattr(module, attr):
        raise ConfigError(f"{where} defines no {attr} (expected {attr} = YourScenario())")
    return _native(check(getattr(module, attr), f"{where}, {attr}"))


def _native(scenario: Scenario) -> Scenario:
    """Its C sources compiled (Scenario.native), before anything starts: ConfigError if not."""
    if not scenario.native:
        return scenario
    from testbed.native import build

    return build.prepare(scenario)


def _why(e: BaseException) -> str:
    """The cause in one line: the exception and where in the user's file it was raised."""
    if isinstance(e, SyntaxError):
        return f"SyntaxError: {e.msg} (line {e.lineno})"
    frames = traceback.extract_tb(e.__traceback__)
    where = f" (line {frames[-1].lineno} of {frames[-1].filename})" if frames else ""
    return f"{type(e).__name__}: {e}{where}"


def reference(scenario: Scenario | str) -> str:
    """The reference of a scenario given by reference or as an object. An object must be
    reachable as an attribute of its module, so its processes can load it again."""
    if isinstance(scenario, str):
        canonical_ref = canonical(scenario)
        load(canonical_ref)
        return canonical_ref
    for name in builtin_names():
        try:
            if load(name) is scenario:
                return name
        except ConfigError:
            continue
    module = sys.modules.get(type(scenario).__module__)
    if module is not None and module.__name__ == "__main__":
        adopt_main(module)
    for attr, value in vars(module or object()).items():
        if value is scenario:
            origin = getattr(module, "__file__", None)
            # a top-level module (a script, a test file) by its file: the children's
            # sys.path may not hold its directory; a package's module by its import name
            by_file = origin and "." not in module.__name__
            ref = f"{origin}:{attr}" if by_file else f"{module.__name__}:{attr}"
            _same_declaration(load(ref), scenario, ref)
            return ref
    raise ConfigError(
        f"scenario object {scenario.name or type(scenario).__name__!r} is not an attribute of "
        f"its module ({type(scenario).__module__}): its processes load it again by reference, "
        "so define it at module level (SCENARIO = YourScenario()) or pass a reference"
    )


def _same_declaration(loaded: Scenario, given: Scenario, ref: str) -> None:
    if loaded.name != given.name or loaded.variants != given.variants:
        raise ConfigError(
            f"scenario {given.name!r}: loading it again as {ref} gives another scenario "
            f"({loaded.name!r}); pass its reference instead"
        )


def replay_flags(ref: str) -> str:
    """What a printed replay command adds for a trace of scenario `ref`: nothing for an
    installed one, else `--scenario REF` (a replay runs only a scenario the user names)."""
    import shlex

    if not ref or ref in builtin_names():
        return ""
    return f" --scenario {shlex.quote(ref)}"
