"""The demo's case delivery: ingested, its planted defects quarantined under their rules."""

from __future__ import annotations

from ingest_world import DEPT, World, make_world
from std_factories import PERSON

from signing.pki import init_pki
from tongyuan.db import make_engine, make_session_factory
from tongyuan.ingest import ingest_department
from tongyuan.ingest.demo_drop import write_case_drop
from tongyuan.ingest.overdue import overdue_cases


def test_the_demo_drop_ingests_with_exactly_its_planted_defects(world: World) -> None:
    drop = write_case_drop(world.settings, world.topology, DEPT, cases=60, seed=3)
    planted = sum(drop.planted.values())
    assert planted == 3 and drop.materials == 1
    result = ingest_department(world.settings, world.topology, DEPT)
    assert result.status == "committed", result.error
    assert result.cases_written == 60 - planted and result.materials_written == 1
    assert dict(result.rules) == {rule: n for rule, n in drop.planted.items() if n}
    engine = make_engine(world.settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            report = overdue_cases(session)
    finally:
        engine.dispose()
    assert report.counts.cases == 60 - planted and report.counts.unknown == 0
    assert PERSON not in str(report.as_dict())


def test_a_signing_department_gets_a_signed_demo_drop(hub, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pki = init_pki(tmp_path / "pki", algorithms=("ecdsa",))
    signed = make_world(hub, tmp_path, signing=True, trust_dir=pki.trust_dir)
    # The department's own certificate: one naming no USCC would be refused.
    name = signed.topology.case_department(DEPT).name
    key, chain = pki.department_signer("ecdsa", name=name, code=DEPT)
    drop = write_case_drop(
        signed.settings, signed.topology, DEPT, cases=10, signing_key=key, chain=chain
    )
    assert drop.signed
    result = ingest_department(signed.settings, signed.topology, DEPT)
    assert result.status == "committed" and result.signer_fingerprint
