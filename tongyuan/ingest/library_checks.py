"""Checks of a case against the libraries: what the standard alone cannot tell.

A case may be perfectly formed and still wrong for this hub: its item unknown or not yet
published, a promised time limit beyond the item's statutory one, materials the material
library does not hold. These checks run in :class:`tongyuan.storing.RecordStore` for every
case, whatever brought it (a file load, an adapter pull, a quarantine replay), so a case
is judged the same way on every path. ``tongyuan validate`` stays a pure standard check.

The published item is a condition of admitting a case, not of its later events: a case
the library already holds under the same 实施编码 was admitted while its item was
published, and its department must still be able to report its 办结 after the item is
cancelled or changed. Its re-deliveries are checked against the latest version of the
item the library ever held as published (``case.item.*`` only when there is none).

Checks run once per record in batches of up to millions of records, so every answer from
the database is kept for the batch: an item is looked up once per batch however many
cases cite it, materials once each. The caches are dropped when a new batch starts, so a
later batch sees items published or materials stored in between.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from standards.codes.enums import ReviewStatus
from standards.records import Case
from standards.validation import Finding
from tongyuan.config import Settings
from tongyuan.libraries.cases import find_case
from tongyuan.libraries.items import ItemVersion
from tongyuan.libraries.materials import BlobStoreError, MaterialRow, blob_path
from tongyuan.libraries.quarantine import QuarantineEntry

# Materials looked up per query: well below every database's bound-parameter limit.
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What a case needs to know of the current version of its item."""

    status: str
    statutory_limit_days: int
    promised_limit_days: int


# The columns an ItemFacts is read from, in its fields' order.
_ITEM_FACTS = (
    ItemVersion.status,
    ItemVersion.statutory_limit_days,
    ItemVersion.promised_limit_days,
)


@dataclass(frozen=True, slots=True)
class MaterialFacts:
    sha256: str
    size: int


class CaseLibraryChecks:
    """Library checks of cases with caches that live as long as one batch."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._batch: str | None = None
        self._items: dict[str, ItemFacts | None] = {}
        self._admitted: dict[str, ItemFacts | None] = {}
        self._materials: dict[str, MaterialFacts | None] = {}
        self._blobs: dict[tuple[str, int], bool] = {}
        # Open material entries by material id (entry id, rule), read at the first miss.
        self._quarantined: dict[str, tuple[int, str]] | None = None

    def _start(self, batch_id: str) -> None:
        if batch_id != self._batch:
            self._batch = batch_id
            self._items.clear()
            self._admitted.clear()
            self._materials.clear()
            self._blobs.clear()
            self._quarantined = None

    def forget_material(self, material_id: str) -> None:
        """A material was just stored: a case of the same batch citing it must see it."""
        self._materials.pop(material_id, None)

    def _missing(self, session: Session, material_id: str) -> str:
        """Why a cited material is not there: in quarantine (delivered but refused), or
        never delivered.

        The open material entries are read once per batch, at the first miss: a
        delivery whose cases cite thousands of missing materials must not look each
        one up in the quarantine (its payloads are JSON; no index serves that).
        """
        if self._quarantined is None:
            self._quarantined = {}
            rows = session.execute(
                select(
                    QuarantineEntry.payload_masked["material_id"].as_string(),
                    QuarantineEntry.id,
                    QuarantineEntry.rule,
                )
                .where(QuarantineEntry.kind == "material", QuarantineEntry.status == "open")
                .order_by(QuarantineEntry.id)
            )
            for quarantined_id, entry_id, rule in rows:
                if quarantined_id is not None:
                    self._quarantined[quarantined_id] = (entry_id, rule)
        entry = self._quarantined.get(material_id)
        if entry is not None:
            return (
                f"material {material_id} was delivered but is in quarantine (entry {entry[0]}, "
                f"{entry[1]}): the case waits for it"
            )
        return f"material {material_id} is neither in the material library nor in this delivery"

    def item(self, session: Session, impl_code: str) -> ItemFacts | None:
        """The current, not cancelled version of an item (cached for the batch)."""
        if impl_code not in self._items:
            row = session.execute(
                select(*_ITEM_FACTS).where(
                    ItemVersion.impl_code == impl_code,
                    ItemVersion.valid_to.is_(None),
                    ItemVersion.is_tombstone.is_(False),
                )
            ).first()
            self._items[impl_code] = None if row is None else ItemFacts(*row)
        return self._items[impl_code]

    def admitted_item(self, session: Session, impl_code: str) -> ItemFacts | None:
        """The latest version of an item the library held as published, current or not
        (cached for the batch): what a stored case was admitted under."""
        if impl_code not in self._admitted:
            row = session.execute(
                select(*_ITEM_FACTS)
                .where(
                    ItemVersion.impl_code == impl_code,
                    ItemVersion.status == ReviewStatus.PUBLISHED.value,
                    ItemVersion.is_tombstone.is_(False),
                )
                .order_by(ItemVersion.valid_from.desc(), ItemVersion.id.desc())
                .limit(1)
            ).first()
            self._admitted[impl_code] = None if row is None else ItemFacts(*row)
        return self._admitted[impl_code]

    def _load_materials(self, session: Session, ids: list[str]) -> None:
        wanted = [m for m in dict.fromkeys(ids) if m not in self._materials]
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            found = session.execute(
                select(MaterialRow.material_id, MaterialRow.sha256, MaterialRow.size).where(
                    MaterialRow.material_id.in_(chunk)
                )
            )
            for material_id, sha256, size in found:
                self._materials[material_id] = MaterialFacts(sha256, size)
            for material_id in chunk:
                self._materials.setdefault(material_id, None)

    def _blob_present(self, facts: MaterialFacts) -> bool:
        key = (facts.sha256, facts.size)
        if key not in self._blobs:
            try:
                path = blob_path(self.settings, facts.sha256)
                self._blobs[key] = path.is_file() and path.stat().st_size == facts.size
            except (BlobStoreError, OSError):
                self._blobs[key] = False
        return self._blobs[key]

    def prefetch_materials(self, session: Session, batch_id: str, ids: list[str]) -> None:
        """Look up the materials a chunk of cases cites in one go (then :meth:`check_facts`
        answers from the cache)."""
        self._start(batch_id)
        self._load_materials(session, ids)

    def check(self, session: Session, batch_id: str, case: Case) -> list[Finding]:
        """Every library rule the case breaks (empty when it may be stored)."""

        def stored() -> bool:
            row = find_case(session, case.source_system, case.dept_case_no)
            return row is not None and row.impl_code == case.impl_code

        return self.check_facts(
            session,
            batch_id,
            impl_code=case.impl_code,
            promised_limit_days=case.promised_limit_days,
            material_ids=case.material_ids or (),
            stored=stored,
        )

    def check_facts(
        self,
        session: Session,
        batch_id: str,
        *,
        impl_code: str,
        promised_limit_days: int | None,
        material_ids: Sequence[str],
        stored: Callable[[], bool] | None = None,
    ) -> list[Finding]:
        """:meth:`check` from the facts of a case that was prepared elsewhere.

        ``stored`` answers whether the library already holds the case under this
        实施编码; asked only when the current item would refuse it (a new case must find
        its item published now, a stored one an item that was published: see the module).
        """
        self._start(batch_id)
        out: list[Finding] = []
        item = self.item(session, impl_code)
        refused = item is None or item.status != ReviewStatus.PUBLISHED.value
        if refused and stored is not None and stored():
            item = self.admitted_item(session, impl_code) or item
        if item is None:
            out.append(
                Finding(
                    "case.item.unknown",
                    f"implementation code {impl_code} is not in the item library "
                    "(never synced, or cancelled)",
                    "impl_code",
                )
            )
        else:
            if item.status != ReviewStatus.PUBLISHED.value:
                status = ReviewStatus(item.status).label if _known(item.status) else item.status
                out.append(
                    Finding(
                        "case.item.unpublished",
                        f"item {impl_code} is {status} ({item.status}), not published: "
                        "no new case may be handled under it",
                        "impl_code",
                    )
                )
            limit = promised_limit_days
            if limit is not None and limit > item.statutory_limit_days:
                out.append(
                    Finding(
                        "case.time_limit",
                        f"promised time limit {limit} working days exceeds the statutory "
                        f"{item.statutory_limit_days} of item {impl_code}",
                        "promised_limit_days",
                    )
                )
        if material_ids:
            self._load_materials(session, list(material_ids))
            for index, material_id in enumerate(material_ids):
                facts = self._materials.get(material_id)
                where = f"material_ids.{index}"
                if facts is None:
                    out.append(
                        Finding(
                            "case.material.missing",
                            self._missing(session, material_id),
                            where,
                        )
                    )
                elif not self._blob_present(facts):
                    out.append(
                        Finding(
                            "case.material.sha256",
                            f"material {material_id}: no stored file with sha256 "
                            f"{facts.sha256} and {facts.size} bytes",
                            where,
                        )
                    )
        return out


def _known(status: str) -> bool:
    return status in {s.value for s in ReviewStatus}
