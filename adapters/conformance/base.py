"""The conformance kit from pytest: subclass, name the adapter and its configuration.

::

    from adapters.conformance.base import AdapterConformanceTests

    class TestMarketCases(AdapterConformanceTests):
        adapter = MarketCases
        config = "adapter.yaml"          # relative to this test file
        rows = 100_000                   # the memory check's rows (the CLI uses 1M)

gives one test per check (``test_config``, ``test_boundary``, …), each failing with the
kit's reason. The checks share one harness per class; each starts from an empty system.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from adapters.conformance.kit import (
    CHECKS,
    DEFAULT_MEMORY_BOUND_MIB,
    DEFAULT_SAMPLE_ROWS,
    Check,
    KitRun,
    run_check,
)
from adapters.sdk.config import SecretResolver
from adapters.sdk.source import Source


class AdapterConformanceTests:
    """Base class of a department's conformance tests (pytest collects the subclasses)."""

    adapter: ClassVar[type[Source]]
    #: A YAML path (relative to the test file) or the configuration as a mapping.
    config: ClassVar[str | Path | Mapping[str, Any]]
    rows: ClassVar[int] = 100_000
    sample_rows: ClassVar[int] = DEFAULT_SAMPLE_ROWS
    memory_bound_mib: ClassVar[float] = DEFAULT_MEMORY_BOUND_MIB
    stream: ClassVar[str | None] = None
    secrets: ClassVar[SecretResolver | None] = None

    def configuration(self, scratch: Path) -> str | Path | Mapping[str, Any]:
        """The configuration to check; override to build it around ``scratch``."""
        return self.config

    def environment(self, scratch: Path) -> dict[str, str]:
        """Environment variables set while the kit runs (``env:`` secrets of the config).

        ``scratch`` is an empty folder of this test class, for test databases or folders
        the harness may fill and empty.
        """
        return {}

    @pytest.fixture(scope="class")
    @classmethod
    def conformance_run(
        cls, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[KitRun]:
        """One kit run shared by this class's checks; the harness is closed at the end."""
        self = cls()
        scratch = tmp_path_factory.mktemp("conformance")
        config = self.configuration(scratch)
        if isinstance(config, str | Path):
            path = Path(config)
            if not path.is_absolute():
                path = Path(request.path).parent / path
            config = path
        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.environment(scratch).items():
                patch.setenv(name, value)
            run = KitRun(
                self.adapter,
                config,
                stream=self.stream,
                bulk_rows=self.rows,
                sample_rows=self.sample_rows,
                memory_bound_mib=self.memory_bound_mib,
                secrets=cls.secrets,
            )
            try:
                yield run
            finally:
                run.close()


def _conformance_test(check: Check) -> Callable[[AdapterConformanceTests, KitRun], None]:
    def test(self: AdapterConformanceTests, conformance_run: KitRun) -> None:
        if check.name != "config":
            conformance_run.has_harness()  # the harness prepares the system first
        result = run_check(conformance_run, check)
        if result.status != "pass":
            pytest.fail(f"{check.title}: {result.status}: {result.reason}", pytrace=False)

    test.__name__ = f"test_{check.name}"
    test.__qualname__ = f"AdapterConformanceTests.test_{check.name}"
    test.__doc__ = f"Conformance: {check.title}."
    return test


for _check in CHECKS:
    setattr(AdapterConformanceTests, f"test_{_check.name}", _conformance_test(_check))
del _check

__all__ = ["AdapterConformanceTests"]
