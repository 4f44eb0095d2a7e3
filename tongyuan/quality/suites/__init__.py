"""The five quality suites; each module's ``checks(ctx)`` lists its checks over the libraries.

File-reading and ledger checks of the integrity suite are in :mod:`tongyuan.quality.files`.
"""

from __future__ import annotations

from collections.abc import Callable

from tongyuan.quality.checks import Check, SuiteContext
from tongyuan.quality.suites import completeness, consistency, integrity, rules, timeliness

SUITE_CHECKS: dict[str, Callable[[SuiteContext], list[Check]]] = {
    "completeness": completeness.checks,
    "consistency": consistency.checks,
    "rules": rules.checks,
    "timeliness": timeliness.checks,
    "integrity": integrity.checks,
}

__all__ = ["SUITE_CHECKS"]
