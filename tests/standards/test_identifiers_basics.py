"""Normalisation, ISO 7064 primitives and the rule ids the identifier checks raise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standards.identifiers import (
    InvalidIdentifier,
    mod11_2_check_char,
    mod37_36_check_char,
    mod37_36_is_valid,
    normalize_code,
)
from standards.validation.rules import RULES

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

IDENTIFIER_RULES = [
    "uscc.length", "uscc.charset", "uscc.region", "uscc.check",
    "citizen_id.length", "citizen_id.charset", "citizen_id.region", "citizen_id.birth_date",
    "citizen_id.check", "region.format", "region.unknown", "basic_code.format",
    "basic_code.item_type", "impl_code.format", "impl_code.level", "handling_code.format",
    "license_id.format", "license_id.check", "case_serial.format",
]  # fmt: skip


@pytest.mark.parametrize("rule", IDENTIFIER_RULES)
def test_every_identifier_rule_is_in_the_catalogue(rule: str) -> None:
    assert rule in RULES


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("９１１１００００６０００３７３４１Ｌ", "91110000600037341L"),  # full-width
        ("  91110000600037341l \n", "91110000600037341L"),
        ("9111-0000-6000-3734-1L", "91110000600037341L"),
        ("9111 0000_6000　3734 1L", "91110000600037341L"),  # ideographic space inside
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("4403－05", "440305"),  # full-width hyphen-minus
        ("", ""),
    ],
)
def test_normalize_code(raw: str, expected: str) -> None:
    assert normalize_code(raw) == expected


def test_normalize_code_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        normalize_code(None)  # type: ignore[arg-type]


def test_invalid_identifier_carries_rule_and_check_only_flag() -> None:
    exc = InvalidIdentifier("uscc.check", "bad")
    assert exc.rule == "uscc.check" and exc.is_check_only
    assert not InvalidIdentifier("uscc.length", "bad").is_check_only
    assert isinstance(exc, ValueError)


@pytest.mark.parametrize(
    ("first17", "check"),
    [("11010519491231002", "X"), ("36042619910101007", "1")],
)
def test_mod11_2_published_vectors(first17: str, check: str) -> None:
    assert mod11_2_check_char(first17) == check


def _mod11_2_reference(first17: str) -> str:
    # The check from the recursive ISO 7064 definition, independent of the weight table.
    p = 0
    for ch in first17:
        p = ((p + int(ch)) * 2) % 11
    return "0123456789X"[(12 - p) % 11]


@given(st.text("0123456789", min_size=17, max_size=17))
def test_mod11_2_matches_recursive_definition(first17: str) -> None:
    assert mod11_2_check_char(first17) == _mod11_2_reference(first17)


@pytest.mark.parametrize("bad", ["1234", "1101051949123100A", "1" * 18])
def test_mod11_2_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        mod11_2_check_char(bad)


def test_mod37_36_published_vector() -> None:
    # GRid A1-2425G-ABC1234002-M uses ISO 7064 MOD 37,36 (python-stdnum grid/mod_37_36).
    assert mod37_36_check_char("A12425GABC1234002") == "M"
    assert mod37_36_check_char("a12425gabc1234002") == "M"
    assert mod37_36_is_valid("A12425GABC1234002M")
    assert mod37_36_is_valid("a12425gabc1234002m")
    assert not mod37_36_is_valid("A12425GABC1234002N")


@pytest.mark.parametrize("bad", ["", "M", "A1-2425G", "A12425GABC1234002?"])
def test_mod37_36_is_valid_is_false_for_garbage(bad: str) -> None:
    assert not mod37_36_is_valid(bad)


def test_mod37_36_check_char_rejects_characters_outside_alphabet() -> None:
    with pytest.raises(ValueError, match="0-9/A-Z"):
        mod37_36_check_char("ABC-123")


@given(st.text(ALNUM, min_size=1, max_size=60))
def test_mod37_36_computed_check_validates(body: str) -> None:
    assert mod37_36_is_valid(body + mod37_36_check_char(body))


@given(st.text(ALNUM, min_size=1, max_size=60), st.data())
def test_mod37_36_detects_every_single_substitution(body: str, data: st.DataObject) -> None:
    valid = body + mod37_36_check_char(body)
    pos = data.draw(st.integers(0, len(valid) - 1))
    other = data.draw(st.sampled_from(ALNUM).filter(lambda c: c != valid[pos]))
    assert not mod37_36_is_valid(valid[:pos] + other + valid[pos + 1 :])
