"""Record rules: a valid record passes; each broken rule is reported once, with its field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from std_factories import (
    AUTH17,
    AUTHORITY,
    BASIC,
    CST,
    PERSON,
    PERSON17,
    at,
    make_case,
    make_item,
    make_license,
    make_material,
)

from standards.codes import CaseState, ExerciseLevel, IdType, ItemType
from standards.identifiers import format_case_serial, make_impl_code
from standards.records import Applicant, CaseEvent, SourceLocation
from standards.validation import CheckOptions, Severity
from standards.validation.batch import BatchUniqueness
from standards.validation.record_checks import check_record
from standards.validation.state_machine import illegal_step


def _rules(findings):
    return sorted(f.rule for f in findings)


def test_valid_item_and_case_pass():
    assert check_record(make_item()) == []
    assert check_record(make_case()) == []


@pytest.mark.parametrize(
    ("over", "rule", "field"),
    [
        ({"promised_limit_days": 30}, "item.time_limit", "promised_limit_days"),
        ({"exercise_level": ExerciseLevel.CITY}, "item.impl_code.level_mismatch", "exercise_level"),
        ({"item_type": ItemType.CONFIRMATION}, "item.item_type_mismatch", "item_type"),
        ({"region_code": "440399"}, "region.unknown", "region_code"),
        ({"basic_code": "4401070080A0"}, "basic_code.format", "basic_code"),
    ],
)
def test_item_rules(over, rule, field):
    findings = [f for f in check_record(make_item(**over)) if f.rule == rule]
    assert findings and findings[0].field == field


def test_a_handling_code_of_another_impl_code_has_its_own_rule():
    """QA: reported as item.impl_code.basic_mismatch (实施编码与基本编码不一致)."""
    item = make_item()
    other = item.impl_code[:18] + "3" + item.impl_code[19:]  # another valid 实施编码
    findings = check_record(item.model_copy(update={"handling_code": other + "01"}))
    assert [(f.rule, f.field) for f in findings] == [
        ("item.handling_code.mismatch", "handling_code")
    ]
    assert item.impl_code in findings[0].message


def test_a_basic_code_of_another_provinces_local_catalogue_is_refused():
    """QA: a Guangdong item under Shandong's local 基本编码 made Shandong its issuer."""
    shandong = "37" + BASIC[2:]
    item = make_item(basic_code=shandong, impl_code=make_impl_code(AUTHORITY, "4", shandong))
    findings = check_record(item)
    assert [(f.rule, f.field) for f in findings] == [
        ("item.basic_code.other_province", "basic_code")
    ]
    assert "370000" in findings[0].message and "440000" in findings[0].message


@pytest.mark.parametrize("prefix", ["00", "44"])
def test_a_national_or_own_province_basic_code_passes(prefix):
    basic = prefix + BASIC[2:]
    item = make_item(basic_code=basic, impl_code=make_impl_code(AUTHORITY, "4", basic))
    assert check_record(item) == []


def test_bad_authority_check_char_is_configurable_per_source():
    bad = AUTH17 + ("0" if AUTHORITY[-1] != "0" else "1")
    item = make_item(authority_uscc=bad, impl_code=make_impl_code(bad, "4", BASIC))
    strict = check_record(item)
    assert _rules(strict) == ["uscc.check"] and strict[0].severity is Severity.ERROR
    lenient = check_record(item, CheckOptions(uscc_check_severity=Severity.WARNING))
    assert _rules(lenient) == ["uscc.check"] and lenient[0].severity is Severity.WARNING


def test_case_rules():
    bad_id = PERSON17 + ("0" if PERSON[-1] != "0" else "1")
    case = make_case(applicant=Applicant(name="张伟", id_type=IdType.CITIZEN_ID, id_number=bad_id))
    findings = check_record(case)
    assert _rules(findings) == ["citizen_id.check"]
    assert findings[0].field == "applicant.id_number"
    assert bad_id not in findings[0].message  # personal IDs never echoed

    events = make_case().events
    done_before_accept = make_case(
        events=[events[0], events[3]], accepted_at=None, decided_at=at(6)
    )
    found = check_record(done_before_accept)
    assert _rules(found) == ["case.events.transition"]
    assert found[0].field == "events.1.state"

    swapped = [events[0], events[1], CaseEvent(state=CaseState.PROCESSING, at=at(1)), events[3]]
    assert _rules(check_record(make_case(events=swapped))) == ["case.events.order"]

    assert _rules(check_record(make_case(decided_at=at(2, 8)))) == ["case.timestamps"]
    other = make_impl_code(AUTHORITY, "4", "440107009000")
    assert _rules(
        check_record(make_case(serial=format_case_serial(other, date(2026, 3, 2), 1)))
    ) == ["case.serial.mismatch"]


def test_no_event_after_revocation():
    states = [CaseState.ACCEPTED, CaseState.DONE_APPROVED, CaseState.REVOKED, CaseState.PROCESSING]
    step = illegal_step(states)
    assert step is not None and step[0] == 3
    assert illegal_step([CaseState.ACCEPTED, CaseState.DONE_APPROVED, CaseState.REVOKED]) is None
    assert illegal_step([CaseState.DONE_APPROVED])[0] == 0


@pytest.mark.parametrize(
    ("codes", "at"),
    [
        ("1 6 7 11", 3),  # 办结 without 受理: the correction came before acceptance
        ("3 6 7 4", 3),  # 不受理 after 已受理
        ("1 3 6 7 3", 4),  # accepted twice
        ("1 6 7 3 8 11", None),  # corrected, then accepted and decided
        ("1 3 6 7 8 11", None),  # corrected during handling
        ("1 6 7 2", None),  # withdrawn while correcting, before acceptance
        ("1 3 14 8", 3),  # nothing after 撤回
    ],
)
def test_what_follows_a_correction_depends_on_whether_the_case_was_accepted(codes, at):
    step = illegal_step([CaseState(code) for code in codes.split()])
    assert (step[0] if step else None) == at


def test_material_file_rules(tmp_path):
    good = make_material(tmp_path)
    assert check_record(good, base_dir=tmp_path) == []
    assert _rules(check_record(good.model_copy(update={"size": 1}), base_dir=tmp_path)) == [
        "material.file.size"
    ]
    assert _rules(
        check_record(good.model_copy(update={"sha256": "0" * 64}), base_dir=tmp_path)
    ) == ["material.file.sha256"]
    for name in ("../secret", "/etc/passwd", "files/../../x", "C:\\x", "files\\a.pdf"):
        assert _rules(check_record(good.model_copy(update={"file": name}), base_dir=tmp_path)) == [
            "material.file.unsafe_path"
        ], name
    (tmp_path / "outside").write_text("x")
    (tmp_path / "files" / "link").symlink_to(tmp_path.parent)
    assert _rules(
        check_record(good.model_copy(update={"file": "files/link/x"}), base_dir=tmp_path)
    ) == ["material.file.unsafe_path"]
    assert _rules(
        check_record(good.model_copy(update={"file": "files/nope.pdf"}), base_dir=tmp_path)
    ) == ["material.file.missing"]
    assert _rules(
        check_record(good.model_copy(update={"valid_to": date(2025, 1, 1)}), base_dir=tmp_path)
    ) == ["material.validity"]


def test_license_rules():
    assert check_record(make_license()) == []
    assert _rules(check_record(make_license(version="002"))) == ["license.identifier.mismatch"]
    assert _rules(check_record(make_license(valid_to=date(2020, 1, 1)))) == ["license.validity"]
    ident = make_license().identifier
    tampered = ident[:-1] + ("0" if ident[-1] != "0" else "1")
    assert _rules(check_record(make_license(identifier=tampered))) == ["license_id.check"]


def test_batch_uniqueness_names_first_occurrence():
    seen = BatchUniqueness()
    case = make_case()
    assert seen.check(case, SourceLocation("a.xml", 1, 3)) == []
    again = seen.check(case, SourceLocation("b.xml", 7, 40))
    assert _rules(again) == ["case.key.duplicate", "case.serial.duplicate"]
    assert "a.xml#1" in again[0].message


def test_times_without_an_offset_are_beijing_time_when_mixed_with_offsets() -> None:
    """A department mixing naive and +08:00 times in one case: compared as instants."""

    def naive(day: int, hour: int = 9):
        return at(day, hour).replace(tzinfo=None)  # the same Beijing wall time

    case = make_case(
        events=[
            CaseEvent(state=CaseState.RECEIVED, at=naive(2)),
            CaseEvent(state=CaseState.ACCEPTED, at=at(2, 10)),
            CaseEvent(state=CaseState.PROCESSING, at=naive(3)),
            CaseEvent(state=CaseState.DONE_APPROVED, at=naive(6)),
        ],
        accepted_at=naive(2, 10),
        decided_at=at(6),
        delivered_at=naive(7),
    )
    assert check_record(case) == []
    earlier = make_case(
        events=[
            CaseEvent(state=CaseState.RECEIVED, at=at(2, 11)),
            CaseEvent(state=CaseState.ACCEPTED, at=naive(2, 10)),
        ],
        accepted_at=naive(2, 10),
        decided_at=None,
        delivered_at=None,
    )
    assert [f.rule for f in check_record(earlier)] == ["case.events.order"]
    late = make_case(delivered_at=naive(5))
    assert [f.field for f in check_record(late)] == ["delivered_at"]


def test_case_codes_typed_by_hand_are_the_codes_they_name() -> None:
    """Lower case, hyphens and full-width digits do not make another item or serial."""
    good = make_case()
    typed = make_case(
        impl_code=f"{good.impl_code[:11]}-{good.impl_code[11:]}".lower(),
        serial=good.serial.lower().replace(good.serial[-1], chr(0xFF10 + int(good.serial[-1]))),
    )
    assert (typed.impl_code, typed.serial) == (good.impl_code, good.serial)
    assert check_record(typed) == []
    uniqueness = BatchUniqueness()
    assert uniqueness.check(good, SourceLocation("cases.xml", 1)) == []
    other = make_case(dept_case_no="OTHER-1", serial=good.serial.lower())
    found = uniqueness.check(other, SourceLocation("cases.xml", 2))
    assert [f.rule for f in found] == ["case.serial.duplicate"]


def test_batch_uniqueness_refuses_a_second_item_with_the_same_impl_code():
    """Two records of one 实施编码 in a delivery: the later one names the first."""
    seen = BatchUniqueness()
    item = make_item()
    assert seen.check(item, SourceLocation("items.xml", 1, 3)) == []
    again = seen.check(make_item(promised_limit_days=12), SourceLocation("items.xml", 2, 30))
    assert _rules(again) == ["item.key.duplicate"]
    assert again[0].field == "impl_code" and "items.xml#1" in again[0].message
    other = make_item(impl_code=make_impl_code(AUTHORITY, "4", "440107009000"))
    assert seen.check(other, SourceLocation("items.xml", 3)) == []


def _at_level(level: ExerciseLevel, region: str):
    basic = region[:2] + BASIC[2:]  # the region's own province's catalogue
    impl = make_impl_code(AUTHORITY, level.value, basic)
    return make_item(
        basic_code=basic,
        exercise_level=level,
        impl_code=impl,
        handling_code=impl + "01",
        region_code=region,
    )


@pytest.mark.parametrize(
    ("level", "region", "rules"),
    [
        (ExerciseLevel.COUNTY, "440305", []),
        (ExerciseLevel.COUNTY, "440000", ["item.region.level_mismatch"]),  # a province code
        (ExerciseLevel.COUNTY, "440300", ["item.region.level_mismatch"]),  # a city code
        (ExerciseLevel.CITY, "440300", []),
        (ExerciseLevel.CITY, "440305", ["item.region.level_mismatch"]),
        (ExerciseLevel.PROVINCE, "440000", []),
        (ExerciseLevel.PROVINCE, "440300", ["item.region.level_mismatch"]),
        (ExerciseLevel.COUNTY, "440305000000", []),  # the 12-digit form of the county
        (ExerciseLevel.NATIONAL, "440000", []),  # no region code names the nation
        (ExerciseLevel.CITY, "110000", []),  # 直辖市: province and city at once
        (ExerciseLevel.PROVINCE, "110100", []),
        (ExerciseLevel.COUNTY, "110000", ["item.region.level_mismatch"]),
    ],
)
def test_an_items_region_is_of_the_level_that_exercises_it(level, region, rules):
    findings = [f for f in check_record(_at_level(level, region)) if f.rule != "region.unknown"]
    assert _rules(findings) == rules
    if rules:
        assert findings[0].field == "region_code" and region in findings[0].message


def test_a_level_the_impl_code_disagrees_with_is_one_finding_not_two():
    """The generator's level defect: 实施编码 says 4, the item 3, the region 440305."""
    found = check_record(make_item(exercise_level=ExerciseLevel.CITY))
    assert _rules(found) == ["item.impl_code.level_mismatch"]


def test_a_case_with_times_in_the_future_is_refused() -> None:
    """Decided or delivered after the hub's clock (plus 10 minutes of skew): not yet
    happened, so not stored as done; the finding names the first such field."""
    case = make_case()  # received 2 March 09:00 … decided 6 March 09:00, delivered 7 March
    decided = datetime(2026, 3, 6, 9, 0, tzinfo=CST)

    def future(now: datetime, case=case) -> list[tuple[str, str | None]]:
        found = check_record(case, CheckOptions(now=now))
        return [(f.rule, f.field) for f in found if f.rule == "case.timestamps.future"]

    # The day after the delivery, and within the skew of the last time: accepted.
    assert check_record(case, CheckOptions(now=datetime(2026, 3, 8, tzinfo=CST))) == []
    assert future(datetime(2026, 3, 7, 8, 51, tzinfo=CST)) == []
    # Delivered ten minutes and one second after the hub's now: refused, field named.
    assert future(datetime(2026, 3, 7, 8, 49, 59, tzinfo=CST)) == [
        ("case.timestamps.future", "delivered_at")
    ]
    # Decided after now: the 办结 event (the first future time) is named.
    assert future(decided - timedelta(hours=1)) == [("case.timestamps.future", "events.3.at")]
    # Hub clock in UTC, case times without an offset (Beijing): compared as instants.
    naive = make_case(delivered_at=datetime(2026, 3, 7, 9, 0))
    utc_now = datetime(2026, 3, 7, 0, 45, tzinfo=UTC)  # 08:45 in Beijing
    found = check_record(naive, CheckOptions(now=utc_now))
    assert [(f.rule, f.field) for f in found] == [("case.timestamps.future", "delivered_at")]
    assert "2026-03-07T09:00:00+08:00" in found[0].message and "10 minutes" in found[0].message
    # A wider allowed skew for a source whose clock runs ahead.
    skewed = CheckOptions(now=utc_now, clock_skew=timedelta(minutes=20))
    assert check_record(naive, skewed) == []


def test_the_future_is_judged_by_the_clock_when_no_now_is_pinned() -> None:
    """Without ``now`` the check reads the clock at each call (a long run never judges
    against the moment it started)."""
    soon = datetime.now(UTC) + timedelta(days=1)
    events = [
        CaseEvent(state=CaseState.RECEIVED, at=at(2)),
        CaseEvent(state=CaseState.ACCEPTED, at=at(2, 10)),
        CaseEvent(state=CaseState.PROCESSING, at=soon),
    ]
    case = make_case(events=events, decided_at=None, delivered_at=None)
    assert [f.field for f in check_record(case)] == ["events.2.at"]
    assert check_record(case, CheckOptions(now=soon)) == []
