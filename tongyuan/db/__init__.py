"""Database access: engines, sessions and schema migrations."""

from tongyuan.db.engine import (
    DatabaseEncodingError,
    is_sqlite,
    make_engine,
    make_session_factory,
    normalize_url,
)
from tongyuan.db.migrate import (
    VERSION_TABLE,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)

__all__ = [
    "VERSION_TABLE",
    "DatabaseEncodingError",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_sqlite",
    "make_engine",
    "make_session_factory",
    "normalize_url",
    "upgrade",
]
