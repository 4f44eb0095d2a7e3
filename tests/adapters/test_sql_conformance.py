"""The conformance kit against the ``sql`` source on PostgreSQL (a department database)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from adapters.builtin.sql import SqlSource
from adapters.builtin.sql_department import department_config
from adapters.conformance.base import AdapterConformanceTests

URL_VARIABLE = "TY_SQL_KIT_URL"


@pytest.mark.postgres
class TestSqlConformance(AdapterConformanceTests):
    adapter = SqlSource
    config: ClassVar[dict[str, Any]] = department_config(f"env:{URL_VARIABLE}")
    rows = 100_000
    _url: ClassVar[str] = ""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _department_database(cls, pg_server: Any) -> Any:
        name = pg_server.create_database(prefix="tykit")
        cls._url = pg_server.url(name)
        yield
        pg_server.drop_database(name)

    def environment(self, scratch: Path) -> dict[str, str]:
        return {URL_VARIABLE: self._url}
