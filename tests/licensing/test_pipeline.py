"""verify_licenses on a generated, loaded dataset: blobs on load, every planted signature
defect found and stored, library semantics (status, holder, item, content), the new-case
watermark and the CRL-change path — on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from signing.detached import ParsedEnvelope, sign_detached
from signing.pki import open_pki, revoke_certificate
from signing.report import Check, Indication, VerificationReport
from standards.identifiers import build_license_identifier, parse_license_identifier
from tongyuan.config import Settings
from tongyuan.db import make_engine
from tongyuan.generate import generate_dataset
from tongyuan.libraries.batches import close_batch, open_batch
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.license_checks import LicenseCheckRow, LicenseVerifyState
from tongyuan.libraries.licenses import LicenseRow, license_record, write_license
from tongyuan.libraries.materials import blob_path
from tongyuan.licensing.checks import LicenseOutcome
from tongyuan.licensing.files import store_license_files
from tongyuan.licensing.run import verify_licenses
from tongyuan.loading import Loader
from tongyuan.materials.holder import holdings_for
from tongyuan.privacy import PiiProtector


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("licensing") / "data"
    generate_dataset(out, seed=21, items=60, cases=200, bad_rate=0.05)
    return out


@pytest.fixture
def hub(settings, db_url, dataset: Path, tmp_path: Path):
    """A hub with the dataset loaded, and its own copy of the trust directory."""
    hub_settings = dataclasses.replace(settings, database_url=db_url)
    loader = Loader(hub_settings)
    try:
        loader.load([dataset], relative_to=dataset)
    finally:
        loader.close()
    trust = tmp_path / "trust"
    shutil.copytree(dataset / "pki", trust)
    engine = make_engine(db_url)
    yield hub_settings, trust, engine
    engine.dispose()


def _now() -> datetime:
    # Validation "now": the real clock (generated CRLs are fresh from generation time on).
    return datetime.now(UTC)


def _signature_defects(dataset: Path) -> dict[str, str]:
    """license file (relative to licenses/) -> expected sub-indication."""
    doc = json.loads((dataset / "expected_defects.json").read_text(encoding="utf-8"))
    return {
        row["license_file"].removeprefix("licenses/"): row["subindication"]
        for row in doc["signature_defects"]
    }


def test_verify_finds_every_planted_defect_and_stores_each_check(hub, dataset: Path) -> None:
    settings, trust, engine = hub
    with Session(engine) as session:
        rows = session.scalars(select(LicenseRow)).all()
        assert rows
        for row in rows:  # every loaded license's file is in the blob store
            assert row.file_sha256 is not None and blob_path(settings, row.file_sha256).is_file()
            assert (row.signature_sha256 is not None) == (row.signature_ref is not None)
    result = verify_licenses(settings, trust_dir=trust, now=_now())
    assert result.checked == len(rows)
    assert json.dumps(result.to_dict())  # counts only, JSON-safe
    expected = _signature_defects(dataset)
    with Session(engine) as session:
        stored = {r.file: r for r in session.scalars(select(LicenseRow))}
        checks = session.scalars(select(LicenseCheckRow)).all()
        assert len(checks) == len(stored)
        for file, sub in expected.items():
            assert stored[file].indication != "PASSED"
            assert stored[file].subindication == sub
        good = [r for f, r in stored.items() if f not in expected]
        assert good and all(r.indication == "PASSED" and r.verified_at for r in good)
        by_id = {c.identifier: c for c in checks}
        for row in good:
            check = by_id[row.identifier]
            assert check.content_matches is True
            assert check.item_exists is True
            assert check.signer_fingerprint and len(check.issuers) == 2
            assert all(n is not None for n in check.crl_numbers.values())
            names = {c["name"] for c in check.checks}
            assert {"license.content", "license.status", "license.holder", "license.item"} <= names
            assert {"signature_value", "license.identifier"} <= names
            if row.status == "revoked":
                assert check.license_status == "revoked" and not check.usable
    assert result.subindications == {
        sub: list(expected.values()).count(sub) for sub in set(expected.values())
    }
    # Nothing new since: the next run checks nothing.
    assert verify_licenses(settings, trust_dir=trust, now=_now()).checked == 0

    # A case re-delivered by a later batch: its licenses are checked again.
    with Session(engine) as session:
        row = session.scalars(select(LicenseRow).order_by(LicenseRow.identifier)).first()
        assert row is not None
        case = session.scalars(
            select(CaseRow).where(
                CaseRow.impl_code == row.item_code, CaseRow.applicant_id_hash == row.holder_id_hash
            )
        ).first()
        assert case is not None
        case.batch_id = _open_committed_batch(session, settings)
        session.commit()
        same_applicant = session.scalar(
            select(func.count())
            .select_from(LicenseRow)
            .where(
                LicenseRow.item_code == case.impl_code,
                LicenseRow.holder_id_hash == case.applicant_id_hash,
            )
        )
    again = verify_licenses(settings, trust_dir=trust, now=_now())
    assert again.reasons == {"new_case": same_applicant}

    # Revoke the ECDSA issuing certificate now: only licenses below its CA are re-checked.
    issuing = x509.load_pem_x509_certificate((trust / "issuing" / "ecdsa.pem").read_bytes())
    revoke_certificate(trust, issuing, reason=x509.ReasonFlags.key_compromise)
    with Session(engine) as session:
        ecdsa_ca = issuing.issuer.rfc4514_string()
        latest: dict[str, tuple[list[str], dict]] = {}
        query = select(
            LicenseCheckRow.identifier, LicenseCheckRow.issuers, LicenseCheckRow.crl_numbers
        ).order_by(LicenseCheckRow.id)
        for identifier, issuers, numbers in session.execute(query):
            latest[identifier] = (issuers, numbers)
        below = {i for i, (issuers, _) in latest.items() if ecdsa_ca in issuers}
        old_number = max(latest[i][1][ecdsa_ca] for i in below)
        assert below and len(below) < len(latest)  # RSA and SM2 licenses are not below it
    after = verify_licenses(settings, trust_dir=trust, now=_now())
    assert after.crl_changed
    assert after.reasons == {"crl_changed": len(below)}
    assert after.subindications.get("REVOKED_NO_POE", 0) > 0  # revoked after signing
    with Session(engine) as session:
        fresh = session.execute(
            select(LicenseCheckRow.identifier, LicenseCheckRow.crl_numbers).where(
                LicenseCheckRow.run_id == after.run_id
            )
        ).all()
        assert {i for i, _ in fresh} == below
        assert all(numbers[ecdsa_ca] == old_number + 1 for _, numbers in fresh)  # the new CRL
    # The refresh branch with nothing changed checks nothing.
    assert verify_licenses(settings, trust_dir=trust, because_crl_changed=True).checked == 0


def _open_committed_batch(session: Session, settings: Settings) -> str:
    batch = open_batch(session, "test", "licensing-test")
    close_batch(session, batch, read=0, accepted=0, quarantined=0, unchanged=0,
                status="committed", settings=settings)  # fmt: skip
    return batch.id


def test_library_semantics_expired_revoked_superseded_holder_item(hub) -> None:
    settings, trust, engine = hub
    protector = PiiProtector(settings.pii_key())
    with Session(engine) as session:
        rows = session.scalars(
            select(LicenseRow)
            .where(LicenseRow.status == "valid", LicenseRow.valid_to.is_not(None))
            .order_by(LicenseRow.identifier)
        ).all()
        expired, revoked, old, stranger, orphan, untouched = rows[:6]
        expired.valid_to = date(2026, 3, 1)
        revoked.status = "revoked"
        stranger.holder_id_hash = protector.lookup_hash("110101199003077777")
        orphan.item_code = "X" * 20
        ident = parse_license_identifier(old.identifier)
        newer_id = build_license_identifier(ident.type_code, ident.issuer_code, ident.serial, "002")
        newer = license_record(old, protector=protector).model_copy(
            update={"identifier": newer_id, "version": "002", "file": None, "signature_ref": None}
        )
        batch = open_batch(session, "test", "superseding")
        write_license(session, batch.id, newer, protector=protector)
        close_batch(session, batch, read=1, accepted=1, quarantined=0, unchanged=0,
                    status="committed", settings=settings)  # fmt: skip
        session.commit()
        ids = {
            "expired": expired.identifier,
            "revoked": revoked.identifier,
            "superseded": old.identifier,
            "stranger": stranger.identifier,
            "orphan": orphan.identifier,
            "newer": newer_id,
        }
        ident, valid_to = untouched.identifier, untouched.valid_to
    verify_licenses(settings, only_new=False, trust_dir=trust, now=_now())
    with Session(engine) as session:
        latest = {
            c.identifier: c
            for c in session.scalars(select(LicenseCheckRow).order_by(LicenseCheckRow.id))
        }
    assert latest[ids["expired"]].license_status == "expired"
    assert latest[ids["expired"]].content_matches is False  # the signed valid_to differs
    assert latest[ids["revoked"]].license_status == "revoked"
    assert latest[ids["superseded"]].license_status == "superseded"
    assert latest[ids["newer"]].license_status == "valid"
    assert latest[ids["newer"]].indication == "INDETERMINATE"  # no file delivered
    assert latest[ids["newer"]].subindication == "SIGNED_DATA_NOT_FOUND"
    assert latest[ids["stranger"]].holder_matches is False
    assert latest[ids["stranger"]].content_matches is False  # holder compared by hash
    assert latest[ids["orphan"]].item_exists is False
    for key in ("expired", "revoked", "superseded", "stranger", "orphan", "newer"):
        assert latest[ids[key]].usable is False, key
    details = json.dumps([c.checks for c in latest.values()], ensure_ascii=False)
    assert "110101199003077777" not in details
    assert "[license.holder.mismatch]" in details and "[license.item.missing]" in details
    assert valid_to is not None
    later = datetime.combine(valid_to + timedelta(days=2), datetime.min.time(), UTC)
    # Long after: the license has expired (the CRLs are stale by then too: TRY_LATER).
    verify_licenses(settings, only_new=False, trust_dir=trust, now=later)
    with Session(engine) as session:
        check = session.scalars(
            select(LicenseCheckRow)
            .where(LicenseCheckRow.identifier == ident)
            .order_by(LicenseCheckRow.id.desc())
        ).first()
        assert check is not None
        assert check.license_status == "expired"
        assert check.check_date == (later + timedelta(hours=8)).date().isoformat()
        assert check.subindication == "TRY_LATER"


def test_missing_trust_directory_is_an_error(settings, db_url, tmp_path: Path) -> None:
    from signing.trust import TrustStoreError

    hub_settings = dataclasses.replace(settings, database_url=db_url)
    with pytest.raises(TrustStoreError):
        verify_licenses(hub_settings, trust_dir=tmp_path / "nowhere")


def test_anchors_of_another_authority_vouch_for_no_license(hub) -> None:
    """Anchors under anchors/<authority>/ count only for that authority's licenses: moved
    under a USCC that issues none of them, no license passes, SM2 (detached) ones included."""
    settings, trust, engine = hub
    scoped = trust / "anchors" / "91440300MA5FXXXX0Y"
    scoped.mkdir()
    for anchor in (trust / "anchors").glob("*.pem"):
        anchor.rename(scoped / anchor.name)
    result = verify_licenses(settings, only_new=False, trust_dir=trust, now=_now())
    assert result.checked and "PASSED" not in result.indications
    with Session(engine) as session:
        detached = session.scalars(
            select(LicenseRow).where(LicenseRow.signature_sha256.is_not(None))
        ).all()
    assert detached and all(r.indication != "PASSED" for r in detached)
    assert "NO_CERTIFICATE_CHAIN_FOUND" in {r.subindication for r in detached}


def test_removing_or_adding_an_anchor_re_checks_every_license(hub) -> None:
    """Anchors are revoked by removing them, so a default run after a change under anchors/
    (authority sub-folders included) or intermediates/ re-checks every license; it used to
    look at crls/ only and kept the stored PASSED verdicts."""
    settings, trust, engine = hub
    first = verify_licenses(settings, trust_dir=trust, now=_now())
    total = first.checked
    assert total
    assert verify_licenses(settings, trust_dir=trust, now=_now()).checked == 0

    anchor = trust / "anchors" / "root-ecdsa.pem"
    kept = anchor.read_bytes()
    anchor.unlink()
    removed = verify_licenses(settings, trust_dir=trust, now=_now())
    assert removed.reasons == {"trust_changed": total}
    assert removed.trust_changed and not first.trust_changed
    planted = first.subindications.get("NO_CERTIFICATE_CHAIN_FOUND", 0)
    assert removed.subindications.get("NO_CERTIFICATE_CHAIN_FOUND", 0) > planted
    with Session(engine) as session:
        stale = session.scalar(
            select(func.count())
            .select_from(LicenseRow)
            .where(LicenseRow.subindication == "NO_CERTIFICATE_CHAIN_FOUND")
        )
    assert stale > planted  # the stored verdicts follow
    assert verify_licenses(settings, trust_dir=trust, now=_now()).checked == 0

    anchor.write_bytes(kept)  # added back: the chains build again
    added = verify_licenses(settings, trust_dir=trust, now=_now())
    assert added.reasons == {"trust_changed": total}
    assert added.indications == first.indications
    assert added.subindications == first.subindications

    # moved under an authority, and an intermediate removed: the refresh branch sees it too
    scoped = trust / "anchors" / "91440300MA5FXXXX0Y"
    scoped.mkdir()
    anchor.rename(scoped / anchor.name)
    moved = verify_licenses(settings, trust_dir=trust, because_crl_changed=True, now=_now())
    assert moved.reasons == {"trust_changed": total}
    next(iter(sorted((trust / "intermediates").iterdir()))).unlink()
    assert verify_licenses(settings, trust_dir=trust, now=_now()).reasons == {
        "trust_changed": total
    }

    # state written before anchors were fingerprinted: re-check once, then settle
    with Session(engine) as session:
        row = session.get(LicenseVerifyState, "pipeline")
        assert row is not None and "trust_certs" in row.state
        row.state = {k: v for k, v in row.state.items() if k != "trust_certs"}
        session.commit()
    legacy = verify_licenses(settings, trust_dir=trust, now=_now())
    assert legacy.reasons == {"trust_changed": total}
    assert verify_licenses(settings, trust_dir=trust, now=_now()).checked == 0


def _not_a_license(doc: bytes, variant: str) -> bytes:
    if variant == "markup_in_field":  # another holder, split by a comment
        start = doc.index(b"<holder_name>") + len(b"<holder_name>")
        return doc[:start] + "某某<!-- x -->公司".encode() + doc[doc.index(b"</holder_name>") :]
    manifest = {"files": {"cases_001.xml": {"size": 1, "sha256": "0" * 64}}}
    return json.dumps(manifest, indent=2).encode()  # any other SM2-signed file


@pytest.mark.parametrize("variant", ["markup_in_field", "other_file"])
def test_detached_signature_over_something_not_this_license_is_not_usable(
    hub, dataset: Path, tmp_path: Path, variant: str
) -> None:
    """A valid SM2 envelope over a file that does not read as a license proved nothing
    about the license: it was PASSED with the content "not compared", usable, and offered
    for reuse. Now FAILED/FORMAT_FAILURE (as for an XML license), the content check fails
    naming what could not be read, the run counts a content mismatch, materials withhold it."""
    settings, trust, engine = hub
    protector = PiiProtector(settings.pii_key())
    bad_files = set(_signature_defects(dataset))
    pki = open_pki(trust)
    with Session(engine) as session:
        row = next(
            r
            for r in session.scalars(
                select(LicenseRow)
                .where(LicenseRow.signature_sha256.is_not(None), LicenseRow.status == "valid")
                .order_by(LicenseRow.identifier)
            )
            if r.file not in bad_files
        )
        envelope = ParsedEnvelope(blob_path(settings, row.signature_sha256).read_bytes())
        doc = _not_a_license(blob_path(settings, row.file_sha256).read_bytes(), variant)
        signed = sign_detached(
            doc, pki.signing_key("sm2"), pki.chain("sm2"), signing_time=envelope.signing_time
        )
        for name, data in (("doc", doc), ("sig", signed)):
            (tmp_path / name).write_bytes(data)
        record = license_record(row, protector=protector)
        named = record.model_copy(update={"file": "doc", "signature_ref": "sig"})
        files = store_license_files(settings, session, named, tmp_path)
        row.file_sha256, row.signature_sha256 = files.file_sha256, files.signature_sha256
        session.commit()
        identifier, holder_id = row.identifier, record.holder_id
        valid_from = row.valid_from
    result = verify_licenses(settings, only_new=False, trust_dir=trust, now=_now())
    with Session(engine) as session:
        check = session.scalars(
            select(LicenseCheckRow).where(LicenseCheckRow.identifier == identifier)
        ).one()
        assert (check.indication, check.subindication) == ("FAILED", "FORMAT_FAILURE")
        assert check.content_matches is False and check.usable is False
        by_name = {c["name"]: c for c in check.checks}
        assert by_name["signed_content"]["passed"] is False
        assert by_name["signature_value"]["passed"] is True
        assert by_name["license.content"]["passed"] is False
        detail = by_name["license.content"]["detail"]
        assert "[license.content.unreadable]" in detail
        expected = "<holder_name> must hold text only" if variant == "markup_in_field" else "XML"
        assert expected in detail
        assert result.content_mismatches >= 1
        held = holdings_for(session, protector, holder_id, valid_from, settings=settings)
    assert identifier not in {lic.identifier for lic in held.licenses}
    assert any(w.key == identifier and w.reason == "signature_failed" for w in held.withheld)


def test_usable_never_with_a_failed_check_in_the_signature_report() -> None:
    """``usable`` looked only at the license's own checks: a failed check inside a report
    left PASSED (the old unreadable-content path) still gave a usable license."""
    report = VerificationReport(Indication.PASSED, None, checks=[Check("signature_value", True)])
    outcome = LicenseOutcome(
        identifier="x",
        report=report,
        license_status="valid",
        content_matches=True,
        holder_matches=True,
        item_exists=True,
        checks=[Check("license.content", True)],
    )
    assert outcome.usable
    report.checks.append(Check("signed_content", False, "not a license document"))
    assert not outcome.usable
