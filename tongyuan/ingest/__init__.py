"""Case ingestion: department case systems → case and material libraries.

``ingest_department`` pulls one department's case system (materials first, then cases)
through :mod:`tongyuan.pulling`, verifying signed deliveries first where the topology
asks for them. Library checks (:mod:`tongyuan.ingest.library_checks`) and timeliness
(:mod:`tongyuan.ingest.timeliness`) are applied by :class:`tongyuan.storing.RecordStore`
on every path that stores cases.

Names are imported lazily: ``tongyuan.storing`` imports the checks from this package, and
the engine imports ``tongyuan.storing``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tongyuan.ingest.engine import IngestBusy, IngestResult, ingest_department

__all__ = ["IngestBusy", "IngestResult", "ingest_department"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tongyuan.ingest import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
