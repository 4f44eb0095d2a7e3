"""The hub's own signing key for ledger entries and checkpoints.

Ed25519 through ``cryptography``, behind two small functions (:func:`sign_statement`,
:func:`verify_statement`) so that the hub can move to the shared ``signing.detached``
envelope (and SM2) without touching the ledger. The private key lives under the hub's
secrets directory (owner-only, 0600), created on first use; the public key is exported
next to it in the trust directory for auditors, and stored with every checkpoint.
Every ledger entry is signed with it too (:func:`signing_key` keeps it loaded between
batches, so a batch costs one signature and one ``stat``, not a key file read).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tongyuan.config import Settings

ALGORITHM = "ed25519"
_PRIVATE_NAME = "ledger-hub-key.pem"
_PUBLIC_NAME = "ledger-hub-public-key.pem"


class HubKeyError(ValueError):
    """The hub key file is missing, unreadable or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class HubKey:
    private: Ed25519PrivateKey
    public_pem: str

    @property
    def key_id(self) -> str:
        return public_key_id(self.public_pem)


def private_key_path(settings: Settings) -> Path:
    return settings.secrets_dir / _PRIVATE_NAME


def public_key_path(settings: Settings) -> Path:
    """Where auditors find the hub's public key (the hub's trust directory)."""
    return settings.home / "trust" / _PUBLIC_NAME


def public_key_id(public_pem: str) -> str:
    """sha256 of the key's DER SubjectPublicKeyInfo: names a key without showing it."""
    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _public_pem(private: Ed25519PrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def _create(path: Path) -> None:
    """Write a new key through a private temp file linked into place: two processes
    starting at once end up with one key, never with two."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise HubKeyError(f"cannot read the hub ledger key {path}: {exc}") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise HubKeyError(f"{path} is not an Ed25519 private key")
    return private


def key_id_at(path: Path) -> str:
    """The key_id of the existing key file at ``path``, read only: nothing is created or
    exported. ``db upgrade`` asks it under homes that may not be the hub's (a copied
    home, an old CI run's) before signing with the key there."""
    return public_key_id(_public_pem(_read_private(path)))


def load_hub_key(settings: Settings) -> HubKey:
    """The hub key, created on first use; its public half is (re)exported every time."""
    path = private_key_path(settings)
    if not path.exists():
        _create(path)
    private = _read_private(path)
    public_pem = _public_pem(private)
    exported = public_key_path(settings)
    if not exported.exists() or exported.read_text(encoding="ascii") != public_pem:
        exported.parent.mkdir(parents=True, exist_ok=True)
        exported.write_text(public_pem, encoding="ascii")
    return HubKey(private, public_pem)


# private key path -> (inode, mtime, size) of the file when read, and the key read
_LOADED: dict[Path, tuple[tuple[int, int, int], HubKey]] = {}


def signing_key(settings: Settings) -> HubKey:
    """The hub key for signing each ledger entry: :func:`load_hub_key`, read again only
    when the key file changes (a key moved away for rotation is replaced at once)."""
    path = private_key_path(settings)
    try:
        stat = path.stat()
    except FileNotFoundError:
        _LOADED.pop(path, None)
        return load_hub_key(settings)
    version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _LOADED.get(path)
    if cached is not None and cached[0] == version and public_key_path(settings).exists():
        return cached[1]
    key = load_hub_key(settings)
    _LOADED[path] = (version, key)
    return key


def statement_verifier(public_pem: str) -> Callable[[bytes, str], bool] | None:
    """A checker of base64 signatures by ``public_pem`` (parsed once, for checking many
    entries); None when the text is not an Ed25519 public key."""
    try:
        key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(key, Ed25519PublicKey):
        return None

    def check(statement: bytes, signature_b64: str) -> bool:
        try:
            signature = base64.b64decode(signature_b64.encode("ascii"), validate=True)
            key.verify(signature, statement)
        except (ValueError, UnicodeError, InvalidSignature):
            return False
        return True

    return check


def sign_statement(key: HubKey, statement: bytes) -> str:
    """Detached signature over ``statement``, base64."""
    return base64.b64encode(key.private.sign(statement)).decode("ascii")


def verify_statement(public_pem: str, statement: bytes, signature_b64: str) -> bool:
    """True only for a valid Ed25519 signature by ``public_pem`` over ``statement``."""
    try:
        key = serialization.load_pem_public_key(public_pem.encode("ascii"))
        signature = base64.b64decode(signature_b64.encode("ascii"), validate=True)
    except (ValueError, UnicodeError):
        return False
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(signature, statement)
    except InvalidSignature:
        return False
    return True
