"""The conformance kit against the ``files`` source and its harness (a local drop folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from adapters.builtin.files import FilesSource
from adapters.conformance.base import AdapterConformanceTests


class TestFilesConformance(AdapterConformanceTests):
    adapter = FilesSource
    rows = 1_000_000
    _config: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _drop_folder(cls, tmp_path_factory: pytest.TempPathFactory) -> None:
        base: Path = tmp_path_factory.mktemp("files-kit")
        cls._config = {
            "path": str(base / "drop"),
            "streams": {"cases": {"kind": "case", "patterns": ["*.xml"]}},
            "settle_seconds": 0,
            "staging_dir": str(base / "staging"),
        }

    @property
    def config(self) -> dict[str, Any]:  # type: ignore[override]
        return self._config
