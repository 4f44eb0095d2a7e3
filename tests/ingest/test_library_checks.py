"""Each library rule for cases, positive and negative, on the pull path and the file path."""

from __future__ import annotations

import hashlib

import pytest
from ingest_world import DEPT, World
from sqlalchemy import select
from sqlalchemy.engine import Engine
from std_factories import PERSON, at, make_case, make_item, make_material

from standards.codes.enums import CaseState, IdType, ReviewStatus
from standards.formats import write_records
from standards.records import Applicant, CaseEvent
from standards.validation.rules import RULES
from tongyuan.ingest import ingest_department
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.materials import blob_path
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.loading import Loader

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LIBRARY_RULES = (
    "case.item.unknown",
    "case.item.unpublished",
    "case.time_limit",
    "case.events.rewritten",
    "case.material.missing",
    "case.material.sha256",
)


def _ingest(world: World, *cases):  # type: ignore[no-untyped-def]
    world.deliver(f"cases_{len(list(world.drop.rglob('cases_*')))}.xml", list(cases))
    result = ingest_department(world.settings, world.topology, DEPT)
    assert result.status == "committed", result.error
    return result


def _quarantined_rules(world: World) -> list[set[str]]:
    rows = world.query(select(QuarantineEntry.rules).order_by(QuarantineEntry.id))
    return [{f["rule"] for f in rules} for (rules,) in rows]


def test_every_library_rule_is_registered_with_a_chinese_title() -> None:
    for rule in LIBRARY_RULES:
        assert rule in RULES and any("\u4e00" <= ch <= "\u9fff" for ch in RULES[rule].title)


def test_item_must_exist_and_be_published(world: World) -> None:
    unknown = make_item().impl_code[:-3] + "999"
    result = _ingest(world, make_case(serial=None, impl_code=unknown, dept_case_no="U-1"))
    assert result.rules == {"case.item.unknown": 1}

    draft = make_item(impl_code=make_item().impl_code[:-3] + "002",
                      basic_code=make_item().basic_code[:-3] + "002",
                      status=ReviewStatus.REVIEWED)  # fmt: skip
    world.load_items([draft])
    result = _ingest(world, make_case(serial=None, impl_code=draft.impl_code, dept_case_no="U-2"))
    assert result.rules == {"case.item.unpublished": 1}

    ok = _ingest(world, make_case(serial=None, dept_case_no="U-3"))
    assert (ok.added, ok.quarantined) == (1, 0)
    # A published item makes the same case acceptable: the cache is per batch.
    world.load_items([draft.model_copy(update={"status": ReviewStatus.PUBLISHED})])
    again = _ingest(world, make_case(serial=None, impl_code=draft.impl_code, dept_case_no="U-2"))
    assert (again.added, again.quarantined) == (1, 0)


def test_promised_limit_within_the_statutory_one(world: World) -> None:
    statutory = make_item().statutory_limit_days
    result = _ingest(
        world,
        make_case(serial=None, dept_case_no="T-1", promised_limit_days=statutory),
        make_case(serial=None, dept_case_no="T-2", promised_limit_days=statutory + 1),
    )
    assert (result.added, result.quarantined) == (1, 1)
    assert result.rules == {"case.time_limit": 1}


def test_applicant_id_valid_for_its_type(world: World) -> None:
    bad_check = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")
    as_person = Applicant(name="张伟", id_type=IdType.CITIZEN_ID, id_number=bad_check)
    # A valid citizen number given as a USCC is wrong for its type.
    as_company = Applicant(name="某公司", id_type=IdType.USCC, id_number=PERSON)
    good = Applicant(name="张伟", id_type=IdType.CITIZEN_ID, id_number=PERSON)
    result = _ingest(
        world,
        make_case(serial=None, dept_case_no="A-1", applicant=as_person),
        make_case(serial=None, dept_case_no="A-2", applicant=as_company),
        make_case(serial=None, dept_case_no="A-3", applicant=good),
    )
    assert (result.added, result.quarantined) == (1, 2)
    assert "citizen_id.check" in result.rules
    assert any(r.startswith("uscc.") for r in result.rules)


def test_serial_well_formed_and_unique(world: World) -> None:
    first = make_case(dept_case_no="S-1")  # carries serial …0001
    _ingest(world, first)
    taken = make_case(dept_case_no="S-2")  # another case, the same serial
    malformed = make_case(dept_case_no="S-3", serial=first.serial[:-1] + "X")
    result = _ingest(world, taken, malformed)
    assert result.quarantined == 2
    rules = _quarantined_rules(world)
    assert "case.serial.duplicate" in rules[0]
    assert "case_serial.format" in rules[1] or "case.serial.mismatch" in rules[1]


def test_state_transitions_legal_and_in_order(world: World) -> None:
    after_revoked = make_case(
        serial=None,
        dept_case_no="E-1",
        events=[*make_case().events, CaseEvent(state=CaseState.REVOKED, at=at(8)),
                CaseEvent(state=CaseState.PROCESSING, at=at(9))],
    )  # fmt: skip
    done_before_accepted = make_case(
        serial=None,
        dept_case_no="E-2",
        events=[
            CaseEvent(state=CaseState.RECEIVED, at=at(2)),
            CaseEvent(state=CaseState.DONE_APPROVED, at=at(3)),
            CaseEvent(state=CaseState.ACCEPTED, at=at(4)),
        ],
        accepted_at=at(4),
        decided_at=at(3),
        delivered_at=None,
    )
    out_of_order = make_case(
        serial=None,
        dept_case_no="E-3",
        events=[
            CaseEvent(state=CaseState.RECEIVED, at=at(3)),
            CaseEvent(state=CaseState.ACCEPTED, at=at(2)),
        ],
        accepted_at=at(2),
        decided_at=None,
        delivered_at=None,
    )
    result = _ingest(world, after_revoked, done_before_accepted, out_of_order)
    assert result.quarantined == 3 and result.added == 0
    rules = _quarantined_rules(world)
    assert "case.events.transition" in rules[0]
    assert "case.events.transition" in rules[1]
    assert "case.events.order" in rules[2]


def test_referenced_materials_present_with_their_file(world: World) -> None:
    (world.drop / "files").mkdir()
    material = make_material(world.tmp, content=PDF)
    (world.drop / "files" / "a.pdf").write_bytes(PDF)
    world.deliver("materials_001.xml", [material])
    cites = make_case(serial=None, dept_case_no="M-1", material_ids=["M1"])
    missing = make_case(serial=None, dept_case_no="M-2", material_ids=["M1", "M404"])
    world.deliver("cases_001.xml", [cites, missing])
    result = ingest_department(world.settings, world.topology, DEPT)
    assert result.status == "committed", result.error
    assert result.materials_written == 1 and result.cases_written == 1
    assert result.rules == {"case.material.missing": 1}

    # The stored file is gone (or was never the one the manifest named): no reuse.
    blob_path(world.settings, hashlib.sha256(PDF).hexdigest()).unlink()
    lost = _ingest(world, make_case(serial=None, dept_case_no="M-3", material_ids=["M1"]))
    assert lost.rules == {"case.material.sha256": 1}


def test_a_case_breaking_several_rules_is_quarantined_with_all_of_them(world: World) -> None:
    bad = make_case(
        serial=None,
        dept_case_no="X-1",
        impl_code=make_item().impl_code[:-3] + "998",
        material_ids=["M404"],
        decided_at=None,
    )
    _ingest(world, bad)
    (rules,) = _quarantined_rules(world)
    assert {"case.item.unknown", "case.material.missing", "case.timestamps"} <= rules
    assert world.count(CaseRow) == 0


@pytest.mark.parametrize("with_item", [True, False])
def test_file_loads_apply_the_same_checks(hub, tmp_path, with_item) -> None:  # type: ignore[no-untyped-def]
    drop = tmp_path / "drop"
    (drop / "cases").mkdir(parents=True)
    if with_item:
        (drop / "items").mkdir()
        write_records(drop / "items" / "items.xml", [make_item()])
    write_records(drop / "cases" / "cases.xml", [make_case(serial=None)])
    loader = Loader(hub)
    try:
        totals = loader.load([drop], relative_to=drop).totals()
    finally:
        loader.close()
    if with_item:
        assert totals["case"]["added"] == 1
    else:
        assert totals["case"]["quarantined"] == 1


def test_missing_materials_look_in_the_quarantine_once_per_batch(world: World) -> None:
    """Thousands of cases citing missing materials must not each scan the quarantine."""
    from sqlalchemy import event

    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if "FROM quarantine" in statement and ("JSON_EXTRACT" in statement or "->>" in statement):
            statements.append(statement)

    cases = [
        make_case(serial=None, dept_case_no=f"MM-{n}", material_ids=[f"NONE-{n}"]) for n in range(5)
    ]
    event.listen(Engine, "before_cursor_execute", count)
    try:
        result = _ingest(world, *cases)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert result.rules == {"case.material.missing": 5}
    assert len(statements) == 1
