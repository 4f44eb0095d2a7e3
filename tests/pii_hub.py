"""A hub database holding personal data written under a given PII key: what the key
checks (a key that does not fit, no key file on a written hub) are tested against.

A plain module (not a conftest) so tests import it by name.
"""

from __future__ import annotations

from std_factories import make_case

from standards.identifiers import InMemorySerialAllocator
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries import open_batch, write_case
from tongyuan.privacy import PiiProtector


def write_one_case(url: str, key: bytes) -> None:
    """One case (its applicant ID encrypted under ``key``) into the migrated hub at ``url``."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            batch = open_batch(session, "cases", "sz-market")
            write_case(
                session,
                batch.id,
                make_case(),
                protector=PiiProtector(key),
                allocator=InMemorySerialAllocator(),
            )
            session.commit()
    finally:
        engine.dispose()
