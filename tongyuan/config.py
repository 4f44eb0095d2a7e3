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
import os
import secrets
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
        Creation goes through a private temporary file that is hard-linked into place, so
        two processes starting at once end up with the same key, never with two.
        """
        if self.pii_key_b64 is not None:
            return decode_pii_key(self.pii_key_b64, source=ENV_PII_KEY)
        path = self.pii_key_file
        if not path.exists():
            if not self.create_pii_key:
                raise ConfigError(
                    f"no PII key at {path} (a read-only command never creates one); "
                    f"set {ENV_PII_KEY} or check {ENV_HOME}"
                )
            _create_key_file(path)
        return decode_pii_key(path.read_text(encoding="ascii"), source=str(path))


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
    key = env.get(ENV_PII_KEY, "").strip() or None
    if key is not None:
        decode_pii_key(key, source=ENV_PII_KEY)  # fail at start-up, not at first use
    return Settings(home=home, database_url=database_url, pii_key_b64=key)
