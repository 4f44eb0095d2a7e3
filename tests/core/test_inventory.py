"""The demo's first figures: open quarantine by rule, in the same order on every database."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tongyuan.inventory import open_quarantine_by_rule
from tongyuan.libraries.batches import open_batch
from tongyuan.libraries.quarantine import QuarantineEntry

# Inserted in an order that is not the answer's; ties at the cut-off (limit 4): the two
# rules of count 2 that make it are the first two by rule id in code-point order ('.'
# before '_', whatever the database's collation says).
_OPEN = {
    "z.last": 3,
    "case_serial.format": 2,
    "uscc.check": 2,
    "case.serial.mismatch": 2,
    "case.timestamps": 2,
    "a.rare": 1,
}


def test_ties_are_broken_by_rule_id_before_the_cut(session: Session) -> None:
    batch = open_batch(session, "load", "test")
    n = 0
    for rule, count in _OPEN.items():
        for _ in range(count):
            n += 1
            session.add(
                QuarantineEntry(
                    batch_id=batch.id, kind="case", source_file="cases.xml", record_index=n,
                    payload_enc="x", payload_hash=f"{n:064d}", payload_masked={}, rules=[],
                    rule=rule, message="m", status="open",
                )
            )  # fmt: skip
    session.add(
        QuarantineEntry(
            batch_id=batch.id, kind="case", source_file="cases.xml", record_index=0,
            payload_enc="x", payload_hash="f" * 64, payload_masked={}, rules=[],
            rule="a.closed", message="m", status="replayed",
        )
    )  # fmt: skip
    session.flush()
    top = open_quarantine_by_rule(session, limit=4)
    assert list(top.most_common()) == [
        ("z.last", 3),
        ("case.serial.mismatch", 2),
        ("case.timestamps", 2),
        ("case_serial.format", 2),
    ]
    assert list(open_quarantine_by_rule(session).most_common())[-1] == ("a.rare", 1)
