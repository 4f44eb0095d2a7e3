"""A defect in one check costs one record (quarantined, replayable), not the whole file."""

from __future__ import annotations

import logging

from std_factories import PERSON, make_case

from standards.formats import write_records
from standards.validation import CheckOptions
from standards.validation.batch import BatchUniqueness
from tongyuan import validating


def test_a_check_that_raises_quarantines_that_record_and_the_file_goes_on(
    tmp_path, monkeypatch, caplog
) -> None:
    path = tmp_path / "cases.xml"
    write_records(path, [make_case(dept_case_no=f"NO{i}", serial=None) for i in range(3)])
    real = validating.check_record

    def flaky(record, options, base_dir=None, **flags):
        if record.dept_case_no == "NO1":
            raise TypeError(f"cannot compare {PERSON}")  # a check's bug, quoting a value
        return real(record, options, base_dir=base_dir, **flags)

    monkeypatch.setattr(validating, "check_record", flaky)
    with caplog.at_level(logging.ERROR):
        checked = list(
            validating.check_file(path, options=CheckOptions(), uniqueness=BatchUniqueness())
        )
    rules = [[f.rule for f in c.findings] for c in checked]
    assert rules == [[], ["record.check_failed"], []]
    assert "TypeError" in checked[1].findings[0].message
    assert PERSON not in caplog.text and "cases.xml#2" in caplog.text
