"""The SQL building blocks of the suites, on both backends, and what the history stores."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, text

from tongyuan.libraries.quality import FAILING_KEYS_CAP
from tongyuan.quality.checks import SuiteContext, region_prefix
from tongyuan.quality.history import masked_keys, pass_rate
from tongyuan.quality.runner import QualityRunSummary, RuleSummary, resolve_suites
from tongyuan.quality.sql import Dialect, in_list, quote

VALID_USCC = ("91110000600037341L", "91110108551385082Q", "91350100M000100Y43")
INVALID_USCC = (
    "91110000600037341M",  # wrong check character
    "91350211M0000XUF46",  # registered, but fails its check (DESIGN §3)
    "9111000060003734",  # too short
    "91110000600037341LX",  # too long
    "9111000060003734IL",  # I is not in the set
)


def _value(engine: Engine, expression: str, code: str) -> object:
    with engine.connect() as connection:
        return connection.execute(
            text(f"SELECT CASE WHEN {expression} THEN 1 ELSE 0 END FROM (SELECT :c AS code) t"),
            {"c": code},
        ).scalar_one()


def test_uscc_check_runs_in_the_database(engine: Engine) -> None:
    expression = Dialect(engine.dialect.name).uscc_invalid("code")
    assert [_value(engine, expression, c) for c in VALID_USCC] == [0, 0, 0]
    assert [_value(engine, expression, c) for c in INVALID_USCC] == [1] * len(INVALID_USCC)


def test_non_digit_test_and_json_members(engine: Engine) -> None:
    d = Dialect(engine.dialect.name)
    assert _value(engine, d.has_non_digit("code"), "20260105001A") == 1
    assert _value(engine, d.has_non_digit("code"), "202601050012") == 0
    with pytest.raises(ValueError, match="JSON member"):
        d.json_text("data", "name') OR 1=1 --")
    with pytest.raises(ValueError, match="identifier"):
        d.json_text("data; DROP TABLE cases", "name")


def test_dialects_and_literals() -> None:
    with pytest.raises(ValueError, match="sqlite or postgresql"):
        Dialect("mysql")
    assert quote("O'Brien") == "'O''Brien'"
    assert in_list([]) == "(NULL)"
    assert in_list(["1", "3"]) == "('1', '3')"


def test_scope_is_a_region_and_everything_under_it() -> None:
    assert region_prefix("440000") == "44"
    assert region_prefix("440300") == "4403"
    assert region_prefix("440305") == "440305"
    with pytest.raises(ValueError, match="6-digit region code"):
        region_prefix("4403")
    ctx = SuiteContext(Dialect("sqlite"), as_of=None, scope="440300", tables=frozenset())  # type: ignore[arg-type]
    assert ctx.in_scope("c.region_code") == "c.region_code LIKE '4403%'"


def test_unknown_suites_are_named() -> None:
    assert resolve_suites(None) == [
        "completeness",
        "consistency",
        "rules",
        "timeliness",
        "integrity",
    ]
    assert resolve_suites(["integrity", "rules"]) == ["rules", "integrity"]
    with pytest.raises(ValueError, match=r"unknown quality suite.*nonsense"):
        resolve_suites(["nonsense"])


def test_failing_keys_are_masked_and_capped() -> None:
    keys = masked_keys(["11010519491231002X", *[f"k{i}" for i in range(2 * FAILING_KEYS_CAP)]])
    assert keys[0] == "1101**********002X"
    assert len(keys) == FAILING_KEYS_CAP
    assert pass_rate(0, 0) == 1.0 and pass_rate(4, 1) == 0.75


def test_the_json_pass_rate_never_rounds_to_one_with_a_failure_or_to_zero_with_a_pass() -> None:
    """One failure in three million rounds to 1.0 at six decimals: the JSON gives the exact
    ratio then, as the report never shows 100.0 % with failures."""
    rules = [
        RuleSummary("timeliness", "case.overdue", "t", "case", 3_000_000, 1),
        RuleSummary("timeliness", "claim.overdue", "t", "claim", 3_000_000, 2_999_999),
        RuleSummary("timeliness", "review.overdue", "t", "review", 8, 2),
    ]
    now = datetime(2026, 6, 30, tzinfo=UTC)
    summary = QualityRunSummary(
        "r", "failed", ["timeliness"], "all", date(2026, 6, 30), now, now, None, rules
    )
    rates = [r["pass_rate"] for r in summary.to_dict()["rules"]]
    assert 0.999999 < rates[0] < 1.0
    assert 0.0 < rates[1] < 0.000001
    assert rates[2] == 0.75
