"""The conformance kit against the ``sftp`` source, its harness uploading to a real sshd."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sshd import start_for_tests

from adapters.builtin.sftp import SftpSource
from adapters.conformance.base import AdapterConformanceTests


class TestSftpConformance(AdapterConformanceTests):
    adapter = SftpSource
    rows = 1_000_000
    _config: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _sshd(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
        server = start_for_tests()
        staging: Path = tmp_path_factory.mktemp("sftp-kit-staging")
        cls._config = {
            "host": "127.0.0.1",
            "port": server.port,
            "username": server.user,
            "remote_dir": str(server.make_dir("drop")),
            "known_hosts": str(server.known_hosts),
            "private_key": str(server.client_key),
            "streams": {"cases": {"kind": "case", "patterns": ["*.xml"]}},
            "settle_seconds": 0,
            "staging_dir": str(staging),
        }
        try:
            yield
        finally:
            server.stop()

    @property
    def config(self) -> dict[str, Any]:  # type: ignore[override]
        return self._config
