"""The conformance kit against the http source, driving tests/httpdept.py's API.

The harness speaks the API's control endpoints over HTTP with the source's own
credentials (``conformance.control_path``), the way a department's staging stub would be
driven. Both incremental modes are checked; the 1M-row memory run is in
test_http_memory.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from httpdept import DeptApi, http_config

from adapters.builtin.http import HttpSource
from adapters.builtin.http_harness import HttpHarness
from adapters.conformance.base import AdapterConformanceTests
from adapters.sdk.errors import AdapterError


class _HttpKit(AdapterConformanceTests):
    adapter = HttpSource
    rows = 5_000
    stream_config: ClassVar[dict[str, Any]] = {}
    api: ClassVar[DeptApi]

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _department_api(cls) -> Iterator[None]:
        with DeptApi() as api:
            cls.api = api
            yield

    def configuration(self, scratch: Path) -> dict[str, Any]:
        return http_config(self.api, self.stream_config)

    def environment(self, scratch: Path) -> dict[str, str]:
        return {"DEPT_API_TOKEN": self.api.token or ""}


class TestHttpConformanceAfterId(_HttpKit):
    """``?updated_after=T&after_id=ID`` with keyset pages."""

    stream_config: ClassVar[dict[str, Any]] = {
        "pagination": {"style": "keyset", "page_size": 500},
        "incremental": {"cursor_field": "gxsj", "id_field": "id", "mode": "after_id"},
    }


class TestHttpConformanceSince(_HttpKit):
    """``?updated_since=T`` (≥) with offset pages; boundary ids de-duplicated from state."""

    stream_config: ClassVar[dict[str, Any]] = {
        "pagination": {"style": "offset", "page_size": 500},
        "incremental": {"cursor_field": "gxsj", "id_field": "id", "mode": "since"},
    }


def test_harness_only_for_configured_test_deployments() -> None:
    with DeptApi() as api:
        config = http_config(api)
        del config["conformance"]
        src = HttpSource.from_config(config)
        with pytest.raises(AdapterError, match=r"conformance\.control_path"):
            src.conformance_harness()


def test_harness_change_of_unknown_key_is_refused() -> None:
    with DeptApi() as api:
        src = HttpSource.from_config(http_config(api), secrets=lambda ref: _token(api))
        harness = src.conformance_harness()
        assert isinstance(harness, HttpHarness)
        try:
            harness.reset()
            (key,) = harness.add(1)
            harness.change([key])
            assert api.table.rows[1]["bbh"] == 2
            with pytest.raises(AdapterError, match="did not add"):
                harness.change([("SZ-SCJG-API", "nope")])
        finally:
            harness.close()


def _token(api: DeptApi):
    from pydantic import SecretStr

    return SecretStr(api.token or "")
