"""A throwaway OpenSSH server on 127.0.0.1 for the SFTP adapter tests.

Started once per session (per xdist worker) in a temporary directory, on a free port,
with its own ed25519 host key, a generated client key as the only authorised key, and
the in-process ``internal-sftp`` subsystem. Nothing of the machine's own sshd
configuration is read. sshd refuses to start unless ``/run/sshd`` (its privilege
separation directory) exists, so it is created when missing; as root it runs as root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")


def in_ci() -> bool:
    """Under CI a missing sshd fails the tests instead of skipping them."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


class SshdUnavailable(RuntimeError):
    """No sshd to test against: binary missing, not root, or it would not start."""


def start_for_tests() -> SshServer:
    """A started sshd, or the test skipped — failed under CI, where a missing service
    must not pass unnoticed."""
    import pytest

    try:
        return SshServer.start()
    except SshdUnavailable as exc:
        if in_ci():
            pytest.fail(f"sshd is required in CI: {exc}")
        pytest.skip(f"sshd unavailable: {exc}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path) -> None:
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        raise SshdUnavailable("ssh-keygen not found on PATH")
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-C", "tongyuan-test", "-f", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@dataclass
class SshServer:
    """A running sshd: where it listens, the keys a client needs, and the folder it serves."""

    port: int
    root: Path
    host_key: Path
    client_key: Path
    known_hosts: Path
    process: subprocess.Popen[bytes]
    user: str = "root"
    host: str = "127.0.0.1"

    @classmethod
    def start(cls) -> SshServer:
        if not os.path.exists(SSHD):
            raise SshdUnavailable(f"{SSHD} is not installed")
        if os.geteuid() != 0:
            raise SshdUnavailable("sshd must run as root to accept logins for the test user")
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="tysshd-"))
        try:
            return cls._start_in(root)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise

    @classmethod
    def _start_in(cls, root: Path) -> SshServer:
        host_key, client_key = root / "host_ed25519", root / "client_ed25519"
        _keygen(host_key)
        _keygen(client_key)
        authorized = root / "authorized_keys"
        authorized.write_bytes(client_key.with_suffix(".pub").read_bytes())
        last_error = ""
        for _attempt in range(3):  # a free port may be taken before sshd binds it
            port = _free_port()
            config = root / "sshd_config"
            config.write_text(
                "\n".join(
                    [
                        f"Port {port}",
                        "ListenAddress 127.0.0.1",
                        f"HostKey {host_key}",
                        f"PidFile {root / 'sshd.pid'}",
                        f"AuthorizedKeysFile {authorized}",
                        "UsePAM no",
                        "StrictModes no",
                        "PasswordAuthentication no",
                        "KbdInteractiveAuthentication no",
                        "PubkeyAuthentication yes",
                        "PermitRootLogin prohibit-password",
                        "Subsystem sftp internal-sftp",
                        "LogLevel ERROR",
                        "MaxStartups 50",
                        "",
                    ]
                ),
                encoding="utf-8",
            )
            log = root / "sshd.log"
            process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config), "-E", str(log)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and process.poll() is None:
                if _listening(port):
                    known = root / "known_hosts"
                    public = host_key.with_suffix(".pub").read_text(encoding="utf-8").split()
                    known.write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
                    return cls(port, root, host_key, client_key, known, process)
                time.sleep(0.05)
            if process.poll() is None:
                process.kill()
            process.wait(timeout=5)
            last_error = log.read_text(errors="replace") if log.exists() else ""
        raise SshdUnavailable(f"sshd did not start: {last_error.strip() or 'no log output'}")

    def make_dir(self, name: str) -> Path:
        """A fresh folder the server can serve (under the server's own temporary root)."""
        path = self.root / "data" / name
        path.mkdir(parents=True)
        return path

    def other_known_hosts(self) -> Path:
        """A known_hosts file pinning a *different* key for this server (the mismatch test)."""
        other = self.root / "other_host_ed25519"
        if not other.exists():
            _keygen(other)
        public = other.with_suffix(".pub").read_text(encoding="utf-8").split()
        path = self.root / "known_hosts.other"
        path.write_text(f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n")
        return path

    def session_pids(self) -> list[int]:
        """Processes sshd started for client connections: every descendant of the listener.

        A session is a process holding the TCP connection and its ``internal-sftp`` child;
        both go, so no survivor can keep the connection half alive.
        """
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces and parentheses: the ppid follows the last ')'.
            parents[int(entry.name)] = int(stat[stat.rfind(")") + 2 :].split()[1])
        found: list[int] = []
        frontier = [self.process.pid]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent]
            found.extend(children)
            frontier.extend(children)
        return found

    def kill_sessions(self) -> int:
        """Drop every client connection the way a crash or a network cut would."""
        pids = self.session_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # it may have exited meanwhile
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def stop(self) -> None:
        self.kill_sessions()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)
