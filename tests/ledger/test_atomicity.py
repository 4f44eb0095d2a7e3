"""An entry commits with its batch or not at all; concurrent batches never fork the chain."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from ledger_world import item_batch
from sqlalchemy import Engine
from tamper import entry_count, scalar

from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.ledger import verify_ledger
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.batches import close_batch, open_batch
from tongyuan.libraries.items import write_item

TESTS_DIR = Path(__file__).resolve().parents[1]

_KILLED_BATCH = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from std_factories import make_item
    from tongyuan.config import load_settings
    from tongyuan.db import make_engine, make_session_factory
    from tongyuan.libraries.base import utcnow
    from tongyuan.libraries.batches import close_batch, open_batch
    from tongyuan.libraries.items import write_item

    settings = load_settings({{"TONGYUAN_HOME": {home!r}, "TONGYUAN_DATABASE_URL": {url!r}}})
    engine = make_engine({url!r})
    with make_session_factory(engine).begin() as session:
        batch = open_batch(session, "items", "killed")
        write_item(session, batch.id, make_item(name="半途"), source="killed", now=utcnow())
        close_batch(session, batch, read=1, accepted=1, quarantined=0, unchanged=0,
                    status="committed", settings=settings)
        assert session.execute(__import__("sqlalchemy").text(
            "SELECT count(*) FROM ledger_entries WHERE batch_id = :b"), {{"b": batch.id}}
        ).scalar() == 1  # appended, not yet committed
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_sigkill_after_the_append_leaves_no_half_entry(
    db_url: str, hub_settings: Settings, ledger_engine: Engine
):
    item_batch(ledger_engine, hub_settings, "一")
    script = _KILLED_BATCH.format(tests=str(TESTS_DIR), url=db_url, home=str(hub_settings.home))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert scalar(ledger_engine, "SELECT count(*) FROM batches WHERE source = 'killed'") == 0
    assert entry_count(ledger_engine) == 1
    assert verify_ledger(ledger_engine).ok
    item_batch(ledger_engine, hub_settings, "二")  # the chain goes on without a gap
    assert entry_count(ledger_engine) == 2
    assert verify_ledger(ledger_engine).ok


def test_rolled_back_batch_leaves_no_entry(hub_settings: Settings, ledger_engine: Engine):
    sessions = make_session_factory(ledger_engine)
    with sessions() as session, session.begin():
        batch = open_batch(session, "items", "dry-run")
        close_batch(session, batch, read=0, accepted=0, quarantined=0, unchanged=0,
                    status="committed", settings=hub_settings)  # fmt: skip
        session.rollback()
    assert entry_count(ledger_engine) == 0
    item_batch(ledger_engine, hub_settings, "一")
    assert scalar(ledger_engine, "SELECT seq FROM ledger_entries") == 1


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_concurrent_batches_do_not_fork_the_chain(
    db_url: str, hub_settings: Settings, ledger_engine: Engine
):
    writers, rounds = 4, 5
    engine = make_engine(db_url, pool_size=writers)
    sessions = make_session_factory(engine)
    barrier = threading.Barrier(writers, timeout=60)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for round_no in range(rounds):
                with sessions.begin() as session:
                    batch = open_batch(session, "items", f"writer-{writer}")
                    item = _item(writer, round_no)
                    write_item(session, batch.id, item, source=batch.source, now=utcnow())
                    barrier.wait()  # every writer holds an open batch: close them at once
                    close_batch(session, batch, read=1, accepted=1, quarantined=0,
                                unchanged=0, status="committed",
                                settings=hub_settings)  # fmt: skip
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine.dispose()
    assert not errors, errors
    seqs = [
        row[0]
        for row in ledger_engine.connect().exec_driver_sql(
            "SELECT seq FROM ledger_entries ORDER BY seq"
        )
    ]
    assert seqs == list(range(1, writers * rounds + 1))
    result = verify_ledger(ledger_engine)
    assert result.ok, result.problems


def _item(writer: int, round_no: int):
    from std_factories import make_item

    base = make_item()
    code = base.impl_code[:-3] + f"{writer:03d}"
    return make_item(
        impl_code=code,
        basic_code=base.basic_code[:-3] + f"{writer:03d}",
        name=f"事项{writer}-{round_no}",
    )
