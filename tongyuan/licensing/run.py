"""The license verification pipeline: which licenses to check, and storing what was found.

``verify_licenses(settings)`` checks (:mod:`tongyuan.licensing.checks`):

- **new cases**: licenses whose item and holder (keyed hash) match a case written by a
  batch committed since the last run (the watermark, ``license_verify_state``);
- **unverified**: licenses never checked, or whose record or files changed since
  (``write_license``/``attach_license_files`` clear ``verified_at``) — licenses are often
  loaded after the cases they result from;
- **CRL changed**: when a file under the trust directory's ``crls/`` was added, changed
  or removed since the last run (sha256 per file, kept in the state), every license whose
  last check named that CRL's issuer among its signer's CAs, and every license whose last
  result was TRY_LATER (a fresh CRL may settle it);
- **trust changed**: when a certificate file under ``anchors/`` (its authority
  sub-folders included) or ``intermediates/`` was added, changed, removed or moved since
  the last run, every license: removing an anchor is how an anchor is revoked, and a new
  anchor or intermediate can build a path where none was found, so any verdict may move.

``only_new=False`` checks every license. ``because_crl_changed=True`` runs the CRL and
trust paths only (what the refresh branch of the DAG asks for). Each check adds a ``license_checks``
row and sets ``licenses.verified_at/indication/subindication``; rows are committed in
chunks, and the state last, so a crash repeats work (harmless) but never skips it.
Results are counts only: no identifiers of people, ever.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from signing.report import SubIndication
from signing.trust import TrustStore
from tongyuan.config import Settings
from tongyuan.db import make_engine
from tongyuan.libraries.base import new_id, utcnow
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.license_checks import LicenseCheckRow, LicenseVerifyState
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.licensing.checks import (
    LibraryFacts,
    LicenseOutcome,
    check_license,
    newest_versions,
)
from tongyuan.privacy import PiiProtector

ENV_TRUST_DIR = "TONGYUAN_TRUST_DIR"
STATE_NAME = "pipeline"
CHUNK = 500
BEIJING = timezone(timedelta(hours=8))
_CRL_SUFFIXES = (".pem", ".crl", ".der")
_CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")  # what TrustStore.load reads


def default_trust_dir(settings: Settings) -> Path:
    """``TONGYUAN_TRUST_DIR``, else ``<home>/trust`` (where ``tongyuan demo`` puts pki/)."""
    configured = os.environ.get(ENV_TRUST_DIR)
    return Path(configured).resolve() if configured else settings.home / "trust"


@dataclass(slots=True)
class LicenseVerifyResult:
    """Counts of one run (safe to log and to pass over XCom: no identifiers)."""

    run_id: str
    checked: int = 0
    usable: int = 0
    crl_changed: bool = False
    trust_changed: bool = False
    reasons: dict[str, int] = field(default_factory=dict)
    indications: dict[str, int] = field(default_factory=dict)
    subindications: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    content_mismatches: int = 0
    holder_mismatches: int = 0
    missing_items: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def crl_fingerprints(trust_dir: Path) -> dict[str, dict[str, str]]:
    """sha256 and issuer name of every CRL file under ``trust_dir/crls``."""
    found: dict[str, dict[str, str]] = {}
    folder = trust_dir / "crls"
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in _CRL_SUFFIXES:
            continue
        data = path.read_bytes()
        try:
            crl = (
                x509.load_pem_x509_crl(data)
                if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_crl(data)
            )
            issuer = crl.issuer.rfc4514_string()
        except ValueError:
            issuer = ""
        found[path.name] = {"sha256": hashlib.sha256(data).hexdigest(), "issuer": issuer}
    return found


def trust_fingerprints(trust_dir: Path) -> dict[str, str]:
    """sha256 of every certificate file under ``anchors/`` (one level of authority
    sub-folders, as ``TrustStore.load`` reads them) and ``intermediates/``, keyed by the
    path relative to ``trust_dir``: moving an anchor between authorities changes its scope,
    so it counts as a change too."""
    found: dict[str, str] = {}
    anchors = trust_dir / "anchors"
    folders = [anchors, trust_dir / "intermediates"]
    if anchors.is_dir():
        folders += sorted(p for p in anchors.iterdir() if p.is_dir())
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in _CERT_SUFFIXES:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[path.relative_to(trust_dir).as_posix()] = digest
    return found


def changed_crl_issuers(
    before: dict[str, dict[str, str]], now: dict[str, dict[str, str]]
) -> set[str]:
    """Issuer names of CRL files added, removed or changed between two fingerprints."""
    changed: set[str] = set()
    for name in set(before) | set(now):
        old, new = before.get(name), now.get(name)
        if (old or {}).get("sha256") != (new or {}).get("sha256"):
            changed.update(x["issuer"] for x in (old, new) if x is not None and x["issuer"])
    return changed


def _load_state(session: Session) -> dict[str, Any]:
    row = session.get(LicenseVerifyState, STATE_NAME)
    return dict(row.state) if row is not None else {}


def _save_state(session: Session, state: dict[str, Any]) -> None:
    row = session.get(LicenseVerifyState, STATE_NAME)
    if row is None:
        session.add(LicenseVerifyState(name=STATE_NAME, state=state, updated_at=utcnow()))
    else:
        row.state, row.updated_at = state, utcnow()


def _new_case_licenses(
    session: Session, since: datetime | None
) -> tuple[set[str], datetime | None]:
    """Licenses matching cases of batches committed after ``since``; and the new watermark."""
    query = select(Batch.id, Batch.finished_at).where(Batch.status == "committed")
    if since is not None:
        query = query.where(Batch.finished_at > since)
    batches = session.execute(query).all()
    if not batches:
        return set(), since
    watermark = max((b.finished_at for b in batches if b.finished_at is not None), default=since)
    ids = [b.id for b in batches]
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(LicenseRow.identifier)
            .join(
                CaseRow,
                (CaseRow.impl_code == LicenseRow.item_code)
                & (CaseRow.applicant_id_hash == LicenseRow.holder_id_hash),
            )
            .where(CaseRow.batch_id.in_(ids[start : start + CHUNK]))
        )
        found.update(r.identifier for r in rows)
    return found, watermark


def _latest_checks(session: Session) -> dict[str, tuple[list[str], str | None]]:
    """Per license: the CA names and sub-indication of its latest check."""
    newest = (
        select(func.max(LicenseCheckRow.id)).group_by(LicenseCheckRow.identifier).scalar_subquery()
    )
    rows = session.execute(
        select(
            LicenseCheckRow.identifier, LicenseCheckRow.issuers, LicenseCheckRow.subindication
        ).where(LicenseCheckRow.id.in_(newest))
    )
    return {identifier: (list(issuers or []), sub) for identifier, issuers, sub in rows}


def _crl_affected(session: Session, changed: set[str]) -> set[str]:
    return {
        identifier
        for identifier, (issuers, sub) in _latest_checks(session).items()
        if changed.intersection(issuers) or sub == SubIndication.TRY_LATER.value
    }


def _store(
    session: Session, outcome: LicenseOutcome, row: LicenseRow, *, run_id: str, reason: str,
    now: datetime, on: str,
) -> None:  # fmt: skip
    report = outcome.report
    session.add(
        LicenseCheckRow(
            identifier=outcome.identifier,
            run_id=run_id,
            reason=reason,
            checked_at=now,
            check_date=on,
            indication=report.indication.value,
            subindication=report.subindication.value if report.subindication else None,
            signer=report.signer[:500] if report.signer else None,
            signer_fingerprint=report.signer_fingerprint,
            signing_time=report.signing_time,
            algorithm=report.algorithm,
            format=report.format,
            file_sha256=row.file_sha256,
            license_status=outcome.license_status,
            content_matches=outcome.content_matches,
            holder_matches=outcome.holder_matches,
            item_exists=outcome.item_exists,
            usable=outcome.usable,
            issuers=outcome.issuers,
            crl_numbers=outcome.crl_numbers,
            checks=[c.to_dict() for c in [*report.checks, *outcome.checks]],
        )
    )
    row.verified_at = now
    row.indication = report.indication.value
    row.subindication = report.subindication.value if report.subindication else None


def _tally(result: LicenseVerifyResult, outcome: LicenseOutcome, reason: str) -> None:
    result.checked += 1
    result.usable += outcome.usable
    for counter, key in (
        (result.reasons, reason),
        (result.indications, outcome.report.indication.value),
        (result.statuses, outcome.license_status),
    ):
        counter[key] = counter.get(key, 0) + 1
    if outcome.report.subindication is not None:
        sub = outcome.report.subindication.value
        result.subindications[sub] = result.subindications.get(sub, 0) + 1
    result.content_mismatches += outcome.content_matches is False
    result.holder_mismatches += outcome.holder_matches is False
    result.missing_items += outcome.item_exists is False


def _select(
    session: Session,
    state: dict[str, Any],
    *,
    only_new: bool,
    because_crl_changed: bool,
    crl_changes: set[str],
    trust_changed: bool,
) -> tuple[dict[str, str], datetime | None]:
    """identifier -> reason (first reason wins), and the new case watermark."""
    since_text = state.get("case_watermark")
    since = datetime.fromisoformat(since_text) if since_text else None
    chosen: dict[str, str] = {}
    if not only_new:
        chosen = {i: "all" for i in session.scalars(select(LicenseRow.identifier))}
        _, watermark = _new_case_licenses(session, since)
        return chosen, watermark
    watermark = since
    if not because_crl_changed:
        new_case, watermark = _new_case_licenses(session, since)
        chosen.update(dict.fromkeys(sorted(new_case), "new_case"))
        unverified = session.scalars(
            select(LicenseRow.identifier).where(LicenseRow.verified_at.is_(None))
        )
        for identifier in unverified:
            chosen.setdefault(identifier, "unverified")
    if crl_changes:
        for identifier in sorted(_crl_affected(session, crl_changes)):
            chosen.setdefault(identifier, "crl_changed")
    if trust_changed:
        for identifier in session.scalars(select(LicenseRow.identifier)):
            chosen.setdefault(identifier, "trust_changed")
    return chosen, watermark


def verify_licenses(
    settings: Settings,
    *,
    only_new: bool = True,
    because_crl_changed: bool = False,
    trust_dir: Path | None = None,
    now: datetime | None = None,
) -> LicenseVerifyResult:
    """Check the chosen licenses and store every result (see the module docstring).

    ``now`` is the validation time (CRL freshness) and, in Beijing time, the date license
    status is judged at. Raises ``signing.trust.TrustStoreError`` when the trust directory
    is missing or has no anchors.
    """
    now = now or datetime.now(UTC)
    on = now.astimezone(BEIJING).date()
    trust_dir = Path(trust_dir) if trust_dir is not None else default_trust_dir(settings)
    trust = TrustStore.load(trust_dir)
    protector = PiiProtector(settings.pii_key())
    result = LicenseVerifyResult(run_id=new_id())
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            state = _load_state(session)
            crls = crl_fingerprints(trust_dir)
            previous = state.get("crls")
            crl_changes = changed_crl_issuers(previous, crls) if previous is not None else set()
            result.crl_changed = bool(crl_changes)
            certs = trust_fingerprints(trust_dir)
            previous_certs = state.get("trust_certs")
            # A hub whose last run predates this fingerprint cannot tell what changed since:
            # it re-checks once rather than keep verdicts an anchor removal may have voided.
            result.trust_changed = (
                previous_certs != certs if previous_certs is not None else "crls" in state
            )
            chosen, watermark = _select(
                session, state, only_new=only_new, because_crl_changed=because_crl_changed,
                crl_changes=crl_changes, trust_changed=result.trust_changed,
            )  # fmt: skip
            issuers = set(session.scalars(select(LicenseRow.issuer_code).distinct()))
            facts = LibraryFacts(newest_versions(session, issuers))
            identifiers = sorted(chosen)
            for start in range(0, len(identifiers), CHUNK):
                # Reads only while checking: rows are added at the end of the chunk, so no
                # query in between has to flush them first.
                with session.no_autoflush:
                    rows = _rows(session, identifiers[start : start + CHUNK])
                    facts.read(session, rows)
                    outcomes = [
                        check_license(
                            settings, row, trust, facts, protector=protector, now=now, on=on
                        )
                        for row in rows
                    ]
                for row, outcome in zip(rows, outcomes, strict=True):
                    reason = chosen[row.identifier]
                    _store(session, outcome, row, run_id=result.run_id, reason=reason, now=now,
                           on=on.isoformat())  # fmt: skip
                    _tally(result, outcome, reason)
                session.commit()
            state["crls"] = crls
            state["trust_certs"] = certs
            if watermark is not None:
                state["case_watermark"] = watermark.isoformat()
            state["last_run"] = {"run_id": result.run_id, "at": now.isoformat()}
            _save_state(session, state)
            session.commit()
    finally:
        engine.dispose()
    result.reasons = dict(sorted(result.reasons.items()))
    result.subindications = dict(sorted(Counter(result.subindications).items()))
    return result


def _rows(session: Session, identifiers: Iterable[str]) -> list[LicenseRow]:
    wanted = list(identifiers)
    rows = session.scalars(select(LicenseRow).where(LicenseRow.identifier.in_(wanted))).all()
    return sorted(rows, key=lambda r: r.identifier)
