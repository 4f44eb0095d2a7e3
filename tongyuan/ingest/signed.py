"""Signed deliveries: a department's files listed in a manifest it signed.

A department marked ``signing: true`` in the topology delivers, beside its files,
``MANIFEST.json`` (``{"files": {"NAME": {"size": N, "sha256": "HEX"}}}`` — the drop
folder's own manifest format, so the drop read re-checks every file it copies against it)
and ``MANIFEST.json.sig.json``, the manifest's detached signature (:mod:`signing.detached`)
made with the department's certificate.

Before anything of such a delivery is read, the hub checks the whole of it: the
signature against the hub's trust directory (chain, validity at signing time, CRLs) —
only the department's own anchors (``anchors/<department code>/``) and the general ones
count, never anchors scoped to another authority — every delivered file against the
signed manifest (listed, same size, same sha256), and every file the manifest lists is
delivered: a signed file left out (dropped by whoever carried the delivery) rejects it.

A valid chain only says that some trusted CA certified the signer, and one provincial
government CA usually certifies every department: the signer certificate must also name
the delivering department's USCC as its organisation, and no other code
(:mod:`tongyuan.ingest.signer_identity`; never read from an email address, domain name,
URI or OU) — one
naming another USCC is another department's or ambiguous, one naming none is refused
unless the department has a dedicated CA
(``signing_ca: dedicated``) and the chain ends under its own ``anchors/<code>/``. Any
failure rejects the delivery as a whole: nothing is stored or quarantined, nothing is
acknowledged, and a failed batch records the reason with the ETSI sub-indication.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.builtin.drop import DropSource
from adapters.builtin.drop_folder import (
    MANIFEST_NAME,
    MARKER_SUFFIX,
    MAX_MANIFEST_BYTES,
    DropFolder,
    Entry,
    Manifest,
    discard_part,
    in_progress,
    unsafe_name_reason,
)
from adapters.sdk import AdapterError
from signing.report import SubIndication
from tongyuan.config import Settings
from tongyuan.ingest.signer_identity import signer_refusal

SIGNATURE_NAME = f"{MANIFEST_NAME}.sig.json"
VERIFIED_PREFIX = "tongyuan-verified-"
# A verified copy older than this is a killed run's: swept. Younger ones may be another
# hub's run in progress (two hubs sharing a staging area and a drop folder).
STALE_VERIFIED_SECONDS = 3600
MAX_MARKER_BYTES = 4096
ENV_TRUST_DIR = "TONGYUAN_TRUST_DIR"
_CHUNK = 1 << 20


@dataclass(slots=True)
class DeliveryVerdict:
    """Whether a delivery may be ingested, and who signed it."""

    ok: bool
    files: int = 0
    reason: str | None = None
    indication: str | None = None
    subindication: str | None = None
    signer: str | None = None
    signer_fingerprint: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    snapshot: DeliverySnapshot | None = None

    def meta(self) -> dict[str, Any]:
        """What the batch row keeps about the verification (no file contents)."""
        out: dict[str, Any] = {
            "signed": True,
            "indication": self.indication,
            "subindication": self.subindication,
            "signer_fingerprint": self.signer_fingerprint,
            "signer": self.signer,
            "files": self.files,
        }
        return {k: v for k, v in out.items() if v is not None}


@dataclass(slots=True)
class DeliverySnapshot:
    """The delivery exactly as verified: the manifest's bytes and the verified copies.

    The read ingests these copies, never the live folder again: a file added, rewritten or
    a manifest replaced after the verification cannot reach the libraries under the
    department's signature (the bytes parsed are the bytes that were hashed).
    """

    manifest_bytes: bytes
    manifest: Manifest
    entries: dict[str, Entry]
    staged: dict[str, Path]
    directory: Path | None = None
    signing_time: datetime | None = None
    signature_bytes: bytes = b""
    markers: dict[str, tuple[Entry, bytes]] = field(default_factory=dict)

    @property
    def envelope_sha256(self) -> str:
        """What identifies the delivery for replay refusal: the signed envelope's digest.

        The envelope covers the manifest and the signing time, so the same files signed
        again later (a re-send) are a new delivery, while the old envelope put back is not.
        """
        return hashlib.sha256(self.signature_bytes).hexdigest()

    def listed_names(self) -> list[str]:
        """The verified files, without ``MANIFEST.json`` itself."""
        return sorted(n for n in self.entries if n != MANIFEST_NAME)

    def close(self) -> None:
        """Remove the verified copies."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def freeze_markers(self, live: DropFolder) -> None:
        """Keep the live folder's ``.done`` markers of the listed files, bytes included, as
        they are now: the run's decision (acknowledge-only or not) and its reads must see
        the same markers, or a marker removed in between lets an accepted delivery's
        verified copies be read again. An unreadable marker is left out (acknowledges
        nothing)."""
        self.markers = {}
        for entry in live.list():
            if not self.is_listed_marker(entry.name):
                continue  # only a verified file's marker can make a read skip it
            try:
                self.markers[entry.name] = (entry, live.read_small(entry.name, MAX_MARKER_BYTES))
            except (OSError, AdapterError):
                continue

    def is_listed_marker(self, name: str) -> bool:
        """Whether ``name`` is the acknowledgement marker of a verified file."""
        return name.endswith(MARKER_SUFFIX) and name[: -len(MARKER_SUFFIX)] in self.entries


class SnapshotFolder(DropFolder):
    """A drop folder seen as it was verified: lists, stats and fetches the snapshot only.

    Acknowledging (moving to ``done/``, markers) goes to the live folder, and
    :attr:`live` lets the read check the live file before acknowledging it. Names outside
    the snapshot (files a material record references) are read from the live folder.
    """

    def __init__(self, live: DropFolder, snapshot: DeliverySnapshot) -> None:
        self.live = live
        self.snapshot = snapshot

    def location(self, name: str) -> str:
        return self.live.location(name)

    def list(self) -> list[Entry]:
        """The verified entries, plus the acknowledgement markers frozen when the run
        decided what the delivery is (:meth:`DeliverySnapshot.freeze_markers`): a marker
        only makes a read skip a file it acknowledges, and without it a delivery
        acknowledged with ``acknowledge: marker`` would look unacknowledged for ever."""
        markers = [entry for entry, _ in self.snapshot.markers.values()]
        return [*self.snapshot.entries.values(), *markers]

    def stat(self, name: str) -> Entry | None:
        if name in self.snapshot.entries or name == MANIFEST_NAME:
            return self.snapshot.entries.get(name)
        if self.snapshot.is_listed_marker(name):  # as frozen, never the live one
            frozen = self.snapshot.markers.get(name)
            return None if frozen is None else frozen[0]
        return self.live.stat(name)

    def symlink_escapes(self, name: str) -> bool:
        return self.live.symlink_escapes(name)

    def fetch(self, name: str, entry: Entry, part: Path) -> None:
        staged = self.snapshot.staged.get(name)
        if staged is None:
            self.live.fetch(name, entry, part)
            return
        part.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staged, part)

    def read_small(self, name: str, limit: int) -> bytes:
        if name == MANIFEST_NAME:
            return self.snapshot.manifest_bytes
        if self.snapshot.is_listed_marker(name):  # as frozen, never the live one
            if name not in self.snapshot.markers:
                raise AdapterError(f"{self.location(name)} was not there when checked")
            data = self.snapshot.markers[name][1]
            if len(data) > limit:
                raise AdapterError(f"{self.location(name)} is over {limit} bytes")
            return data
        staged = self.snapshot.staged.get(name)
        if staged is not None:  # a verified sidecar: its verified bytes, within the limit
            if staged.stat().st_size > limit:
                raise AdapterError(f"{self.location(name)} is over {limit} bytes")
            return staged.read_bytes()
        return self.live.read_small(name, limit)

    def still_verified(self, name: str, sha256: str) -> bool:
        """Whether the live ``name`` still holds the bytes ``sha256`` names (what was
        ingested): a file swapped for another of the same size and modification time
        must not be acknowledged as if its bytes had been read."""
        entry = self.live.stat(name)
        if entry is None or self.snapshot.directory is None:
            return False
        part = self.snapshot.directory / "acknowledge.check"
        try:
            self.live.fetch(name, entry, part)
            return _sha256_file(part) == sha256
        except (OSError, AdapterError):
            return False
        finally:
            discard_part(part)  # and a remote fetch's resume record: no stale resume

    def move_to_done(self, name: str, done_dir: str) -> str:
        return self.live.move_to_done(name, done_dir)

    def write_small(self, name: str, data: bytes) -> None:
        self.live.write_small(name, data)

    def close(self) -> None:
        self.live.close()


def changed_since_verified(
    folder: DropFolder, patterns: Sequence[str], snapshot: DeliverySnapshot
) -> str | None:
    """How the live drop folder differs from the verified delivery, or None.

    A file a read would consider that the signed manifest does not list, a listed file
    whose size or modification time moved, or a ``MANIFEST.json`` whose bytes differ from
    the verified ones: someone changed the delivery after it was verified.
    """
    now = delivered_names(folder, patterns)
    for name in sorted(now):
        if name not in snapshot.entries:
            return (
                f"{name} appeared after the signed manifest was verified and is not listed in "
                "it; the delivery is rejected whole"
            )
    listed = {e.name: e for e in folder.list()}
    for name, entry in sorted(snapshot.entries.items()):
        if name == MANIFEST_NAME:
            continue
        live = listed.get(name)
        if live is None or (live.size, live.mtime) != (entry.size, entry.mtime):
            return f"{name} changed after the signed manifest was verified"
    if snapshot.manifest_bytes or MANIFEST_NAME in listed:
        try:
            current = folder.read_small(MANIFEST_NAME, MAX_MANIFEST_BYTES)
        except (OSError, AdapterError) as exc:
            return f"{MANIFEST_NAME} cannot be read again after verification: {exc}"
        if current != snapshot.manifest_bytes:
            return f"{MANIFEST_NAME} was replaced after the signed manifest was verified"
    return None


def sweep_verified(source: DropSource, department: str) -> None:
    """Remove verified copies a killed run left in ``source``'s staging area for
    ``department``: the copies hold personal data in clear.

    Called at the start of a run, under the department's ingest lock, in a directory of
    that department's own (another department sharing the drop folder has another), and
    only copies older than :data:`STALE_VERIFIED_SECONDS`: a younger one may be a run of
    another hub sharing the staging area, which this hub's lock does not stop.
    """
    cutoff = time.time() - STALE_VERIFIED_SECONDS
    for stale in source.verified_path(department).glob(f"{VERIFIED_PREFIX}*"):
        try:
            if stale.stat().st_mtime > cutoff:
                continue
        except OSError:
            continue  # already gone
        shutil.rmtree(stale, ignore_errors=True)


def empty_snapshot() -> DeliverySnapshot:
    """The snapshot of an empty delivery: a read of it finds nothing."""
    return DeliverySnapshot(b"", Manifest({}), {}, {})


def trust_dir_for(settings: Settings, topology_trust_dir: Path | None) -> Path:
    """The trust directory: the topology's ``trust_dir``, else ``TONGYUAN_TRUST_DIR``,
    else ``<home>/trust`` — the same default as licence verification, so one directory of
    trust anchors and CRLs serves both."""
    if topology_trust_dir is not None:
        return topology_trust_dir
    env = os.environ.get(ENV_TRUST_DIR, "").strip()
    return Path(env).expanduser().resolve() if env else settings.home / "trust"


def build_manifest(folder: Path, names: Iterable[str]) -> bytes:
    """The manifest of files in a local folder (what a department signs)."""
    files: dict[str, dict[str, Any]] = {}
    for name in sorted(names):
        path = folder / name
        files[name] = {"size": path.stat().st_size, "sha256": _sha256_file(path)}
    return json.dumps({"files": files}, indent=2, ensure_ascii=False).encode() + b"\n"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def refused(sub: SubIndication, reason: str, **extra: Any) -> DeliveryVerdict:
    """A verdict refusing the delivery whole, with the ETSI sub-indication that says why."""
    return DeliveryVerdict(
        ok=False,
        reason=reason,
        indication=sub.indication.value,
        subindication=sub.value,
        **extra,
    )


def delivered_names(folder: DropFolder, patterns: Sequence[str]) -> dict[str, Any]:
    """The complete, plainly named regular files a read would consider, by name."""
    out = {}
    for entry in folder.list():
        name = entry.name
        if entry.type != "file" or unsafe_name_reason(name) is not None or in_progress(name):
            continue
        if name in (MANIFEST_NAME, SIGNATURE_NAME):
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            out[name] = entry
    return out


def verify_delivery(
    source: DropSource,
    patterns: Sequence[str],
    trust_dir: Path,
    *,
    department: str | None = None,
    signing_ca: str = "shared",
    now: datetime | None = None,
) -> DeliveryVerdict:
    """Check a drop folder's delivery as a whole; never raises for what was delivered.

    ``department`` is the delivering department's code: only anchors under
    ``anchors/<code>/`` and the general anchors vouch for its signer (as a license's
    issuer code does for licenses), so a CA trusted for one authority cannot sign another
    department's deliveries, and the signer certificate must be the department's
    (:func:`signer_refusal`, ``signing_ca`` as in the topology). An empty folder is an
    empty delivery (ok, nothing to verify). Raises AdapterError only when the folder
    cannot be reached, like a read would.
    """
    from signing.detached import verify_detached
    from signing.trust import TrustStore, authority_key

    folder = source.open_folder()
    files = delivered_names(folder, patterns)
    if not files:
        return DeliveryVerdict(ok=True, files=0, snapshot=empty_snapshot())
    listed = {e.name: e for e in folder.list()}
    if MANIFEST_NAME not in listed or SIGNATURE_NAME not in listed:
        missing = MANIFEST_NAME if MANIFEST_NAME not in listed else SIGNATURE_NAME
        return refused(
            SubIndication.FORMAT_FAILURE,
            f"unsigned delivery: {len(files)} file(s) but no {missing}; this department "
            "must sign its deliveries (signing: true in the topology)",
            files=len(files),
        )
    try:
        manifest_bytes = folder.read_small(MANIFEST_NAME, MAX_MANIFEST_BYTES)
        signature = folder.read_small(SIGNATURE_NAME, MAX_MANIFEST_BYTES)
    except (OSError, AdapterError) as exc:
        return refused(SubIndication.FORMAT_FAILURE, f"cannot read the manifest: {exc}")
    try:
        trust = TrustStore.load(trust_dir)
    except Exception as exc:  # a missing or broken trust dir: nothing can be verified
        return refused(
            SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
            f"trust directory {trust_dir} cannot be used: {exc}",
            files=len(files),
        )
    authority = None if department is None else authority_key(department)
    report = verify_detached(manifest_bytes, signature, trust, now=now, authority=authority)
    verdict = DeliveryVerdict(
        ok=report.passed,
        files=len(files),
        indication=report.indication.value,
        subindication=report.subindication.value if report.subindication else None,
        signer=report.signer,
        signer_fingerprint=report.signer_fingerprint,
        report=report.to_dict(),
    )
    if not report.passed:
        failed = [c for c in report.checks if c.passed is False] or report.checks
        detail = "; ".join(f"{c.name}: {c.detail}" for c in failed[:3])
        verdict.reason = (
            f"manifest signature {report.indication.value}/{verdict.subindication}: {detail}"
        )
        return verdict
    refusal = (
        None
        if department is None
        else signer_refusal(signature, trust, department, signing_ca, now)
    )
    if refusal is not None:
        sub = SubIndication.SIG_CONSTRAINTS_FAILURE
        verdict.ok, verdict.reason = False, refusal
        verdict.indication, verdict.subindication = sub.indication.value, sub.value
        return verdict
    try:
        manifest = Manifest.parse(manifest_bytes, folder.location(MANIFEST_NAME))
    except AdapterError as exc:
        verdict.ok = False
        verdict.subindication = SubIndication.FORMAT_FAILURE.value
        verdict.indication = SubIndication.FORMAT_FAILURE.indication.value
        verdict.reason = f"signed manifest is not a manifest: {exc}"
        return verdict
    snapshot = DeliverySnapshot(
        manifest_bytes,
        manifest,
        {},
        {},
        Path(tempfile.mkdtemp(prefix=VERIFIED_PREFIX, dir=source.verified_path(department or ""))),
        report.signing_time,
        signature,
    )
    limit: int = source.config.max_file_bytes  # type: ignore[attr-defined]
    try:
        problem = _check_files(folder, files, manifest, listed, snapshot, limit)
    except BaseException:
        snapshot.close()  # the copies hold the delivery's personal data: never left behind
        raise
    if problem is not None:
        snapshot.close()
        sub, verdict.reason = problem
        verdict.ok = False
        verdict.indication = sub.indication.value
        verdict.subindication = sub.value
        return verdict
    snapshot.entries[MANIFEST_NAME] = listed[MANIFEST_NAME]
    verdict.snapshot = snapshot
    return verdict


def _check_files(
    folder: DropFolder,
    files: dict[str, Any],
    manifest: Manifest,
    listed: dict[str, Any],
    snapshot: DeliverySnapshot,
    max_file_bytes: int,
) -> tuple[SubIndication, str] | None:
    """The first way the delivery differs from what was signed, or None.

    Every signed file must be there: the manifest's own entries are checked as well as the
    delivered files, or leaving one out would pass unnoticed. Each verified copy is kept
    in ``snapshot``: the read ingests it, not the live file. A file over the source's
    ``max_file_bytes`` is refused before it is downloaded (a read would refuse it anyway,
    and the whole delivery with it).
    """
    assert snapshot.directory is not None
    for name in sorted(manifest.entries):
        entry = listed.get(name)
        if name in files:
            continue
        if entry is None or entry.type != "file" or in_progress(name):
            return (
                SubIndication.SIGNED_DATA_NOT_FOUND,
                f"{name} is listed in the signed manifest but was not delivered",
            )
        files = {**files, name: entry}  # delivered but outside the read patterns: check it
    for name, entry in sorted(files.items()):
        expected = manifest.entries.get(name)
        if expected is None:
            return _hash(f"{name} is delivered but not listed in the signed manifest")
        if expected.sha256 is None or expected.size is None:
            return _hash(f"the signed manifest gives no size and sha256 for {name}")
        if entry.size != expected.size:
            return _hash(
                f"{name}: {entry.size} bytes delivered, the signed manifest says {expected.size}"
            )
        if entry.size > max_file_bytes:
            return _hash(
                f"{name}: {entry.size} bytes is over max_file_bytes ({max_file_bytes}) of the "
                "drop folder's configuration; the delivery is not read"
            )
        part = snapshot.directory / f"{len(snapshot.staged)}.copy"
        try:
            folder.fetch(name, entry, part)
        except (OSError, AdapterError) as exc:
            return _hash(f"{name} cannot be read to check it: {exc}")
        digest = _sha256_file(part)
        if digest != expected.sha256 or part.stat().st_size != expected.size:
            return _hash(
                f"{name}: sha256 {digest} does not match {expected.sha256} in the signed manifest"
            )
        snapshot.entries[name] = entry
        snapshot.staged[name] = part
    return None


def _hash(reason: str) -> tuple[SubIndication, str]:
    return SubIndication.HASH_FAILURE, reason
