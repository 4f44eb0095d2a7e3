"""Integrity checks that need more than SQL: material files against their hashes, and the ledger.

A blob's content can only be checked by reading it, so this check streams every stored
file once (1 MiB chunks, one file at a time, however many materials share it) and
compares its SHA-256 with the content address the manifests name; a symbolic link or
anything else that is not a regular file in the store fails as altered. The ledger check
calls the ledger's own verifier (hash chain, checkpoints, rows against their entries)
with the hub key ``tongyuan ledger verify`` uses by default, the public key in the hub's
trust directory: without it a ledger whose checkpoints were deleted, or re-signed with
another key, would pass here while ``ledger verify`` calls it altered.
Both are recorded in the same history as the GX expectations. Their findings belong to
files and batches, not to a region or a department, so besides the total each rule gets
one group row with no region, level or department: the report's splits show it under
未标明, and every split adds up to the overall scorecard as the auditors' guide says.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, text

from standards.validation.rules import RULES
from tongyuan.config import Settings
from tongyuan.materials.stored import MISSING, check_stored_file
from tongyuan.quality.history import ResultRow

log = logging.getLogger(__name__)

SUITE = "integrity"


@dataclass(frozen=True, slots=True)
class BlobState:
    missing: bool
    matches: bool
    detail: str = ""


def blob_state(settings: Settings, sha256: str) -> BlobState:
    """Whether the stored file for a content address exists and still has that content.

    A symbolic link or anything else that is not a regular file in the store does not
    match, whatever it leads to (see :mod:`tongyuan.materials.stored`): the store only
    ever writes regular files, and a link to the same bytes outside it is no kept copy.
    """
    state = check_stored_file(settings, sha256)
    return BlobState(missing=state.problem == MISSING, matches=state.ok, detail=state.detail)


def _materials(engine: Engine) -> Iterator[tuple[str, str]]:
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=2000).execute(
            text("SELECT material_id, sha256 FROM materials ORDER BY sha256, material_id")
        )
        for row in result:
            yield str(row[0]), str(row[1])


def _row(
    rule: str, kind: str, evaluated: int, failed: list[str], grain: str = "total"
) -> ResultRow:
    spec = RULES[rule]
    return ResultRow(
        SUITE,
        rule,
        spec.title,
        kind,
        spec.source,
        grain,
        evaluated,
        len(failed),
        failing_keys=failed[:1000],
    )


def _with_unspecified_group(rows: list[ResultRow]) -> list[ResultRow]:
    """Each total row followed by the same counts as a group with no region, level or
    department (未标明), so the splits by region, level and department add up."""
    out: list[ResultRow] = []
    for total in rows:
        group = _row(total.rule, total.kind, total.evaluated, total.failing_keys, "group")
        group.failed = total.failed
        out += [total, group]
    return out


def check_material_files(settings: Settings, engine: Engine) -> list[ResultRow]:
    """``material.file.missing`` and ``material.file.sha256`` over every material."""
    evaluated = 0
    missing: list[str] = []
    altered: list[str] = []
    missing_count = altered_count = 0
    current: str | None = None
    state = BlobState(missing=False, matches=True)
    for material_id, sha256 in _materials(engine):
        evaluated += 1
        if sha256 != current:
            current, state = sha256, blob_state(settings, sha256)
            if not state.missing and not state.matches:
                # The digest and what was found, never the material number (it may hold
                # the holder's ID): operators see why, e.g. that a blob is a link.
                log.warning("integrity: %s", state.detail)
        if state.missing:
            missing_count += 1
            if len(missing) < 1000:
                missing.append(material_id)
        elif not state.matches:
            altered_count += 1
            if len(altered) < 1000:
                altered.append(material_id)
    rows = [
        _row("material.file.missing", "material", evaluated, missing),
        _row("material.file.sha256", "material", evaluated, altered),
    ]
    rows[0].failed, rows[1].failed = missing_count, altered_count
    return _with_unspecified_group(rows)


def ledger_subject(problem: object) -> str:
    """What one ledger problem is about: a library row, else a ledger entry, else a batch."""
    table, key = getattr(problem, "table", None), getattr(problem, "key", None)
    if table is not None and key is not None:
        return f"{table} {key}"
    seq = getattr(problem, "seq", None)
    if seq is not None:
        return f"entry {seq}"
    return f"batch {getattr(problem, 'batch_id', None) or getattr(problem, 'code', '?')}"


def hub_public_keys(settings: Settings) -> tuple[list[str] | None, str | None]:
    """The PEM keys checkpoints must be signed with, as ``tongyuan ledger verify`` takes
    them by default (the hub's exported public key, when there is one), and why the key
    file is unusable, if it is. No key file means no pinning, as there."""
    from tongyuan.ledger.hubkey import public_key_id, public_key_path

    path = public_key_path(settings)
    try:
        pem = path.read_bytes().decode("ascii")
        public_key_id(pem)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"the hub key {path} cannot be read: {exc.strerror or exc}"
    except (ValueError, UnicodeError):
        return None, f"the hub key {path} is not a PEM public key"
    return [pem], None


def check_ledger(engine: Engine, settings: Settings | None = None) -> list[ResultRow]:
    """``ledger.chain``: entries and rows verified; a failure is one row or entry with a problem.

    Several problems about one subject (a row altered, and so its batch's records) count
    once, so the figure reads as "how many things were changed behind the ledger's back".
    With ``settings`` the checkpoints are pinned to the hub key as ``ledger verify`` pins
    them; an unusable key file fails the rule (subject ``hub key``) rather than letting the
    chain pass unpinned. Only the rule-table generator, which runs over an empty
    database, calls it without.
    """
    from tongyuan.ledger import verify_ledger

    trusted: list[str] | None = None
    key_problem: str | None = None
    if settings is not None:
        trusted, key_problem = hub_public_keys(settings)
    verification = verify_ledger(engine, trusted_keys=trusted)
    bad = sorted({ledger_subject(p) for p in verification.problems})
    if verification.problem_count and not bad:
        bad = ["ledger"]
    if key_problem is not None:
        log.warning("integrity: %s; checkpoints not checked against it", key_problem)
        bad.append("hub key")
    evaluated = verification.entries + verification.rows
    row = _row("ledger.chain", "ledger", evaluated, bad)
    if verification.problem_count > len(verification.problems):
        # The verifier keeps a bounded list; never report fewer failures than it counted.
        row.failed = max(len(bad), verification.problem_count + (key_problem is not None))
    return _with_unspecified_group([row])
