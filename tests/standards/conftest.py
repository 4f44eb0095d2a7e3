"""Fixtures shared by the tests of the standard: sample records of every kind."""

from __future__ import annotations

import pytest
from standards_samples import SAMPLE_FACTORIES

from standards.records import StandardRecord


@pytest.fixture
def sample_records() -> dict[str, list[StandardRecord]]:
    """Three records of every kind, with Chinese text and XML special characters."""
    return {kind: [make(n) for n in range(1, 4)] for kind, make in SAMPLE_FACTORIES.items()}
