"""What one node sync returns: its batch, its counts, and its diff.

Only ``batch_id`` and ``counts`` cross Airflow's XCom; the diff stays with the caller
(the CLI prints it) and is rebuilt from the batch when needed later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tongyuan.sync.diff import NodeDiff

SyncStatus = Literal["committed", "failed", "dry-run"]

COUNT_NAMES: tuple[str, ...] = (
    "read",
    "unchanged",
    "stale",
    "added",
    "changed",
    "cancelled",
    "held",
    "refused",
    "judged",
    "quarantined",
    "findings_opened",
    "findings_resolved",
    "base_changed",
)


@dataclass(slots=True)
class NodeSyncResult:
    """The outcome of :func:`tongyuan.sync.sync_node` for one node's item system.

    ``added``/``changed``/``cancelled`` count library writes (a change of the base
    catalogue re-versions items of other nodes too; those count here, in the run that
    caused them). ``held`` counts copies waiting in the review workflow (not published,
    not in the library); ``refused`` published copies that skipped a reviewer (held, the
    library keeps the last legal version); ``judged`` changed copies of items another
    system owns (compared, never written; a cancellation of one too); ``unchanged``
    copies whose content hash matched and cost nothing, and cancelled copies with
    nothing left to cancel; ``stale`` copies older (``updated_at``) than the one held and
    equal to a version this system wrote and replaced since: a re-read export, skipped.
    Every copy read lands in exactly one of these outcomes (or ``quarantined``); the
    other counts are about what the copies caused.
    """

    node: str
    status: SyncStatus
    batch_id: str | None
    diff: NodeDiff
    tally: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_NAMES, 0))
    held_items: list[str] = field(default_factory=list)
    error: str | None = None
    # What went wrong without failing the sync (the source's close() after the commit).
    problems: list[str] = field(default_factory=list)

    @property
    def dry_run(self) -> bool:
        return self.status == "dry-run"

    @property
    def counts(self) -> dict[str, int]:
        """Plain counts (the only figures besides the batch id that cross XCom)."""
        return dict(self.tally)

    def bump(self, name: str, by: int = 1) -> None:
        if name not in self.tally:
            raise KeyError(f"unknown sync count {name!r}")
        self.tally[name] += by
