"""The ``sftp`` source: a drop folder on a department's SFTP server (paramiko).

The rules of a drop folder (complete files only, manifests, staging, acknowledgement
after the hub committed, state) are in :mod:`adapters.builtin.drop`; this module is the
network side:

* **Host keys are verified, never learnt.** The server's key must be in the
  ``known_hosts`` file the configuration names (``[host]:port`` entries for ports other
  than 22); an unknown host or a different key is refused (paramiko ``RejectPolicy``),
  and the message says so. Neither the user's ``~/.ssh/known_hosts`` nor an agent nor
  default key files are consulted: what authenticates the hub is in its configuration.
* **Authentication** by a private key file (with an optional passphrase) or a password,
  both secrets given as references (``env:NAME`` / ``airflow:CONN_ID``).
* **Downloads resume.** A file is downloaded into ``NAME.part`` in the staging folder
  beside a note of the remote file's size and modification time. When the connection
  drops the source reconnects (``retries``, exponential ``retry_backoff``) and continues
  from the ``.part`` size with a ranged read, after checking the start of the remote file
  still matches what was downloaded; a ``.part`` left by a failed run is resumed the same
  way by the next. Only a complete copy whose size (and, with a manifest, sha256) matches
  is parsed.
* **Changed while read.** The remote file's size and modification time are compared
  before and after the download (SFTP gives whole seconds); a difference discards the copy
  and leaves the file for the next run with a warning. A manifest sha256 also catches a
  same-size rewrite within one second.

Configuration::

    host: sftp.market.example.gov.cn
    port: 22
    username: tongyuan
    remote_dir: /exports/cases
    known_hosts: known_hosts          # relative paths: to the configuration file
    private_key: id_ed25519           # or password: env:MARKET_SFTP_PASSWORD
    streams:
      cases: {patterns: ["*.xml"], kind: case}
"""

from __future__ import annotations

import json
import logging
import posixpath
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote, urlsplit

import paramiko
from paramiko import sftp as sftp_protocol
from pydantic import Field, model_validator

from adapters.builtin.drop import (
    DropConfig,
    DropFolder,
    DropHarness,
    DropSource,
    Entry,
    FileChanged,
    free_done_name,
    part_meta,
)
from adapters.conformance.scratch import MARK, MARK_TEXT, check_claim
from adapters.sdk import AdapterError, ConnectionCheckError
from adapters.sdk.config import SecretRef

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_HEAD_CHECK = 1 << 16
_PREFETCH_REQUESTS = 1024  # ≤ 32 MiB in flight; fewer throttles paramiko to ~10 MB/s
# What a dropped connection looks like from paramiko (a live transport means a real error).
_DROPPED = (EOFError, OSError, paramiko.SSHException)

T = TypeVar("T")


class _TransferCut(Exception):
    """A download ended early on an unchanged file: reconnect and resume."""


class SftpConfig(DropConfig):
    """A drop folder on an SFTP server."""

    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1)
    remote_dir: str = Field(min_length=1)
    known_hosts: str = Field(min_length=1)
    private_key: str | None = None
    private_key_passphrase: SecretRef | None = None
    password: SecretRef | None = None
    connect_timeout: float = Field(default=15.0, gt=0, le=600)
    io_timeout: float = Field(default=60.0, gt=0, le=3600)
    retries: int = Field(default=3, ge=0, le=20)
    retry_backoff: float = Field(default=1.0, ge=0, le=300)

    @model_validator(mode="after")
    def _some_credential(self) -> SftpConfig:
        if self.private_key is None and self.password is None:
            raise ValueError("give private_key (a key file) or password (env:… / airflow:…)")
        if "\x00" in self.remote_dir:
            raise ValueError("remote_dir contains a NUL character")
        return self


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


class RemoteFolder(DropFolder):
    """The drop folder on the server, reached through one SSH connection at a time."""

    def __init__(self, source: SftpSource) -> None:
        self.source = source
        self.config: SftpConfig = source.config  # type: ignore[assignment]
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self.dir = ""
        self._connect()

    # -- connection -------------------------------------------------------------------

    def _secret(self, ref: str | None) -> str | None:
        if ref is None:
            return None
        value = self.source.resolve_secret(ref).get_secret_value()
        if ref.startswith("airflow:") and "://" in value:
            # An Airflow Connection resolves to its URI; the password is the part we need.
            password = urlsplit(value).password
            return unquote(password) if password is not None else None
        return value

    def _connect(self) -> None:
        config = self.config
        known = self.source.path_of(config.known_hosts)
        where = f"{config.host}:{config.port}"
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(str(known))
        except (OSError, paramiko.SSHException) as exc:
            raise ConnectionCheckError(f"cannot read known_hosts file {known}: {exc}") from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        key_file = str(self.source.path_of(config.private_key)) if config.private_key else None
        try:
            password = self._secret(config.password)
            passphrase = self._secret(config.private_key_passphrase)
        except AdapterError as exc:
            raise ConnectionCheckError(f"cannot log in to {where}: {exc}") from None
        try:
            client.connect(
                config.host,
                port=config.port,
                username=config.username,
                password=password,
                key_filename=key_file,
                passphrase=passphrase,
                timeout=config.connect_timeout,
                banner_timeout=config.connect_timeout,
                auth_timeout=config.connect_timeout,
                channel_timeout=config.connect_timeout,
                allow_agent=False,
                look_for_keys=False,
            )
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(config.io_timeout)  # type: ignore[union-attr]
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise ConnectionCheckError(
                f"the host key of {where} does not match the key pinned in {known}: the server "
                f"offered {_fingerprint(exc.key)}, known_hosts has "
                f"{_fingerprint(exc.expected_key)}. Refused. If the server's key was really "
                "replaced, confirm the new fingerprint with its administrators before "
                "updating known_hosts."
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            raise ConnectionCheckError(
                f"authentication as {config.username!r} on {where} failed: {exc}"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise ConnectionCheckError(
                    f"host {where} is not in known_hosts file {known}: refused (host keys are "
                    "never accepted automatically). Add the server's key after confirming its "
                    "fingerprint with its administrators."
                ) from None
            raise ConnectionCheckError(f"SSH connection to {where} failed: {exc}") from None
        except (OSError, EOFError) as exc:
            client.close()
            raise ConnectionCheckError(f"cannot connect to {where}: {exc}") from None
        try:
            self.dir = sftp.normalize(config.remote_dir)
            mode = sftp.stat(self.dir).st_mode
        except OSError as exc:
            client.close()
            raise ConnectionCheckError(
                f"remote folder {config.remote_dir!r} on {where} cannot be opened: {exc}"
            ) from None
        if mode is None or not stat.S_ISDIR(mode):
            client.close()
            raise ConnectionCheckError(f"{config.remote_dir!r} on {where} is not a folder")
        self._client, self._sftp = client, sftp

    def _alive(self) -> bool:
        """Whether the connection still works (a failure on it is then a real error)."""
        if self._client is None or self._sftp is None:
            return False
        transport = self._client.get_transport()
        channel = self._sftp.get_channel()
        return (
            transport is not None
            and transport.is_active()
            and channel is not None
            and not channel.closed
            and not channel.eof_received
        )

    def _lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the connection is gone (reconnect and go on) rather than
        the operation failed on a working connection (raise it).

        EOF, SSH-level errors and socket resets are the connection's by their nature, even
        while the transport still looks alive: a write can fail on the dead socket before
        paramiko's reader thread has noticed the close. An SFTP status error (an OSError
        such as FileNotFoundError) is the connection's only when it no longer works.
        """
        if isinstance(exc, EOFError | paramiko.SSHException | ConnectionError):
            return True
        return not self._alive()

    def reconnect(self) -> None:
        self.close()
        self._connect()

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._connect()
        assert self._sftp is not None
        return self._sftp

    def _retrying(self, what: str, action: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run ``action``, reconnecting when the connection (not the operation) failed."""
        attempt = 0
        while True:
            try:
                return action(self.sftp)
            except _DROPPED as exc:
                if not self._lost(exc):
                    raise
                attempt += 1
                if attempt > self.config.retries:
                    raise AdapterError(
                        f"connection to {self.config.host}:{self.config.port} lost while "
                        f"{what} ({attempt} attempts): {exc or type(exc).__name__}"
                    ) from None
                self._back_off(attempt, what, exc)

    def _back_off(self, attempt: int, what: str, exc: BaseException) -> None:
        delay = self.config.retry_backoff * 2 ** (attempt - 1)
        log.warning(
            "connection to %s:%d dropped while %s (%s); reconnecting in %.1fs (retry %d of %d)",
            self.config.host, self.config.port, what, exc or type(exc).__name__, delay,
            attempt, self.config.retries,
        )  # fmt: skip
        self.close()
        time.sleep(delay)
        try:
            self._connect()
        except ConnectionCheckError as again:
            log.warning("reconnecting failed: %s", again)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    # -- DropFolder -------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return posixpath.join(self.dir, name)

    def location(self, name: str) -> str:
        return f"sftp://{self.config.host}:{self.config.port}{self._path(name)}"

    @staticmethod
    def _entry(name: Any, attrs: paramiko.SFTPAttributes) -> Entry:
        if isinstance(name, bytes):
            # Not UTF-8 (a GBK name): the undecodable bytes become surrogates, which the
            # drop rules refuse by name (shown as \xNN) while the other files go on.
            name = name.decode("utf-8", "surrogateescape")
        mode = attrs.st_mode or 0
        kind = (
            "file" if stat.S_ISREG(mode)
            else "dir" if stat.S_ISDIR(mode)
            else "symlink" if stat.S_ISLNK(mode)
            else "other"
        )  # fmt: skip
        return Entry(str(name), kind, int(attrs.st_size or 0), int(attrs.st_mtime or 0))  # type: ignore[arg-type]

    def list(self) -> list[Entry]:
        listing = self._retrying("listing the drop folder", lambda s: _listdir_raw(s, self.dir))
        return [self._entry(name, attrs) for name, attrs in listing]

    def stat(self, name: str) -> Entry | None:
        def lstat(sftp: paramiko.SFTPClient) -> Entry | None:
            try:
                return self._entry(name, sftp.lstat(self._path(name)))
            except FileNotFoundError:
                return None

        return self._retrying(f"checking {name}", lstat)

    def symlink_escapes(self, name: str) -> bool:
        try:
            target = self._retrying(f"resolving {name}", lambda s: s.normalize(self._path(name)))
        except OSError:
            return True  # dangling or unreadable: treat as leaving the folder
        return not target.startswith(self.dir.rstrip("/") + "/")

    def fetch(self, name: str, entry: Entry, part: Path) -> None:
        attempt = 0
        while True:
            try:
                self._fetch_once(name, entry, part)
                return
            except (_TransferCut, *_DROPPED) as exc:
                if not isinstance(exc, _TransferCut) and not self._lost(exc):
                    raise
                attempt += 1
                have = part.stat().st_size if part.exists() else 0
                if attempt > self.config.retries:
                    raise AdapterError(
                        f"connection lost while downloading ({attempt} attempts, {have} of "
                        f"{entry.size} bytes kept in staging; the next run resumes)"
                    ) from None
                self._back_off(attempt, f"downloading {name} ({have} of {entry.size} bytes)", exc)

    def _fetch_once(self, name: str, entry: Entry, part: Path) -> None:
        sftp = self.sftp
        meta = part_meta(part)
        ident = {"name": name, "size": entry.size, "mtime": entry.mtime}
        offset = 0
        if part.exists() and meta.exists():
            try:
                if json.loads(meta.read_text(encoding="utf-8")) == ident:
                    offset = part.stat().st_size
            except (OSError, ValueError):
                offset = 0
        if offset > entry.size:
            offset = 0
        with sftp.open(self._path(name), "rb") as remote:
            now = remote.stat()
            if (
                not stat.S_ISREG(now.st_mode or 0)
                or int(now.st_size or 0) != entry.size
                or int(now.st_mtime or 0) != entry.mtime
            ):
                raise FileChanged("it changed between listing and opening")
            if offset and not self._same_head(remote, part, offset):
                log.info("%s: staged part does not match the remote file; restarting", name)
                offset = 0
            if offset == 0:
                meta.write_text(json.dumps(ident), encoding="utf-8")
            elif offset < entry.size:
                log.info("%s: resuming download at byte %d of %d", name, offset, entry.size)
            remote.seek(offset)
            if entry.size > offset:
                remote.prefetch(entry.size, max_concurrent_requests=_PREFETCH_REQUESTS)
            with open(part, "r+b" if offset else "wb") as out:
                out.truncate(offset)
                out.seek(offset)
                size = offset
                while data := remote.read(_CHUNK):
                    size += len(data)
                    if size > entry.size:
                        raise FileChanged(f"more than the {entry.size} bytes listed arrived")
                    out.write(data)
        if size != entry.size:
            raise self._short_read(name, entry, size)

    def _short_read(self, name: str, entry: Entry, size: int) -> Exception:
        """Why fewer bytes arrived than listed: a cut transfer, or a file that shrank.

        paramiko may end a read quietly when the connection dies, before it notices the
        connection is gone, so the remote file is asked: unchanged means the transfer was
        cut (resume it), changed means it is being rewritten (leave it).
        """
        try:
            now = self.sftp.lstat(self._path(name))
        except _DROPPED:
            return _TransferCut(f"connection closed after {size} of {entry.size} bytes")
        if (int(now.st_size or 0), int(now.st_mtime or 0)) == (entry.size, entry.mtime):
            return _TransferCut(f"transfer ended after {size} of {entry.size} bytes")
        return FileChanged(f"{size} bytes arrived where {entry.size} were listed")

    @staticmethod
    def _same_head(remote: paramiko.SFTPFile, part: Path, offset: int) -> bool:
        length = min(offset, _HEAD_CHECK)
        with open(part, "rb") as fh:
            local = fh.read(length)
        remote.seek(0)
        got = b""
        while len(got) < length and (data := remote.read(length - len(got))):
            got += data
        return got == local

    def read_small(self, name: str, limit: int) -> bytes:
        def read(sftp: paramiko.SFTPClient) -> bytes:
            with sftp.open(self._path(name), "rb") as fh:
                st = fh.stat()
                if not stat.S_ISREG(st.st_mode or 0):
                    raise AdapterError(f"{self.location(name)} is not a regular file")
                if (st.st_size or 0) > limit:
                    raise AdapterError(f"{self.location(name)} is over {limit} bytes")
                return fh.read(limit + 1)

        return self._retrying(f"reading {name}", read)

    def move_to_done(self, name: str, done_dir: str) -> str:
        done = self._path(done_dir)

        def exists(sftp: paramiko.SFTPClient, path: str) -> bool:
            try:
                sftp.lstat(path)
                return True
            except FileNotFoundError:
                return False

        def move(sftp: paramiko.SFTPClient) -> str:
            try:
                mode = sftp.lstat(done).st_mode or 0
                if not stat.S_ISDIR(mode):
                    raise AdapterError(f"{self.location(done_dir)} exists and is not a folder")
            except FileNotFoundError:
                sftp.mkdir(done, 0o755)
            target = free_done_name(name, lambda n: exists(sftp, posixpath.join(done, n)))
            sftp.rename(self._path(name), posixpath.join(done, target))
            return f"{done_dir}/{target}"

        return self._retrying(f"moving {name} to {done_dir}/", move)

    def write_small(self, name: str, data: bytes) -> None:
        def write(sftp: paramiko.SFTPClient) -> None:
            tmp = self._path(f".{name}.tmp")
            with sftp.open(tmp, "wb") as fh:
                fh.write(data)
            sftp.posix_rename(tmp, self._path(name))

        self._retrying(f"writing {name}", write)


def _listdir_raw(
    sftp: paramiko.SFTPClient, path: str
) -> list[tuple[bytes, paramiko.SFTPAttributes]]:
    """``listdir_attr`` keeping each name as the server's bytes.

    paramiko decodes every name of a listing as UTF-8 and raises on the first that is
    not, so one file named in GBK would fail every read of the folder; the SFTP protocol
    (v3) carries names as bytes, so this reads them as bytes (paramiko's request layer,
    as ``listdir_attr`` itself does) and lets the drop rules judge each name on its own.
    """
    kind, msg = sftp._request(sftp_protocol.CMD_OPENDIR, path)
    if kind != sftp_protocol.CMD_HANDLE:
        raise paramiko.SFTPError("Expected handle")
    handle = msg.get_binary()
    found: list[tuple[bytes, paramiko.SFTPAttributes]] = []
    while True:
        try:
            kind, msg = sftp._request(sftp_protocol.CMD_READDIR, handle)
        except EOFError:
            break  # the end of the listing
        if kind != sftp_protocol.CMD_NAME:
            raise paramiko.SFTPError("Expected name response")
        for _ in range(msg.get_int()):
            name = msg.get_string()
            longname = msg.get_string().decode("utf-8", "replace")
            attrs = paramiko.SFTPAttributes._from_msg(msg, None, longname)
            if name not in (b".", b".."):
                found.append((name, attrs))
    sftp._request(sftp_protocol.CMD_CLOSE, handle)
    return found


class SftpSource(DropSource):
    """Reads complete files from a drop folder on an SFTP server; acknowledges by rename."""

    name: ClassVar[str] = "sftp"
    Config: ClassVar[type[SftpConfig]] = SftpConfig
    fetches_material_files: ClassVar[bool] = True

    @property
    def folder(self) -> Path:
        """The local folder material files are found in: a read downloads the files its
        materials reference there (``file`` relative to it, as in the remote folder)."""
        return self.material_files_path()[0]

    def path_of(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def describe(self) -> str:
        c: SftpConfig = self.config  # type: ignore[assignment]
        return f"sftp://{c.username}@{c.host}:{c.port}{c.remote_dir}"

    def staging_key(self) -> str:
        c: SftpConfig = self.config  # type: ignore[assignment]
        return f"{c.username}@{c.host}:{c.port}:{c.remote_dir}"

    def open_folder(self) -> RemoteFolder:
        return RemoteFolder(self)

    def check(self) -> None:
        self.open_folder().close()

    def conformance_harness(self) -> SftpHarness:
        name, spec = next(iter(self._streams.items()))
        return SftpHarness(self, name, spec.kind if spec.mapping is None else None)


class SftpHarness(DropHarness):
    """Uploads standard case files into the remote drop folder (the kit's system).

    Files are uploaded as ``.NAME.part`` and renamed when complete, the way a careful
    department does it, so the source never sees half a file.
    """

    def __init__(self, source: SftpSource, stream: str, kind: str | None) -> None:
        super().__init__(stream, kind)
        self.source = source
        self._folder: RemoteFolder | None = None

    @property
    def folder(self) -> RemoteFolder:
        if self._folder is None:
            folder = self.source.open_folder()
            try:
                self._claim(folder)
            except BaseException:
                folder.close()
                raise
            self._folder = folder
        return self._folder

    @staticmethod
    def _claim(folder: RemoteFolder) -> None:
        """Mark an empty remote folder as the kit's; refuse one holding anything else."""
        where = f"sftp:{folder.dir}"
        if check_claim(where, folder.sftp.listdir(folder.dir)):
            with folder.sftp.open(posixpath.join(folder.dir, MARK), "wb") as out:
                out.write(MARK_TEXT.encode("utf-8"))

    def _put(self, name: str, chunks: Iterator[str], mtime: int) -> None:
        sftp = self.folder.sftp
        tmp = posixpath.join(self.folder.dir, f".{name}.part")
        with sftp.open(tmp, "wb") as out:
            out.set_pipelined(True)
            for chunk in chunks:
                out.write(chunk.encode("utf-8"))
        sftp.utime(tmp, (mtime, mtime))
        sftp.rename(tmp, posixpath.join(self.folder.dir, name))

    def _clear(self) -> None:
        folder = self.folder
        check_claim(f"sftp:{folder.dir}", folder.sftp.listdir(folder.dir))
        self._remove_tree(folder.sftp, folder.dir, keep=True)

    def _remove_tree(self, sftp: paramiko.SFTPClient, path: str, *, keep: bool) -> None:
        for attrs in sftp.listdir_attr(path):
            if keep and attrs.filename == MARK:
                continue
            child = posixpath.join(path, attrs.filename)
            if stat.S_ISDIR(attrs.st_mode or 0):
                self._remove_tree(sftp, child, keep=False)
            else:
                sftp.remove(child)
        if not keep:
            sftp.rmdir(path)

    def close(self) -> None:
        if self._folder is not None:
            self._folder.close()
            self._folder = None


__all__ = ["RemoteFolder", "SftpConfig", "SftpHarness", "SftpSource"]
