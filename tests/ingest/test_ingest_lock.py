"""One ingest of a department at a time; a database error is reported without its data."""

from __future__ import annotations

import base64
import json
import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest
from ingest_world import DEPT
from sqlalchemy import select, text
from std_factories import make_case, make_material
from typer.testing import CliRunner

from tongyuan.cli import app
from tongyuan.config import ENV_DATABASE_URL, ENV_PII_KEY
from tongyuan.db.locks import LockBusy, exclusive_lock
from tongyuan.ingest import IngestBusy, ingest_department
from tongyuan.ingest.engine import ingest_lock_name
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.cases import CaseRow
from tongyuan.logs import configure_logging

# Stands in for the values of a row being written (an applicant's ID number, a name).
SECRET_ID = "110101199003077777"
SECRET_NAME = "张三丰"


def _hold(world):  # type: ignore[no-untyped-def]
    dept = world.topology.case_department(DEPT)
    return exclusive_lock(
        world.settings.database_url, ingest_lock_name(dept), fallback_dir=world.settings.home
    )


def test_a_second_ingest_of_a_department_stops_while_the_first_runs(world) -> None:
    material = make_material(world.drop, content=b"license scan")
    world.deliver("materials_001.xml", [material])
    world.deliver("cases_001.xml", [make_case(serial=None, material_ids=[material.material_id])])
    refused: list[IngestBusy] = []

    def second_run(point: str) -> None:  # inside the first run, which holds the lock
        if point == "after_commit" and not refused:
            with pytest.raises(IngestBusy) as caught:
                ingest_department(world.settings, world.topology, DEPT)
            refused.append(caught.value)

    first = ingest_department(world.settings, world.topology, DEPT, checkpoint=second_run)
    assert (first.status, first.added) == ("committed", 2), first.error
    assert refused and f"another ingest of {DEPT}" in str(refused[0])
    assert not list(world.drop.glob("*.xml"))  # the first run acknowledged everything
    # Released with the run: the next one goes ahead (and finds nothing new).
    assert ingest_department(world.settings, world.topology, DEPT).status == "committed"


def test_a_busy_department_reads_and_writes_nothing(world) -> None:
    world.deliver("cases_001.xml", [make_case(serial=None)])
    with _hold(world), pytest.raises(IngestBusy):
        ingest_department(world.settings, world.topology, DEPT)
    assert world.count(CaseRow) == 0 and world.count(Batch) == 1  # the item load's batch
    assert (world.drop / "cases_001.xml").exists()
    with _hold(world), pytest.raises(LockBusy), _hold(world):  # exclusive between holders
        pass


def test_the_cli_names_the_running_department_and_exits_3(world, monkeypatch) -> None:
    monkeypatch.setenv(ENV_DATABASE_URL, world.settings.database_url)
    monkeypatch.setenv(ENV_PII_KEY, base64.b64encode(world.settings.pii_key()).decode())
    world.deliver("cases_001.xml", [make_case(serial=None)])
    args = ["ingest", DEPT, "--topology", str(world.tmp / "topology.yaml")]
    with _hold(world):
        plain = CliRunner().invoke(app, args, terminal_width=200)
        as_json = CliRunner().invoke(app, [*args, "--json"], terminal_width=200)
    assert plain.exit_code == 3, plain.output
    assert f"another ingest of {DEPT}" in plain.output
    assert "IntegrityError" not in plain.output
    assert as_json.exit_code == 3
    (department,) = json.loads(as_json.stdout)["departments"]
    assert department["status"] == "busy" and DEPT in department["error"]
    assert world.count(CaseRow) == 0
    assert CliRunner().invoke(app, args).exit_code == 0  # released: the real run goes ahead
    assert world.count(CaseRow) == 1


def test_a_database_error_is_stored_and_reported_without_its_parameters(world, monkeypatch) -> None:
    """A failed insert's text carries the statement and the row's values; neither may
    reach the failed batch's meta or the result the CLI prints."""
    import tongyuan.pulling as pulling

    original = pulling.save_state

    def conflicting(session, *args, **kwargs):  # type: ignore[no-untyped-def]
        insert = text(
            "INSERT INTO serial_counters (impl_code, day, last_seq) VALUES (:code, :day, 1)"
        )
        values = {"code": f"{SECRET_NAME} {SECRET_ID}", "day": "2025-03-01"}
        session.execute(insert, values)
        session.execute(insert, values)  # the same key again: a unique violation
        return original(session, *args, **kwargs)

    monkeypatch.setattr(pulling, "save_state", conflicting)
    world.deliver("cases_001.xml", [make_case(serial=None)])
    log_file = configure_logging(world.settings.logs_dir)
    try:
        result = ingest_department(world.settings, world.topology, DEPT)
    finally:
        _drop_log_handler(log_file)
    assert result.status == "failed"
    assert result.error is not None and result.error.startswith("IntegrityError: ")
    (stored,) = world.query(select(Batch.meta).where(Batch.status == "failed"))
    for shown in (result.error, stored[0]["error"]):
        for leak in (SECRET_ID, SECRET_NAME, "[SQL", "[parameters", "INSERT", "DETAIL"):
            assert leak not in shown, shown
    logged = log_file.read_text(encoding="utf-8")
    assert "pull dept:" in logged and "IntegrityError" in logged  # the failure is logged
    assert SECRET_NAME not in logged and SECRET_ID not in logged and "[SQL" not in logged


def _drop_log_handler(path: Path) -> None:
    logger = logging.getLogger("tongyuan")
    for handler in list(logger.handlers):
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == path:
            logger.removeHandler(handler)
            handler.close()
