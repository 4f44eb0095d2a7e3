"""The loader's compact batch uniqueness gives the findings of the plain one."""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from standards.records import SourceLocation
from standards.validation.batch import BatchUniqueness
from tongyuan.loading_keys import SHARDS, CompactUniqueness, _Table

RULES = ("case.key.duplicate", "case.serial.duplicate", "material.key.duplicate")

keys = st.lists(
    st.tuples(
        st.lists(st.tuples(st.sampled_from(RULES), st.text(max_size=6)), max_size=3),
        st.sampled_from(["cases/a.xml", "cases/b.xml", "案件.xml"]),
        st.booleans(),
        st.one_of(st.none(), st.integers(0, 2**32 - 2)),  # lines beyond are not kept
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(keys)
def test_same_findings_as_the_plain_uniqueness(records):
    plain, compact = BatchUniqueness(), CompactUniqueness()
    for index, (record_keys, file, numbered, line) in enumerate(records):
        # Every record has a place of its own (a record without a number is the only one).
        where = SourceLocation(file, index if numbered or index else None, line)  # type: ignore[arg-type]
        expected = plain.check_keys(tuple(record_keys), where)
        got = compact.check_keys(tuple(record_keys), where)
        assert [(f.rule, f.message, f.field) for f in got] == [
            (f.rule, f.message, f.field) for f in expected
        ]


@settings(max_examples=200, deadline=None)
@given(keys, st.lists(st.integers(0, 59), max_size=4))
def test_same_findings_when_files_are_forgotten(records, forget_after):
    """A file rolled back: the next record naming one of its keys is the first."""
    plain, compact = BatchUniqueness(), CompactUniqueness()
    for index, (record_keys, file, _numbered, line) in enumerate(records):
        where = SourceLocation(file, index, line)
        expected = plain.check_keys(tuple(record_keys), where)
        got = compact.check_keys(tuple(record_keys), where)
        assert [(f.rule, f.message) for f in got] == [(f.rule, f.message) for f in expected]
        if index in forget_after:
            plain.forget_file(file)
            compact.forget_file(file)


def test_a_forgotten_file_owns_none_of_its_keys():
    for uniqueness in (BatchUniqueness(), CompactUniqueness()):
        key = (("case.key.duplicate", "SZ\x1fNO1"),)
        assert uniqueness.check_keys(key, SourceLocation("a.xml", 1)) == []
        uniqueness.forget_file("a.xml")
        assert uniqueness.check_keys(key, SourceLocation("b.xml", 1)) == []
        (again,) = uniqueness.check_keys(key, SourceLocation("c.xml", 1))
        assert "b.xml#1" in again.message


def test_the_same_text_under_two_rules_is_two_keys():
    compact = CompactUniqueness()
    where = SourceLocation("a.xml", 1, 2)
    assert not compact.check_keys((("case.key.duplicate", "X"),), where)
    assert not compact.check_keys((("case.serial.duplicate", "X"),), where)
    (finding,) = compact.check_keys((("case.serial.duplicate", "X"),), SourceLocation("a", 5))
    assert finding.rule == "case.serial.duplicate" and "a.xml#1 (line 2)" in finding.message


def test_a_million_keys_stay_small_and_are_all_remembered():
    compact = CompactUniqueness()
    objects = len(gc.get_objects())
    n = 500_000
    for i in range(n):
        compact.check_keys(
            (("case.key.duplicate", f"SZ\x1f{i}"), ("case.serial.duplicate", f"S{i}")),
            SourceLocation("big.xml", i, 3 * i),
        )
    # No Python object per key (a dict of digests held ~120 bytes a key): flat arrays
    # of 16 bytes a slot (at most a little over half of them free) and 12 a record.
    assert len(gc.get_objects()) - objects < 1000
    assert compact.nbytes <= n * (2 * 32 + 12)
    (again,) = compact.check_keys(
        (("case.key.duplicate", f"SZ\x1f{n - 1}"),), SourceLocation("big.xml", n)
    )
    assert f"big.xml#{n - 1} (line {3 * (n - 1)})" in again.message


def test_a_growing_table_copies_only_its_own_share(monkeypatch):
    copied: list[int] = []
    grown = _Table.grown

    def counting(self):
        copied.append(self.used)
        return grown(self)

    monkeypatch.setattr(_Table, "grown", counting)
    compact = CompactUniqueness()
    n = 200_000
    for i in range(n):
        compact.check_keys((("case.key.duplicate", f"K{i}"),), SourceLocation("f.xml", i))
    # A growth step copies one table's keys, about a sixty-fourth of them, never the lot
    # (one table of all keys held its old and new arrays at once).
    assert copied and max(copied) < 2 * n / SHARDS
    (again,) = compact.check_keys((("case.key.duplicate", "K7"),), SourceLocation("f.xml", n))
    assert "f.xml#7" in again.message
