"""The pytest plugin (entry point `pytest11`): a `testbed_stress` fixture, and every
`stress_*.py` file collected as one test item per variant of its `SCENARIO`.

A failing item prints what failed, its trace, and the command that replays it. Every run
has its own named objects, so `pytest -n auto` workers never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from testbed import Result, Scenario

DEFAULT_STRESS: dict[str, Any] = {"duration": 1.0}  # a short run a variant


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testbed", "testbed stress tests")
    group.addoption(
        "--testbed-trace-dir",
        default="traces",
        help="where stress tests write their traces (default ./traces, as the CLI)",
    )


class StressFailed(AssertionError):
    """A stress run whose verdict is not pass; its message is the result's report."""

    def __init__(self, result: Result):
        super().__init__(result.report())
        self.result = result


def _trace_dir(config: pytest.Config) -> str:
    return str(Path(config.getoption("--testbed-trace-dir")).resolve())


@pytest.fixture
def testbed_stress(request: pytest.FixtureRequest) -> Callable[..., Result]:
    """`testbed_stress(scenario, *, variant, **options) -> Result`: a stress test in its own
    processes. `scenario`: a path, `module:NAME`, a built-in name or a Scenario object;
    `options`: the CLI's long options with underscores (`duration=2, pin="same"`)."""
    import testbed

    trace_dir = _trace_dir(request.config)

    def stress(scenario: Scenario | str, *, variant: str, **options: Any) -> Result:
        options.setdefault("trace_dir", trace_dir)
        return testbed.run(scenario, variant=variant, **options)

    return stress


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".py" and file_path.name.startswith("stress_"):
        return StressFile.from_parent(parent, path=file_path)
    return None


class StressFile(pytest.File):
    """A scenario file: one item per variant, run with the file's `STRESS` options."""

    def collect(self) -> Iterator[pytest.Item]:
        from testbed import ConfigError
        from testbed.harness import loader

        try:
            scenario = loader.load(loader.canonical(str(self.path)))
            options = getattr(loader.file_module(self.path), "STRESS", DEFAULT_STRESS)
        except ConfigError as e:
            raise self.CollectError(f"testbed: {e}") from None
        if not isinstance(options, dict):
            raise self.CollectError(
                f"testbed: {self.path}: STRESS is {type(options).__name__}, expected a dict of "
                "options (the CLI's long options with underscores)"
            )
        for variant in scenario.variants:
            yield StressItem.from_parent(
                self, name=f"{scenario.name}[{variant}]", variant=variant, options=options
            )


class StressItem(pytest.Item):
    def __init__(self, *, variant: str, options: dict[str, Any], **kwargs: Any):
        super().__init__(**kwargs)
        self.variant, self.options = variant, dict(options)

    def runtest(self) -> None:
        import testbed

        options = dict(self.options)
        options.setdefault("trace_dir", _trace_dir(self.config))
        result = testbed.run(str(self.path), variant=self.variant, **options)
        self.user_properties.append(("testbed", result.document))
        if result.verdict != "pass":
            raise StressFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:
        from testbed import ConfigError

        if isinstance(excinfo.value, StressFailed | ConfigError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"testbed stress {self.path.name} --variant {self.variant}"
