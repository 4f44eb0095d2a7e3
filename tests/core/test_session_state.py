"""Per-transaction session state: kept through the transaction, gone when it ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from tongyuan.db.session_state import transaction_scoped

UNTIL_END = transaction_scoped("tests.session_state.until_end")
ALSO_ON_ROLLBACK = transaction_scoped("tests.session_state.rollback", forget_on_rollback=True)
UNDECLARED = "tests.session_state.undeclared"


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    with Session(engine) as s:
        yield s
    engine.dispose()


def _fill(session: Session) -> None:
    for key in (UNTIL_END, ALSO_ON_ROLLBACK, UNDECLARED):
        session.info[key] = "kept"


def test_state_lasts_until_the_outermost_transaction_ends(session: Session) -> None:
    with session.begin():
        _fill(session)
        with session.begin_nested():
            pass  # a savepoint that commits changes nothing
        assert session.info[UNTIL_END] == session.info[ALSO_ON_ROLLBACK] == "kept"
    assert UNTIL_END not in session.info
    assert ALSO_ON_ROLLBACK not in session.info
    assert session.info[UNDECLARED] == "kept"  # only declared keys are forgotten


def test_a_rolled_back_savepoint_forgets_only_what_asked_for_it(session: Session) -> None:
    with session.begin():
        _fill(session)
        savepoint = session.begin_nested()
        savepoint.rollback()
        assert session.info[UNTIL_END] == "kept"
        assert ALSO_ON_ROLLBACK not in session.info


def test_a_rolled_back_transaction_forgets_everything_declared(session: Session) -> None:
    session.begin()
    _fill(session)
    session.rollback()
    assert UNTIL_END not in session.info
    assert ALSO_ON_ROLLBACK not in session.info
