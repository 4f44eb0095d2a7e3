"""A library with known defects: a clean generated dataset, loaded, then N planted defects.

The generator's defects are stopped at ingestion (quarantined), so they never reach the
libraries the quality suites read. The defects here are the ones that get past
ingestion — edits behind the hub's back, drift between levels, time passing — planted
directly in the libraries with SQL, each documented below and counted per
(rule, kind) in ``World.planted``. Each one is chosen to break exactly one rule:

completeness
  item.required_elements/item   办理条件 blanked on one item, 办理地点 removed on another
  case.required_fields/case     accepted_at cleared on an accepted case; decided_at on a decided one
consistency
  item.base_elements.inconsistent/item  name of a lower-level copy of two 基本编码 changed
  item.impl_code.authority_mismatch     authority_uscc replaced by another valid USCC
  item.impl_code.level_mismatch         exercise_level changed to 6 on one item
  item.impl_code.basic_mismatch         basic_code replaced by a code no other item has
  item.basic_code.other_province        basic code (and 实施编码 alike) moved to Shandong's
                                        catalogue (37…), on an item no case refers to
rules
  item.time_limit/item          promised = statutory + 5 on two items
  case.item.unpublished/case    one item set back to 已录入 (registered): all its cases
  case_serial.format/case       last character of two serials replaced by "A"
  case.serial.mismatch/case     two serials re-prefixed with another item's 实施编码
  uscc.check/item, /license     check character changed (item: authority and 实施编码 alike,
                                on an item no case refers to; license: issuer code)
  citizen_id.region/case, /license  masked ID's province digits set to 99
  region.unknown/item, /case, /license  region code 449999
  case.events.transition/case   2nd event of two cases set to 15 (撤销) right after the first
  case.events.order/case        2nd event of two cases moved a day before the first
  case.serial.duplicate         none: the unique index on serial makes it unplantable
timeliness
  case.overdue/case             two cases decided in time re-dated: deadline the day before
  claim.overdue/claim           two open claims past deadline (+ one in time, one done late)
  review.overdue/review         two reviews past due (+ one published late, one not yet due)
integrity
  license.signature/license     every license verified PASSED first (as the signing
                                component would), then one FAILED and one never verified
  license.expired/license       valid_to set to the day before the reference day
  license.revoked/license       status revoked
  material.file.sha256          one blob overwritten (all materials sharing it count)
  material.file.missing         one blob deleted (all materials sharing it count)
  ledger.chain/ledger           every covered row edited above counts once, plus one
                                batch whose read count was altered

Rules the generated data breaks by itself (late decisions, revoked and expired licenses)
are measured by a quality run before planting (``World.baseline``); tests compare the
increase with ``planted``.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, select, text

from standards.identifiers import USCC_ALPHABET
from tongyuan.config import Settings, load_settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.generate.dataset import generate_dataset
from tongyuan.libraries.base import HUB_TIMEZONE, utcnow
from tongyuan.libraries.batches import close_batch, open_batch
from tongyuan.libraries.cases import CaseEventRow
from tongyuan.libraries.claims import Claim, ItemReview
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.libraries.materials import blob_path
from tongyuan.loading import Loader

TEST_PII_KEY = base64.b64encode(bytes(range(32))).decode()
Key = tuple[str, str]  # (rule, kind)


@dataclass(slots=True)
class World:
    settings: Settings
    as_of: date
    planted: Counter[Key] = field(default_factory=Counter)
    baseline: dict[Key, int] = field(default_factory=dict)
    edited_rows: set[tuple[str, str]] = field(default_factory=set)
    planted_keys: dict[Key, set[str]] = field(default_factory=dict)

    def plant(self, rule: str, kind: str, key: str, count: int = 1) -> None:
        self.planted[(rule, kind)] += count
        self.planted_keys.setdefault((rule, kind), set()).add(key)


def world_settings(home: Path, database_url: str) -> Settings:
    settings = load_settings(
        {
            "TONGYUAN_HOME": str(home),
            "TONGYUAN_DATABASE_URL": database_url,
            "TONGYUAN_PII_KEY": TEST_PII_KEY,
        }
    )
    settings.ensure_dirs()
    return settings


def load_clean(settings: Settings, data_dir: Path, *, items: int = 80, cases: int = 400) -> None:
    generate_dataset(data_dir, seed=11, items=items, cases=cases, bad_rate=0.0)
    loader = Loader(settings)
    try:
        summary = loader.load([data_dir], relative_to=data_dir)
    finally:
        loader.close()
    failed = [f"{f.file}: {f.error}" for f in summary.failed]
    quarantined = {k: c["quarantined"] for k, c in summary.totals().items() if c["quarantined"]}
    if failed or quarantined:
        raise AssertionError(f"clean dataset did not load clean: {failed} {quarantined}")


def _rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql), params)]


def _exec(engine: Engine, sql: str, **params: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql), params)


def _bad_uscc(code: str) -> str:
    return code[:17] + next(c for c in USCC_ALPHABET if c != code[17])


def verify_all_licenses(engine: Engine) -> None:
    """What the signing component does for valid signatures (not a ledger-covered change)."""
    table = LicenseRow.__table__
    with engine.begin() as connection:
        connection.execute(
            table.update(), {"indication": "PASSED", "subindication": None, "verified_at": utcnow()}
        )


class Planter:
    """Plants the documented defects; every covered-row edit is remembered for the ledger."""

    def __init__(self, world: World, engine: Engine) -> None:
        self.world = world
        self.engine = engine
        self.used_items: set[str] = set()
        self.used_cases: set[int] = set()
        self.used_licenses: set[str] = set()
        self.reserved_impl: set[str] = set()
        self.shared_codes: set[str] = set()

    # -- picking targets -----------------------------------------------------------------

    def _items(self) -> list[tuple[str, str, str, int, str]]:
        """Current items: (id, impl_code, basic_code, cases referring, exercise_level)."""
        return _rows(
            self.engine,
            "SELECT v.id, v.impl_code, v.basic_code, "
            "(SELECT COUNT(*) FROM cases c WHERE c.impl_code = v.impl_code), v.exercise_level "
            "FROM item_versions v WHERE v.valid_to IS NULL ORDER BY v.impl_code",
        )

    def item(
        self, *, with_cases: bool | None = None, exclude_codes: set[str] = frozenset()
    ) -> tuple:
        for row in self._items():
            if row[0] in self.used_items or row[2] in exclude_codes:
                continue
            if (with_cases is True and row[3] == 0) or (with_cases is False and row[3] > 0):
                continue
            self.used_items.add(row[0])
            return row
        raise AssertionError("no item left to plant a defect on")

    def case(self, where: str = "1 = 1") -> tuple[int, str, str]:
        for case_id, serial, impl in _rows(
            self.engine,
            f"SELECT c.id, c.serial, c.impl_code FROM cases c WHERE {where} ORDER BY c.id",
        ):
            if case_id not in self.used_cases and impl not in self.reserved_impl:
                self.used_cases.add(case_id)
                return case_id, serial, impl
        raise AssertionError(f"no case left where {where}")

    def reserve_unpublished(self) -> None:
        """Pick the item to unpublish before any case is used, so its cases stay untouched."""
        self.unpublished = self.item(with_cases=True)
        self.reserved_impl = {self.unpublished[1]}

    def license(self, where: str = "1 = 1") -> str:
        for (identifier,) in _rows(
            self.engine, f"SELECT identifier FROM licenses WHERE {where} ORDER BY identifier"
        ):
            if identifier not in self.used_licenses:
                self.used_licenses.add(identifier)
                return identifier
        raise AssertionError(f"no license left where {where}")

    def edited(self, table: str, key: object) -> None:
        self.world.edited_rows.add((table, str(key)))

    def _item_data(self, item_id: str, change) -> None:  # type: ignore[no-untyped-def]
        (raw,) = _rows(self.engine, "SELECT data FROM item_versions WHERE id = :i", i=item_id)[0]
        data = json.loads(raw) if isinstance(raw, str) else dict(raw)
        change(data)
        with self.engine.begin() as connection:
            from tongyuan.libraries.items import ItemVersion

            connection.execute(
                ItemVersion.__table__.update().where(ItemVersion.__table__.c.id == item_id),
                {"data": data},
            )
        self.edited("item_versions", item_id)

    # -- suites --------------------------------------------------------------------------

    def completeness(self) -> None:
        w = self.world
        item = self.item()
        self._item_data(item[0], lambda d: d.__setitem__("conditions", "  "))
        w.plant("item.required_elements", "item", item[1])
        item = self.item()
        self._item_data(item[0], lambda d: d.pop("location"))
        w.plant("item.required_elements", "item", item[1])
        case_id, serial, _ = self.case("c.accepted_at IS NOT NULL")
        _exec(self.engine, "UPDATE cases SET accepted_at = NULL WHERE id = :i", i=case_id)
        self.edited("cases", case_id)
        w.plant("case.required_fields", "case", serial)
        case_id, serial, _ = self.case("c.decided_at IS NOT NULL")
        _exec(self.engine, "UPDATE cases SET decided_at = NULL WHERE id = :i", i=case_id)
        self.edited("cases", case_id)
        w.plant("case.required_fields", "case", serial)

    def consistency(self) -> None:
        w = self.world
        shared = _rows(
            self.engine,
            "SELECT basic_code FROM item_versions WHERE valid_to IS NULL GROUP BY basic_code "
            "HAVING COUNT(DISTINCT exercise_level) > 1 ORDER BY basic_code",
        )
        for (basic_code,) in shared[:2]:
            # The lowest-level copy (never the reference, which is the highest level).
            item_id, impl = _rows(
                self.engine,
                "SELECT id, impl_code FROM item_versions WHERE valid_to IS NULL AND "
                "basic_code = :b ORDER BY exercise_level DESC, impl_code DESC",
                b=basic_code,
            )[0]
            self.used_items.add(item_id)
            _exec(
                self.engine,
                "UPDATE item_versions SET name = name || '（旧）' WHERE id = :i",
                i=item_id,
            )
            self._item_data(item_id, lambda d: d.__setitem__("name", d["name"] + "（旧）"))
            w.plant("item.base_elements.inconsistent", "item", impl)
            # Items of a renamed code must keep their places, or the reference copy moves.
            self.shared_codes.add(basic_code)
        item = self.item(exclude_codes=self.shared_codes)
        other = next(
            u
            for (u,) in _rows(
                self.engine,
                "SELECT DISTINCT authority_uscc FROM item_versions ORDER BY authority_uscc",
            )
            if u != item[1][:18]
        )
        _exec(
            self.engine,
            "UPDATE item_versions SET authority_uscc = :u WHERE id = :i",
            u=other,
            i=item[0],
        )
        self.edited("item_versions", item[0])
        w.plant("item.impl_code.authority_mismatch", "item", item[1])
        item = self.item(exclude_codes=self.shared_codes)
        _exec(self.engine, "UPDATE item_versions SET exercise_level = '6' WHERE id = :i", i=item[0])
        self.edited("item_versions", item[0])
        w.plant("item.impl_code.level_mismatch", "item", item[1])
        item = self.item(exclude_codes=self.shared_codes)
        _exec(
            self.engine,
            "UPDATE item_versions SET basic_code = '449999999000' WHERE id = :i",
            i=item[0],
        )
        self.edited("item_versions", item[0])
        w.plant("item.impl_code.basic_mismatch", "item", item[1])
        item = self.item(with_cases=False, exclude_codes=self.shared_codes)
        moved = item[1][:19] + "37" + item[1][21:]
        _exec(
            self.engine,
            "UPDATE item_versions SET basic_code = :b, impl_code = :c WHERE id = :i",
            b=moved[19:],
            c=moved,
            i=item[0],
        )
        self.edited("item_versions", item[0])
        w.plant("item.basic_code.other_province", "item", moved)

    def rules(self) -> None:
        w = self.world
        for _ in range(2):
            item = self.item()
            _exec(
                self.engine,
                "UPDATE item_versions SET promised_limit_days = "
                "statutory_limit_days + 5 WHERE id = :i",
                i=item[0],
            )
            self.edited("item_versions", item[0])
            w.plant("item.time_limit", "item", item[1])
        item = self.unpublished
        _exec(
            self.engine, "UPDATE item_versions SET status = 'registered' WHERE id = :i", i=item[0]
        )
        self.edited("item_versions", item[0])
        for (serial,) in _rows(
            self.engine, "SELECT serial FROM cases WHERE impl_code = :c", c=item[1]
        ):
            w.plant("case.item.unpublished", "case", serial)
        for _ in range(2):
            case_id, serial, _impl = self.case()
            _exec(
                self.engine,
                "UPDATE cases SET serial = :s WHERE id = :i",
                s=serial[:-1] + "A",
                i=case_id,
            )
            self.edited("cases", case_id)
            w.plant("case_serial.format", "case", serial[:-1] + "A")
        others = [impl for (_, impl, *_rest) in self._items()]
        for _ in range(2):
            case_id, serial, impl = self.case()
            other = next(o for o in others if o != impl)
            _exec(
                self.engine,
                "UPDATE cases SET serial = :s WHERE id = :i",
                s=other + serial[31:],
                i=case_id,
            )
            self.edited("cases", case_id)
            w.plant("case.serial.mismatch", "case", other + serial[31:])
        item = self.item(with_cases=False, exclude_codes=self.shared_codes)
        bad = _bad_uscc(item[1][:18])
        _exec(
            self.engine,
            "UPDATE item_versions SET authority_uscc = :u, impl_code = :c WHERE id = :i",
            u=bad,
            c=bad + item[1][18:],
            i=item[0],
        )
        self.edited("item_versions", item[0])
        w.plant("uscc.check", "item", bad + item[1][18:])
        identifier = self.license("length(issuer_code) = 18")
        (issuer,) = _rows(
            self.engine, "SELECT issuer_code FROM licenses WHERE identifier = :i", i=identifier
        )[0]
        _exec(
            self.engine,
            "UPDATE licenses SET issuer_code = :u WHERE identifier = :i",
            u=_bad_uscc(issuer),
            i=identifier,
        )
        self.edited("licenses", identifier)
        w.plant("uscc.check", "license", identifier)
        case_id, serial, _ = self.case("c.applicant_id_type = '111'")
        _exec(
            self.engine,
            "UPDATE cases SET applicant_id_masked = '99' || "
            "substr(applicant_id_masked, 3) WHERE id = :i",
            i=case_id,
        )
        self.edited("cases", case_id)
        w.plant("citizen_id.region", "case", serial)
        identifier = self.license("holder_id_type = '111'")
        _exec(
            self.engine,
            "UPDATE licenses SET holder_id_masked = '99' || "
            "substr(holder_id_masked, 3) WHERE identifier = :i",
            i=identifier,
        )
        self.edited("licenses", identifier)
        w.plant("citizen_id.region", "license", identifier)
        item = self.item()
        _exec(
            self.engine, "UPDATE item_versions SET region_code = '449999' WHERE id = :i", i=item[0]
        )
        self.edited("item_versions", item[0])
        w.plant("region.unknown", "item", item[1])
        case_id, serial, _ = self.case()
        _exec(self.engine, "UPDATE cases SET region_code = '449999' WHERE id = :i", i=case_id)
        self.edited("cases", case_id)
        w.plant("region.unknown", "case", serial)
        identifier = self.license()
        _exec(
            self.engine,
            "UPDATE licenses SET region_code = '449999' WHERE identifier = :i",
            i=identifier,
        )
        self.edited("licenses", identifier)
        w.plant("region.unknown", "license", identifier)
        multi = "(SELECT COUNT(*) FROM case_events e WHERE e.case_id = c.id) >= 2"
        for _ in range(2):
            case_id, serial, _ = self.case(multi)
            (event_id,) = _rows(
                self.engine, "SELECT id FROM case_events WHERE case_id = :c AND seq = 2", c=case_id
            )[0]
            _exec(self.engine, "UPDATE case_events SET state = '15' WHERE id = :e", e=event_id)
            self.edited("case_events", event_id)
            w.plant("case.events.transition", "case", serial)
        for _ in range(2):
            case_id, serial, _ = self.case(multi)
            with self.engine.connect() as connection:
                first = connection.execute(
                    select(CaseEventRow.at).where(
                        CaseEventRow.case_id == case_id, CaseEventRow.seq == 1
                    )
                ).scalar_one()
            (event_id,) = _rows(
                self.engine, "SELECT id FROM case_events WHERE case_id = :c AND seq = 2", c=case_id
            )[0]
            events = CaseEventRow.__table__
            with self.engine.begin() as connection:
                connection.execute(
                    events.update().where(events.c.id == event_id),
                    {"at": first - timedelta(days=1)},
                )
            self.edited("case_events", event_id)
            w.plant("case.events.order", "case", serial)

    def timeliness(self) -> None:
        w = self.world
        day = w.as_of
        for _ in range(2):
            case_id, serial, _ = self.case(
                "EXISTS (SELECT 1 FROM case_timeliness t WHERE t.case_id = c.id AND "
                "t.status = 'done')"
            )
            # Decided in time → re-dated so the deadline fell before the decision.
            _exec(
                self.engine,
                "UPDATE case_timeliness SET status = 'done_late', overdue = :t, "
                "deadline = :d WHERE case_id = :i",
                t=True,
                d=day - timedelta(days=400),
                i=case_id,
            )
            w.plant("case.overdue", "case", serial)
        impl = self._items()[0][1]
        sessions = make_session_factory(self.engine)
        with sessions.begin() as session:
            batch = open_batch(session, "sync.claims", "quality-world")
            now = utcnow()
            rows = [
                ("440304", "000100000001", "pushed", day - timedelta(days=5), None),
                ("440305", "000100000002", "overdue", day - timedelta(days=2), None),
                ("440306", "000100000003", "pushed", day + timedelta(days=5), None),
                ("440307", "000100000004", "completed", day - timedelta(days=9), now),
            ]
            session.execute(
                insert(Claim.__table__),
                [
                    {
                        "node": node,
                        "basic_code": code,
                        "from_node": "440300",
                        "base_impl_code": "X" * 31,
                        "base_hash": "0" * 64,
                        "status": status,
                        "impl_code": None,
                        "missing": [],
                        "pushed_at": now,
                        "deadline": deadline,
                        "completed_at": completed,
                        "batch_id": batch.id,
                        "updated_at": now,
                    }
                    for node, code, status, deadline, completed in rows
                ],
            )
            reviews = [
                ("440304", "registered", day - timedelta(days=3), None),
                ("440305", "reviewed", None, day - timedelta(days=1)),
                ("440306", "published", day - timedelta(days=30), None),
                ("440307", "registered", day + timedelta(days=3), None),
            ]
            session.execute(
                insert(ItemReview.__table__),
                [
                    {
                        "node": node,
                        "impl_code": impl,
                        "basic_code": impl[19:],
                        "status": status,
                        "status_since": now,
                        "review_due": review_due,
                        "correction_due": correction_due,
                        "batch_id": batch.id,
                        "updated_at": now,
                    }
                    for node, status, review_due, correction_due in reviews
                ],
            )
            close_batch(
                session,
                batch,
                read=8,
                accepted=8,
                quarantined=0,
                unchanged=0,
                status="committed",
                settings=w.settings,
            )
        w.plant("claim.overdue", "claim", "440304/000100000001")
        w.plant("claim.overdue", "claim", "440305/000100000002")
        w.plant("review.overdue", "review", f"440304/{impl}")
        w.plant("review.overdue", "review", f"440305/{impl}")

    def integrity(self) -> None:
        w = self.world
        identifier = self.license("status = 'valid'")
        _exec(
            self.engine,
            "UPDATE licenses SET indication = 'FAILED', subindication = "
            "'HASH_FAILURE' WHERE identifier = :i",
            i=identifier,
        )
        w.plant("license.signature", "license", identifier)
        identifier = self.license("status = 'valid'")
        _exec(
            self.engine,
            "UPDATE licenses SET indication = NULL, verified_at = NULL WHERE identifier = :i",
            i=identifier,
        )
        w.plant("license.signature", "license", identifier)
        identifier = self.license(
            f"status = 'valid' AND (valid_to IS NULL OR valid_to >= '{w.as_of.isoformat()}')"
        )
        _exec(
            self.engine,
            "UPDATE licenses SET valid_to = :d WHERE identifier = :i",
            d=w.as_of - timedelta(days=1),
            i=identifier,
        )
        self.edited("licenses", identifier)
        w.plant("license.expired", "license", identifier)
        identifier = self.license("status = 'valid'")
        _exec(
            self.engine,
            "UPDATE licenses SET status = 'revoked' WHERE identifier = :i",
            i=identifier,
        )
        self.edited("licenses", identifier)
        w.plant("license.revoked", "license", identifier)
        blobs = _rows(
            self.engine, "SELECT sha256, COUNT(*) FROM materials GROUP BY sha256 ORDER BY sha256"
        )
        (tampered, n_tampered), (deleted, n_deleted) = blobs[0], blobs[1]
        path = blob_path(w.settings, tampered)
        path.write_bytes(path.read_bytes() + b"tampered")
        for (mid,) in _rows(
            self.engine, "SELECT material_id FROM materials WHERE sha256 = :s", s=tampered
        ):
            w.plant("material.file.sha256", "material", mid)
        blob_path(w.settings, deleted).unlink()
        for (mid,) in _rows(
            self.engine, "SELECT material_id FROM materials WHERE sha256 = :s", s=deleted
        ):
            w.plant("material.file.missing", "material", mid)
        assert n_tampered >= 1 and n_deleted >= 1
        (batch_id,) = _rows(
            self.engine, "SELECT id FROM batches WHERE kind = 'load.material' ORDER BY id"
        )[0]
        _exec(
            self.engine, "UPDATE batches SET read_count = read_count + 1 WHERE id = :b", b=batch_id
        )
        w.plant("ledger.chain", "ledger", f"batch {batch_id}", count=len(w.edited_rows) + 1)


def hub_today() -> date:
    return datetime.now(HUB_TIMEZONE).date()


def plant_all(world: World) -> None:
    engine = make_engine(world.settings.database_url)
    try:
        planter = Planter(world, engine)
        planter.reserve_unpublished()
        planter.completeness()
        planter.consistency()
        planter.rules()
        planter.timeliness()
        planter.integrity()
    finally:
        engine.dispose()
