"""Checks of one record against the standard: identifiers and rules spanning several fields.

Each check returns findings instead of raising, so one record reports every rule it breaks
and the rest of the batch goes on. Checks that need other records (uniqueness) live in
:mod:`standards.validation.batch`; checks that read material files in
:mod:`standards.validation.material_files`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from standards.codes.enums import CaseState, ExerciseLevel, IdType
from standards.codes.regions import RegionLevel
from standards.identifiers import (
    BasicCode,
    InvalidIdentifier,
    parse_basic_code,
    parse_case_serial,
    parse_handling_code,
    parse_impl_code,
    parse_license_identifier,
    validate_citizen_id,
    validate_region_code,
    validate_uscc,
)
from standards.identifiers.item_codes import NATIONAL_PREFIX
from standards.records import Case, Item, License, Material, StandardRecord
from standards.validation.findings import Finding, Severity
from standards.validation.material_files import check_material_file
from standards.validation.options import CheckOptions
from standards.validation.state_machine import illegal_step
from standards.validation.xml_chars import check_xml_chars

_DEFAULT = CheckOptions()


def _identifier(
    out: list[Finding], fn: Callable[[str], object], value: str, field: str
) -> object | None:
    try:
        return fn(value)
    except InvalidIdentifier as exc:
        out.append(Finding(exc.rule, exc.message, field))
        return None


def _party_id(
    out: list[Finding], id_type: IdType, value: str, field: str, options: CheckOptions
) -> None:
    """Check an applicant/holder identifier by its declared type; other types are free-form."""
    try:
        if id_type is IdType.CITIZEN_ID:
            validate_citizen_id(value, today=options.today)
        elif id_type is IdType.USCC:
            validate_uscc(value)
    except InvalidIdentifier as exc:
        out.append(Finding(exc.rule, exc.message, field))


def _region(out: list[Finding], code: str, field: str) -> RegionLevel | None:
    """Check a region code; the level its structure implies, or None when it failed."""
    try:
        return validate_region_code(code, known_only=True)
    except InvalidIdentifier as exc:
        out.append(Finding(exc.rule, exc.message, field))
        return None


# The 行使层级 a region code's structure stands for (GB/T 2260: province codes end 0000,
# city codes 00; the platforms' 12-digit codes add township and village).
_EXERCISE_LEVEL_OF_REGION: dict[RegionLevel, ExerciseLevel] = {
    RegionLevel.PROVINCE: ExerciseLevel.PROVINCE,
    RegionLevel.CITY: ExerciseLevel.CITY,
    RegionLevel.COUNTY: ExerciseLevel.COUNTY,
    RegionLevel.TOWNSHIP: ExerciseLevel.TOWNSHIP,
    RegionLevel.VILLAGE: ExerciseLevel.VILLAGE,
}
# 直辖市 (北京, 天津, 上海, 重庆) are provinces and cities at once: their items are filed
# under the province code or the 市辖区 code (110100) and called 省级 or 市级 by platform.
_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})
_MUNICIPAL_LEVELS = frozenset({ExerciseLevel.PROVINCE, ExerciseLevel.CITY})


def _region_level(out: list[Finding], item: Item, level: RegionLevel) -> None:
    """The item's region must be of the level that exercises it.

    A county's own item filed under its province's code makes the province its authority
    for the sync (and the push hands it back to the county as a base item to claim), so
    the disagreement is refused here rather than found later. 国家级 items are not
    checked: no GB/T 2260 code names the nation, and such items are filed under the
    region where they are implemented.
    """
    declared = item.exercise_level
    if declared is ExerciseLevel.NATIONAL:
        return
    implied = _EXERCISE_LEVEL_OF_REGION[level]
    if implied is declared:
        return
    municipal = item.region_code[:2] in _MUNICIPALITIES
    if municipal and implied in _MUNICIPAL_LEVELS and declared in _MUNICIPAL_LEVELS:
        return
    out.append(
        Finding(
            "item.region.level_mismatch",
            f"region code {item.region_code} is a {implied.label} code by its structure "
            f"(行使层级 {implied.value}), the item declares 行使层级 {declared.value} "
            f"({declared.label})",
            "region_code",
        )
    )


def _catalogue_province(out: list[Finding], basic: BasicCode, region_code: str) -> None:
    """A 基本编码 from a province's own catalogue belongs to that province's items.

    Items are catalogued nationally (``00``) or by the province that added them locally;
    an item of 440305 under a code Shandong (37) added is not in Guangdong's catalogue,
    and the sync would make Shandong the issuer every copy is judged against.
    """
    if basic.prefix in (NATIONAL_PREFIX, region_code[:2]):
        return
    out.append(
        Finding(
            "item.basic_code.other_province",
            f"basic code {basic.code} is from the local catalogue of province "
            f"{basic.prefix}0000, the item is implemented in region {region_code} of "
            f"province {region_code[:2]}0000 (a local item's 基本编码 starts with its own "
            "province's code, or 00 for the national catalogue)",
            "basic_code",
        )
    )


def check_item(item: Item, options: CheckOptions = _DEFAULT) -> list[Finding]:
    """Identifiers of an item and the agreement between its codes and its elements."""
    out: list[Finding] = []
    basic = _identifier(out, parse_basic_code, item.basic_code, "basic_code")
    impl = _identifier(out, parse_impl_code, item.impl_code, "impl_code")
    if item.handling_code is not None:
        handling = _identifier(out, parse_handling_code, item.handling_code, "handling_code")
        if handling is not None and handling.impl.code != item.impl_code:  # type: ignore[attr-defined]
            out.append(
                Finding(
                    "item.handling_code.mismatch",
                    f"handling code {item.handling_code} does not extend the implementation "
                    f"code {item.impl_code} (业务办理项编码 = 实施编码 + 2-digit sequence)",
                    "handling_code",
                )
            )
    try:
        validate_uscc(item.authority_uscc)
    except InvalidIdentifier as exc:
        severity = options.uscc_check_severity if exc.is_check_only else Severity.ERROR
        out.append(Finding(exc.rule, exc.message, "authority_uscc", severity))
    if impl is not None:
        if impl.basic.code != item.basic_code:  # type: ignore[attr-defined]
            out.append(
                Finding(
                    "item.impl_code.basic_mismatch",
                    f"implementation code embeds basic code {impl.basic.code}, "  # type: ignore[attr-defined]
                    f"the item declares {item.basic_code}",
                    "impl_code",
                )
            )
        if impl.level is not item.exercise_level:  # type: ignore[attr-defined]
            out.append(
                Finding(
                    "item.impl_code.level_mismatch",
                    f"implementation code has level {impl.level.value}, "  # type: ignore[attr-defined]
                    f"the item declares {item.exercise_level.value}",
                    "exercise_level",
                )
            )
        if impl.authority_uscc != item.authority_uscc.upper():  # type: ignore[attr-defined]
            out.append(
                Finding(
                    "item.impl_code.authority_mismatch",
                    "implementation code names another authority than authority_uscc",
                    "impl_code",
                )
            )
    if basic is not None and basic.item_type is not item.item_type:  # type: ignore[attr-defined]
        out.append(
            Finding(
                "item.item_type_mismatch",
                f"basic code has item type {basic.item_type.value}, "  # type: ignore[attr-defined]
                f"the item declares {item.item_type.value}",
                "item_type",
            )
        )
    region_level = _region(out, item.region_code, "region_code")
    if isinstance(basic, BasicCode) and region_level is not None:
        _catalogue_province(out, basic, item.region_code)
    # When the 实施编码 and the declared level disagree, that is the finding: which of
    # the two is wrong is not known, so the region is not judged against either.
    if region_level is not None and (impl is None or impl.level is item.exercise_level):  # type: ignore[attr-defined]
        _region_level(out, item, region_level)
    if item.promised_limit_days > item.statutory_limit_days:
        out.append(
            Finding(
                "item.time_limit",
                f"promised limit {item.promised_limit_days} working days exceeds the "
                f"statutory limit {item.statutory_limit_days}",
                "promised_limit_days",
            )
        )
    return out


_DONE_STATES = frozenset({CaseState.DONE_APPROVED, CaseState.DONE_TOLERANCE, CaseState.DONE_DENIED})


# A time without an offset is Beijing time (docs/exchange-format.md), as the libraries
# store it (tongyuan.libraries.base.to_utc). Departments mix the two forms within one
# case; compared raw, a naive and an aware time raise TypeError or never match.
_BEIJING = timezone(timedelta(hours=8))


def _instant(value: datetime | None) -> datetime | None:
    """``value`` as an aware time (naive read as Beijing time), for comparing."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=_BEIJING)


def _future_time(case: Case, options: CheckOptions) -> Finding | None:
    """The first of a case's times after the hub's clock (plus the allowed skew), if any.

    A decision dated after "now" has not happened: stored, it would count as done (late
    or on time) before it was made, and ``cases overdue`` would disagree with the quality
    run, which judges only what happened by its day.
    """
    now = options.reference_now()
    now = now if now.tzinfo is not None else now.replace(tzinfo=_BEIJING)
    limit = now + options.clock_skew
    named: list[tuple[str, datetime | None]] = [
        *((f"events.{i}.at", event.at) for i, event in enumerate(case.events)),
        ("accepted_at", case.accepted_at),
        ("decided_at", case.decided_at),
        ("delivered_at", case.delivered_at),
    ]
    for field, value in named:
        when = _instant(value)
        if when is not None and when > limit:
            return Finding(
                "case.timestamps.future",
                f"{field} {when.isoformat()} is in the future: after the hub's clock "
                f"{now.astimezone(_BEIJING).isoformat(timespec='seconds')} "
                f"by more than {options.clock_skew.total_seconds() / 60:g} minutes",
                field,
            )
    return None


def check_case(case: Case, options: CheckOptions = _DEFAULT) -> list[Finding]:
    """Identifiers of a case, its state history and the timestamps derived from it."""
    out: list[Finding] = []
    _identifier(out, parse_impl_code, case.impl_code, "impl_code")
    if case.handling_code is not None:
        _identifier(out, parse_handling_code, case.handling_code, "handling_code")
    if case.serial is not None:
        serial = _identifier(out, parse_case_serial, case.serial, "serial")
        if serial is not None and serial.impl_code != case.impl_code:  # type: ignore[attr-defined]
            out.append(
                Finding(
                    "case.serial.mismatch",
                    "the unified serial was generated for another implementation code",
                    "serial",
                )
            )
    _party_id(out, case.applicant.id_type, case.applicant.id_number, "applicant.id_number", options)
    if case.region_code is not None:
        _region(out, case.region_code, "region_code")

    # One pass over the history: time order, and the times the derived fields must match.
    accepted: datetime | None = None
    decided: datetime | None = None
    previous: datetime | None = None
    inverted = False
    states: list[CaseState] = []
    for i, event in enumerate(case.events):
        state, when = event.state, _instant(event.at)
        assert when is not None
        states.append(state)
        if accepted is None and state is CaseState.ACCEPTED:
            accepted = when
        if decided is None and state in _DONE_STATES:
            decided = when
        if not inverted and previous is not None and when < previous:
            inverted = True  # report the first inversion only
            out.append(
                Finding(
                    "case.events.order",
                    f"event {i + 1} ({state.label}) at {when.isoformat()} is "
                    f"earlier than the event before it",
                    f"events.{i}.at",
                )
            )
        previous = when
    step = illegal_step(states)
    if step is not None:
        out.append(Finding("case.events.transition", step[1], f"events.{step[0]}.state"))
    if _instant(case.accepted_at) != accepted:
        out.append(
            Finding(
                "case.timestamps",
                "accepted_at does not match the time of the 已受理 event",
                "accepted_at",
            )
        )
    elif _instant(case.decided_at) != decided:
        out.append(
            Finding(
                "case.timestamps",
                "decided_at does not match the time of the 办结 event",
                "decided_at",
            )
        )
    elif case.delivered_at is not None and (
        case.decided_at is None or _instant(case.delivered_at) < _instant(case.decided_at)  # type: ignore[operator]
    ):
        out.append(
            Finding("case.timestamps", "delivered_at is before the decision", "delivered_at")
        )
    future = _future_time(case, options)
    if future is not None:
        out.append(future)
    return out


def _validity(out: list[Finding], rule: str, start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        out.append(
            Finding(
                rule,
                f"validity ends {end.isoformat()} before it starts {start.isoformat()}",
                "valid_to",
            )
        )


def check_material(
    material: Material, options: CheckOptions = _DEFAULT, *, base_dir: Path | None = None
) -> list[Finding]:
    """Holder identifier, validity, and — when the manifest's folder is known — the file."""
    out: list[Finding] = []
    _party_id(out, material.holder_id_type, material.holder_id_number, "holder_id_number", options)
    _validity(out, "material.validity", material.valid_from, material.valid_to)
    if base_dir is not None:
        out.extend(check_material_file(material, base_dir))
    return out


def check_license(license: License, options: CheckOptions = _DEFAULT) -> list[Finding]:
    """The GB/T 36904 identifier and its agreement with the catalogue fields."""
    out: list[Finding] = []
    ident = _identifier(out, parse_license_identifier, license.identifier, "identifier")
    if ident is not None:
        expected = (license.type_code, license.issuer_code, license.version)
        got = (ident.type_code, ident.issuer_code, ident.version)  # type: ignore[attr-defined]
        if tuple(v.upper() for v in got) != tuple(v.upper() for v in expected):
            out.append(
                Finding(
                    "license.identifier.mismatch",
                    "identifier segments (type code, issuer, version) differ from the record",
                    "identifier",
                )
            )
    if len(license.issuer_code) == 6:
        _region(out, license.issuer_code, "issuer_code")
    else:
        _identifier(out, validate_uscc, license.issuer_code, "issuer_code")
    _region(out, license.region_code, "region_code")
    _party_id(out, license.holder_id_type, license.holder_id, "holder_id", options)
    _validity(out, "license.validity", license.valid_from, license.valid_to)
    return out


def check_record(
    record: StandardRecord,
    options: CheckOptions = _DEFAULT,
    *,
    base_dir: Path | None = None,
    chars_checked: bool = False,
) -> list[Finding]:
    """Dispatch on the record kind, after the characters XML cannot carry.

    Every stored record is written as XML again later (deliveries, exports), so a value
    XML cannot hold is refused here, on every way in: adapters' mapped rows, merged item
    copies and replayed payloads come through this function. ``chars_checked`` skips that
    walk for a record whose reader already refused such text (``RawRecord.chars_checked``).
    """
    out = [] if chars_checked else check_xml_chars(record)
    if isinstance(record, Case):
        return out + check_case(record, options)
    if isinstance(record, Item):
        return out + check_item(record, options)
    if isinstance(record, Material):
        return out + check_material(record, options, base_dir=base_dir)
    if isinstance(record, License):
        return out + check_license(record, options)
    raise TypeError(f"no checks for record kind {type(record).__name__}")
