"""An ingestion killed with SIGKILL anywhere and run again ends in the library of a clean run.

The killed run is a subprocess that kills itself at one point: inside a stream (at the
n-th record stored), with a stream's transaction written but not committed, or committed
but the drop folder not yet acknowledged. The killed world is then ingested again
in-process, and its normalised dump (no batch ids, row ids or timestamps) must equal that
of a world ingested without interruption: no duplicate, nothing lost.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_world import DEPT, make_world
from sqlalchemy import select
from std_factories import at, make_case, make_material

from standards.codes.enums import CaseState
from standards.records import CaseEvent
from tongyuan.config import ENV_DATABASE_URL, ENV_HOME, ENV_PII_KEY, Settings, load_settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.ingest import ingest_department
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseEventRow, CaseRow
from tongyuan.libraries.materials import MaterialRow
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.topology import load_topology

PDF = b"%PDF-1.4\n%%EOF\n"

_RUNNER = """
import os, signal, sys
from pathlib import Path
from tongyuan.config import load_settings
from tongyuan.ingest import ingest_department
from tongyuan.storing import RecordStore
from tongyuan.topology import load_topology

crash = sys.argv[2]
settings = load_settings()
topology = load_topology(Path(sys.argv[1]), home=settings.home)
kind_now = []

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if crash.startswith("record:"):
    limit = int(crash.split(":")[1])
    original = RecordStore.store
    seen = [0]
    def store(self, *args, **kwargs):
        seen[0] += 1
        if seen[0] == limit:
            die()
        return original(self, *args, **kwargs)
    RecordStore.store = store
    checkpoint = None
else:
    point, kind = crash.split("@")
    original_finish = RecordStore.finish_batch
    def checkpoint(where):
        if where == point and kind_now and kind_now[-1] == kind:
            die()
    import tongyuan.pulling as pulling
    real_pull = pulling.pull
    import tongyuan.ingest.engine as engine
    def pull(settings, source, stream, **kwargs):
        kind_now.append(source.stream(stream).kind)
        return real_pull(settings, source, stream, **kwargs)
    engine.pull = pull

ingest_department(settings, topology, sys.argv[3], checkpoint=checkpoint)
raise SystemExit("the run was meant to be killed")
"""

CRASHES = [
    "record:2",  # inside the materials stream
    "record:9",  # inside the cases stream
    "after_commit@material",
    "before_commit@case",
    "after_commit@case",
]


def _deliver(world) -> None:  # type: ignore[no-untyped-def]
    (world.drop / "files").mkdir()
    (world.drop / "files" / "a.pdf").write_bytes(PDF)
    materials = [make_material(world.tmp, content=PDF, material_id=f"M{i}") for i in range(3)]
    world.deliver("materials_001.xml", materials)
    cases = []
    for i in range(24):
        over: dict = {"serial": None, "dept_case_no": f"K-{i:03d}", "material_ids": [f"M{i % 4}"]}
        if i % 5 == 0:
            over["decided_at"] = None  # case.timestamps: quarantined
        if i % 3 == 0:
            over["events"] = [CaseEvent(state=CaseState.RECEIVED, at=at(2)),
                              CaseEvent(state=CaseState.ACCEPTED, at=at(2, 10))]  # fmt: skip
            over.update(decided_at=None, delivered_at=None)
        cases.append(make_case(**over))
    world.deliver("cases_001.xml", cases[:16])
    world.deliver("cases_002.xml", cases[16:])


def _dump(settings: Settings, drop: Path) -> dict:
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as s:
            rows = list(s.scalars(select(CaseRow)))
            # On PostgreSQL a killed run's serial numbers stay used (a gap, by design:
            # never a duplicate), so serials are compared by their item and day only; on
            # SQLite the rollback gives them back, so they are the clean run's own
            # (operations.md, "Running it").
            assert len({r.serial for r in rows}) == len(rows)
            whole = settings.database_url.startswith("sqlite")
            cases = sorted(
                (r.source_system, r.dept_case_no, r.serial if whole else r.serial[:-4],
                 r.content_hash, r.current_state)
                for r in rows
            )  # fmt: skip
            events = sorted(
                (no, seq, state, at_.isoformat())
                for no, seq, state, at_ in s.execute(
                    select(CaseRow.dept_case_no, CaseEventRow.seq, CaseEventRow.state,
                           CaseEventRow.at).join(CaseRow, CaseRow.id == CaseEventRow.case_id)
                )
            )  # fmt: skip
            timeliness = sorted(
                (no, status, str(deadline))
                for no, status, deadline in s.execute(
                    select(
                        CaseRow.dept_case_no, CaseTimeliness.status, CaseTimeliness.deadline
                    ).join(CaseTimeliness, CaseTimeliness.case_id == CaseRow.id)
                )
            )
            materials = sorted((m.material_id, m.sha256) for m in s.scalars(select(MaterialRow)))
            quarantine = sorted(
                (Path(q.source_file).name, q.record_index, q.rule)
                for q in s.scalars(select(QuarantineEntry))
            )
    finally:
        engine.dispose()
    files = sorted(str(p.relative_to(drop)) for p in drop.rglob("*.xml"))
    return {"cases": cases, "events": events, "timeliness": timeliness,
            "materials": materials, "quarantine": quarantine, "files": files}  # fmt: skip


def _settings(base: Settings, home: Path, url: str) -> Settings:
    return dataclasses.replace(base, home=home, database_url=url)


# Every point on SQLite; on PostgreSQL (slower to set up) the two a serial sequence or a
# committed-but-unacknowledged delivery could get wrong.
CASES = [("sqlite", c) for c in CRASHES] + [
    ("postgresql", "record:9"),
    ("postgresql", "after_commit@case"),
]


def _fresh_url(request: pytest.FixtureRequest, tmp_path: Path, backend: str, name: str) -> str:
    import shutil

    if backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        shutil.copyfile(template, tmp_path / f"{name}.db")
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    server = request.getfixturevalue("pg_server")
    db = server.create_database(template=request.getfixturevalue("_pg_template"))
    request.addfinalizer(lambda: server.drop_database(db))
    return server.url(db)


@pytest.mark.parametrize(("backend", "crash"), CASES, ids=[f"{b}-{c}" for b, c in CASES])
def test_a_killed_ingest_resumes_to_the_clean_result(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path, backend: str, crash: str
) -> None:
    worlds = {}
    for name in ("clean", "killed"):
        url = _fresh_url(request, tmp_path, backend, name)
        hub = _settings(settings, tmp_path / name / "home", url)
        hub.ensure_dirs()
        (tmp_path / name / "w").mkdir(parents=True)
        world = make_world(hub, tmp_path / name / "w")
        _deliver(world)
        worlds[name] = world

    clean = worlds["clean"]
    assert ingest_department(clean.settings, clean.topology, DEPT).status == "committed"
    assert ingest_department(clean.settings, clean.topology, DEPT).read == 0
    expected = _dump(clean.settings, clean.drop)
    assert len(expected["cases"]) + len(expected["quarantine"]) == 24
    assert expected["cases"] and {q[2] for q in expected["quarantine"]} == {
        "case.timestamps",
        "case.material.missing",
    }
    assert len(expected["materials"]) == 3

    killed = worlds["killed"]
    env = {**os.environ, ENV_HOME: str(killed.settings.home),
           ENV_DATABASE_URL: killed.settings.database_url,
           ENV_PII_KEY: killed.settings.pii_key_b64 or ""}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(killed.topology.path), crash, DEPT],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    settings_again = load_settings({ENV_HOME: str(killed.settings.home),
                                    ENV_DATABASE_URL: killed.settings.database_url,
                                    ENV_PII_KEY: killed.settings.pii_key_b64 or ""})  # fmt: skip
    topology = load_topology(killed.topology.path, home=settings_again.home)
    assert ingest_department(settings_again, topology, DEPT).status == "committed"
    ingest_department(settings_again, topology, DEPT)  # settles a retried acknowledgement
    assert _dump(settings_again, killed.drop) == expected
