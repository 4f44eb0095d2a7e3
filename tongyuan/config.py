"""Settings of one hub installation, read from the environment.

Everything the hub writes lives under one data directory (``TONGYUAN_HOME``) so that a
backup, a move or a test is a matter of one path. The PII key is the one secret: it comes
from ``TONGYUAN_PII_KEY`` when an operator manages keys centrally, or from a key file that
is created once, with owner-only permissions, the first time it is needed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV_HOME = "TONGYUAN_HOME"
ENV_DATABASE_URL = "TONGYUAN_DATABASE_URL"
ENV_PII_KEY = "TONGYUAN_PII_KEY"

PII_KEY_BYTES = 32
_KEY_FILE_NAME = "pii.key"


class ConfigError(ValueError):
    """The environment holds a value the hub cannot use; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings. Paths are absolute so that a later ``chdir`` changes nothing."""

    home: Path
    database_url: str
    # The key is never part of repr(): settings get logged, keys must not.
    pii_key_b64: str | None = field(default=None, repr=False)
    # False for commands that only read a hub: a key made there would not be the key the
    # hub's data was encrypted and hashed with, and would then be used by the next writer.
    create_pii_key: bool = True

    @property
    def blobs_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def pii_key_file(self) -> Path:
        return self.secrets_dir / _KEY_FILE_NAME

    def ensure_dirs(self) -> None:
        """Create the data directories; the secrets directory is owner-only."""
        for path in (
            self.home,
            self.blobs_dir,
            self.logs_dir,
            self.reports_dir,
            self.exports_dir,
            self.airflow_home,
            self.staging_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def pii_key(self) -> bytes:
        """The 32-byte master key for personal data.

        An environment key wins; otherwise the key file is read, or created on first use
        (unless ``create_pii_key`` is False: then a missing key file is a ConfigError).
        None is created where the libraries already hold personal data: a new key cannot
        decrypt them (a fresh ``TONGYUAN_HOME`` pointed at an existing PostgreSQL hub
        made one, then refused it on every later run). Creation goes through a private
        temporary file that is hard-linked into place, so two processes starting at once
        end up with the same key, never with two.
        """
        if self.pii_key_b64 is not None:
            key = decode_pii_key(self.pii_key_b64, source=ENV_PII_KEY)
        else:
            path = self.pii_key_file
            if not path.exists():
                if not self.create_pii_key:
                    raise ConfigError(
                        f"no PII key at {path} (a read-only command never creates one); "
                        f"set {ENV_PII_KEY} or check {ENV_HOME}"
                    )
                try:
                    refuse_new_key_on_written_libraries(self)
                except ConfigError:
                    # Another process may have made the key and written data with it
                    # between our look and the query: that key is the one to read.
                    if not path.exists():
                        raise
                else:
                    _create_key_file(path)
            key = decode_pii_key(path.read_text(encoding="ascii"), source=str(path))
        check_key_fits_libraries(self, key)
        return key


# (database URL, key digest) pairs already found to fit: the check runs once per process.
_FITTING_KEYS: set[tuple[str, str]] = set()

# One stored ciphertext of each library that holds them; a first row, never a scan.
_STORED_TOKENS_SQL = (
    "SELECT (SELECT applicant_id_enc FROM cases LIMIT 1), "
    "(SELECT holder_id_enc FROM materials LIMIT 1), "
    "(SELECT holder_id_enc FROM licenses LIMIT 1), "
    "(SELECT payload_enc FROM quarantine LIMIT 1)"
)
_TOKEN_PLACES = ("a case's applicant ID", "a material's holder ID", "a license's holder ID",
                 "a quarantined record")  # fmt: skip


def check_key_fits_libraries(settings: Settings, key: bytes) -> None:
    """Refuse a PII key that does not decrypt what the libraries already hold.

    A second key is otherwise taken silently — ``TONGYUAN_PII_KEY`` set to a newly made
    key on a hub whose rows were written under its key file, or a worker without the
    variable that makes itself a key file on shared storage — and splits the libraries:
    new rows are encrypted and hashed under it, lookups find each half only under its
    own key, and replaying older quarantine entries fails. One stored token of each
    library is decrypted (a first row each, one query, once per process and database);
    an empty or not yet migrated database has nothing to compare and passes.
    """
    from tongyuan.privacy import PiiError, PiiProtector

    fingerprint = hashlib.sha256(key).hexdigest()
    if (settings.database_url, fingerprint) in _FITTING_KEYS:
        return
    tokens = _stored_tokens(settings.database_url)
    protector = PiiProtector(key)
    for place, token in zip(_TOKEN_PLACES, tokens, strict=True):
        if not token:
            continue
        try:
            protector.decrypt(token)
        except PiiError:
            raise ConfigError(_key_mismatch(settings, place)) from None
    if any(tokens):
        # Remembered only once something was compared: a process that began on an empty
        # hub checks again later, after another worker may have written under its key.
        _FITTING_KEYS.add((settings.database_url, fingerprint))


def refuse_new_key_on_written_libraries(settings: Settings) -> None:
    """ConfigError if the libraries already hold personal data: a key file made now
    would not be the key they were written under (see :meth:`Settings.pii_key`)."""
    tokens = _stored_tokens(settings.database_url)
    for place, token in zip(_TOKEN_PLACES, tokens, strict=True):
        if token:
            raise ConfigError(_no_key_for_written_libraries(settings, place))


def _no_key_for_written_libraries(settings: Settings, place: str) -> str:
    from adapters.sdk.db_url import safe_url_text

    return (
        f"there is no PII key file at {settings.pii_key_file} and {ENV_PII_KEY} is not set, "
        f"but the libraries at {safe_url_text(settings.database_url)} already hold personal "
        f"data ({place}) written under a key: a new key file would not decrypt them, so "
        f"none was made. Set {ENV_PII_KEY} here to that key (or restore its key file, or "
        f"point {ENV_HOME} at the hub's home); every machine and worker writing to these "
        "libraries needs the same key, or the libraries split in two"
    )


def _key_mismatch(settings: Settings, place: str) -> str:
    from adapters.sdk.db_url import safe_url_text

    where = safe_url_text(settings.database_url)
    if settings.pii_key_b64 is not None:
        return (
            f"{ENV_PII_KEY} does not decrypt the personal data already in the libraries at "
            f"{where} ({place}): they were written under another key. Set {ENV_PII_KEY} to "
            f"the content of the key file they were written with ({settings.pii_key_file} "
            f"unless they were written under {ENV_PII_KEY} elsewhere), or unset it to use "
            "that file; every machine and worker writing to these libraries needs the same "
            "key, or the libraries split in two"
        )
    return (
        f"the PII key file {settings.pii_key_file} does not decrypt the personal data already "
        f"in the libraries at {where} ({place}): they were written under another key — "
        f"{ENV_PII_KEY} on another machine or worker, or another hub's key file. Set "
        f"{ENV_PII_KEY} here to that key (or restore its key file); every machine and worker "
        "writing to these libraries needs the same key, or the libraries split in two"
    )


def _stored_tokens(database_url: str) -> tuple[str | None, ...]:
    """The first stored ciphertext of each library, or nothing where there is no database,
    no schema yet, or no connection (the command then fails on its own terms)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from tongyuan.db.engine import DatabaseEncodingError, is_sqlite, make_engine

    none: tuple[str | None, ...] = (None,) * len(_TOKEN_PLACES)
    if is_sqlite(database_url):
        database = make_url(database_url).database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return none  # a private database of this process: nothing written before it
        path = Path(database).expanduser()
        if not path.is_file():
            return none
        # Read-only, not through an engine: an engine would set WAL mode and so write.
        try:
            uri = path.resolve().as_uri() + "?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
                return tuple(connection.execute(_STORED_TOKENS_SQL).fetchone())
        except sqlite3.Error:
            return none
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return tuple(connection.execute(text(_STORED_TOKENS_SQL)).one())
    except (SQLAlchemyError, DatabaseEncodingError):
        return none
    finally:
        engine.dispose()


def decode_pii_key(text: str, *, source: str) -> bytes:
    """Decode a base64 key and insist on 32 bytes; the error never echoes the key."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source}: PII key is not valid base64") from None
    if len(key) != PII_KEY_BYTES:
        raise ConfigError(f"{source}: PII key must be {PII_KEY_BYTES} bytes, got {len(key)}")
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    encoded = base64.b64encode(secrets.token_bytes(PII_KEY_BYTES)) + b"\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded)
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails if the name exists: whoever links first defines the key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_database_url(url: str) -> None:
    """Refuse, naming the variable and never quoting the URL, a library database URL that
    cannot be read safely: a password with an unescaped ``@ : /`` is otherwise split into
    the host, port or database name and printed, logged and stored with every error
    about it (:mod:`adapters.sdk.db_url`)."""
    from adapters.sdk.db_url import DatabaseUrlError, parse_database_url

    try:
        parse_database_url(url, setting=ENV_DATABASE_URL)
    except DatabaseUrlError as exc:
        raise ConfigError(str(exc)) from None


def load_settings(environ: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Settings:
    """Build settings from the environment (``os.environ`` unless given)."""
    env = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else cwd
    raw_home = env.get(ENV_HOME, "").strip()
    home = Path(raw_home).expanduser() if raw_home else Path("var")
    if not home.is_absolute():
        home = base / home
    home = home.resolve()
    database_url = env.get(ENV_DATABASE_URL, "").strip() or f"sqlite:///{home / 'tongyuan.db'}"
    check_database_url(database_url)
    key = env.get(ENV_PII_KEY, "").strip() or None
    if key is not None:
        decode_pii_key(key, source=ENV_PII_KEY)  # fail at start-up, not at first use
    return Settings(home=home, database_url=database_url, pii_key_b64=key)
