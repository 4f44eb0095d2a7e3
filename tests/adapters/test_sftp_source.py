"""The ``sftp`` source against a real OpenSSH sshd on 127.0.0.1 (tests/sshd.py).

Connection drops are real: the sshd process serving the session is killed mid-download.
Hostile listings (``../x``, absolute names) cannot be made on a real file system, so
those tests make the server's answer hostile by wrapping the source's raw listing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
from drop_listing import listing, tree
from sshd import SshServer
from std_factories import PERSON, make_case

from adapters.builtin import sftp as sftp_module
from adapters.builtin.sftp import SftpHarness, SftpSource
from adapters.sdk import AdapterError, ConfigError, ConnectionCheckError
from standards.formats import write_records
from standards.validation.record_checks import check_record


@pytest.fixture
def drop(sshd: SshServer) -> Path:
    return sshd.make_dir(f"drop-{uuid.uuid4().hex[:8]}")


Make = Callable[..., SftpSource]


@pytest.fixture
def make(sshd: SshServer, drop: Path, tmp_path: Path) -> Make:
    def build(**over: Any) -> SftpSource:
        config: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": sshd.port,
            "username": sshd.user,
            "remote_dir": str(drop),
            "known_hosts": str(sshd.known_hosts),
            "private_key": str(sshd.client_key),
            "streams": {"cases": {"kind": "case", "patterns": ["*.xml"]}},
            "settle_seconds": 0,
            "staging_dir": str(tmp_path / "staging"),
            "connect_timeout": 10,
            "io_timeout": 20,
            "retry_backoff": 0,
        }
        config.update(over)
        return SftpSource.from_config(config, base_dir=tmp_path)

    return build


@pytest.fixture
def harness(make: Make) -> Iterator[SftpHarness]:
    result = make().conformance_harness()
    try:
        yield result
    finally:
        result.close()


def read_all(source: SftpSource, state: dict | None = None, *, commit: bool = True):
    read = source.read("cases", state)
    try:
        envelopes = list(read)
        new_state = json.loads(json.dumps(read.state()))
        if commit:
            read.commit()
    finally:
        read.close()
    return envelopes, new_state, read


def keys_of(envelopes) -> list[tuple]:
    return [e.record.key() for e in envelopes if e.record is not None]


# --------------------------------------------------------------------------- the basics


def test_full_read_of_standard_xml_files(make: Make, harness: SftpHarness, drop: Path) -> None:
    keys = harness.add(20) + harness.add(5)
    envelopes, state, _ = read_all(make(), commit=False)
    assert keys_of(envelopes) == keys
    assert all(e.ok and check_record(e.record) == [] for e in envelopes)
    first = listing(drop)[0]
    assert envelopes[0].location.file == f"sftp://127.0.0.1:{make().config.port}{drop}/{first}"
    assert (envelopes[0].location.record, envelopes[0].location.line) == (1, 3)
    sha = hashlib.sha256((drop / first).read_bytes()).hexdigest()
    assert state["delivered"][0] == {
        "name": first,
        "size": (drop / first).stat().st_size,
        "mtime": int((drop / first).stat().st_mtime),
        "sha256": sha,
    }


def test_acknowledged_only_in_commit_then_nothing_new(
    make: Make, harness: SftpHarness, drop: Path
) -> None:
    keys = harness.add(10)
    before = tree(drop)
    read = make().read("cases")
    assert keys_of(list(read)) == keys
    state = read.state()
    assert tree(drop) == before  # iterated and state taken: still not acknowledged
    read.commit()
    read.close()
    name = state["delivered"][0]["name"]
    assert tree(drop) == ["done", f"done/{name}"]
    envelopes, state2, _ = read_all(make(), state)
    assert envelopes == [] and state2 == {"delivered": []}
    new = harness.add(3)
    envelopes, _, _ = read_all(make(), state2)
    assert keys_of(envelopes) == new


def test_crash_before_the_ack_is_not_delivered_twice(
    make: Make, harness: SftpHarness, drop: Path
) -> None:
    harness.add(4)
    _, state, _ = read_all(make(), commit=False)
    envelopes, _, read = read_all(make(), state)
    assert envelopes == [] and read.acknowledged == [state["delivered"][0]["name"]]
    assert listing(drop) == ["done"]


def test_a_file_being_written_is_skipped(make: Make, harness: SftpHarness, drop: Path) -> None:
    keys = harness.add(2)
    write_records(drop / "next.xml", [make_case()])
    os.replace(drop / "next.xml", drop / "next.xml.part")
    source = make(streams={"cases": {"kind": "case", "patterns": ["*"]}})
    envelopes, state, read = read_all(source)
    assert keys_of(envelopes) == keys
    assert [(n.name, n.action) for n in read.notices] == [("'next.xml.part'", "deferred")]
    os.replace(drop / "next.xml.part", drop / "next.xml")
    envelopes, _, _ = read_all(source, state)
    assert [e.record.dept_case_no for e in envelopes] == [make_case().dept_case_no]


# --------------------------------------------------------------------------- host keys, auth


def test_host_key_mismatch_is_refused(make: Make, sshd: SshServer) -> None:
    source = make(known_hosts=str(sshd.other_known_hosts()))
    with pytest.raises(ConnectionCheckError, match=r"host key of 127\.0\.0\.1:\d+ does not match"):
        source.check()
    with pytest.raises(ConnectionCheckError, match="does not match"):
        list(source.read("cases"))
    assert "[127.0.0.1]" not in sshd.other_known_hosts().read_text().replace(
        f"[127.0.0.1]:{sshd.port}", ""
    )  # nothing was added to the file


def test_unknown_host_is_refused_not_learnt(make: Make, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(ConnectionCheckError, match=r"not in known_hosts .* never accepted"):
        make(known_hosts=str(empty)).check()
    assert empty.read_text() == ""


def test_wrong_client_key_fails_authentication(make: Make, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    with pytest.raises(ConnectionCheckError, match="authentication as 'root'"):
        make(private_key=str(other)).check()


def test_password_secret_is_a_reference_never_a_literal(make: Make) -> None:
    with pytest.raises(ConfigError, match="env:VARIABLE_NAME"):
        make(password="hunter2")
    with pytest.raises(ConfigError, match="private_key"):
        make(private_key=None)


def test_password_comes_from_the_referenced_secret(make: Make, monkeypatch) -> None:
    source = make(private_key=None, password="env:TY_TEST_SFTP_PASSWORD")
    with pytest.raises(ConnectionCheckError, match=r"TY_TEST_SFTP_PASSWORD .* is not set"):
        source.check()
    monkeypatch.setenv("TY_TEST_SFTP_PASSWORD", "wrong")  # the test server takes keys only
    with pytest.raises(ConnectionCheckError, match="authentication as 'root'"):
        source.check()


def test_check_names_a_missing_remote_folder(make: Make) -> None:
    with pytest.raises(ConnectionCheckError, match="cannot be opened"):
        make(remote_dir="/nonexistent/drop").check()


# --------------------------------------------------------------------------- dropped connections


# paramiko's prefetch thread dies with the connection it was reading from, and says so.
paramiko_thread_dies = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnhandledThreadExceptionWarning"
)


class _CutAfter:
    """Wraps SFTPFile.read: after ``after`` bytes of a data file, run ``action`` once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, after: int, action: Callable[[], None]):
        self.after, self.action, self.seen, self.fired = after, action, 0, False
        real = paramiko.SFTPFile.read
        cut = self

        def read(self: paramiko.SFTPFile, size: int | None = None) -> bytes:
            data = real(self, size)
            if not cut.fired and size and size >= 1 << 20:  # the download loop, not head checks
                cut.seen += len(data)
                if cut.seen >= cut.after:
                    cut.fired = True
                    cut.action()
            return data

        monkeypatch.setattr(paramiko.SFTPFile, "read", read)
        # Few requests in flight, so the cut lands mid-file and not after all has arrived.
        monkeypatch.setattr(sftp_module, "_PREFETCH_REQUESTS", 4)


@paramiko_thread_dies
def test_connection_dropped_mid_download_is_resumed_in_the_same_run(
    make: Make, harness: SftpHarness, sshd: SshServer, drop: Path, monkeypatch, caplog
) -> None:
    keys = harness.add(8_000)  # about 4 MB
    size = (drop / listing(drop)[0]).stat().st_size
    cut = _CutAfter(monkeypatch, 1 << 20, sshd.kill_sessions)
    with caplog.at_level(logging.INFO, logger="adapters.builtin"):
        envelopes, state, read = read_all(make())
    assert cut.fired
    assert "dropped while downloading" in caplog.text
    resumed = [int(m) for m in re.findall(r"resuming download at byte (\d+)", caplog.text)]
    assert resumed and 0 < resumed[0] < size
    assert read.notices == []
    assert keys_of(envelopes) == keys and all(e.ok for e in envelopes)
    done = drop / "done" / state["delivered"][0]["name"]
    assert state["delivered"][0]["sha256"] == hashlib.sha256(done.read_bytes()).hexdigest()


def _drop_seen_before_paramiko_notices() -> None:
    # What paramiko raises when a write to the dead socket fails before its reader thread
    # has seen the close: the transport still reports itself active at that moment.
    raise paramiko.SSHException("Server connection dropped: ")


@paramiko_thread_dies
def test_a_drop_raised_while_the_transport_still_looks_alive_is_resumed(
    make: Make, harness: SftpHarness, monkeypatch, caplog
) -> None:
    keys = harness.add(8_000)
    cut = _CutAfter(monkeypatch, 2 << 20, _drop_seen_before_paramiko_notices)
    with caplog.at_level(logging.INFO, logger="adapters.builtin"):
        envelopes, _, read = read_all(make())
    assert cut.fired
    assert "dropped while downloading" in caplog.text
    assert "resuming download at byte" in caplog.text
    assert keys_of(envelopes) == keys and read.notices == []


@paramiko_thread_dies
def test_a_partial_download_is_never_ingested_and_the_next_run_resumes(
    make: Make, harness: SftpHarness, sshd: SshServer, drop: Path, tmp_path: Path, monkeypatch,
    caplog,
) -> None:  # fmt: skip
    keys = harness.add(8_000)
    size = (drop / listing(drop)[0]).stat().st_size
    _CutAfter(monkeypatch, 1 << 20, sshd.kill_sessions)
    envelopes, state, read = read_all(make(retries=0))
    assert envelopes == [] and state == {"delivered": []}
    assert read.notices[0].action == "deferred" and "connection lost" in read.notices[0].reason
    (part,) = (tmp_path / "staging").rglob("*.part")
    kept = part.stat().st_size
    assert 0 < kept < size
    assert len(listing(drop)) == 1  # not acknowledged
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="adapters.builtin"):
        envelopes, _, read = read_all(make())
    assert f"resuming download at byte {kept} of {size}" in caplog.text
    assert keys_of(envelopes) == keys and read.notices == []
    assert not list((tmp_path / "staging").rglob("*.*"))  # nothing staged is left behind


@paramiko_thread_dies
def test_a_stale_part_of_other_content_is_not_resumed(
    make: Make, harness: SftpHarness, sshd: SshServer, drop: Path, tmp_path: Path, monkeypatch,
    caplog,
) -> None:  # fmt: skip
    keys = harness.add(8_000)
    _CutAfter(monkeypatch, 1 << 20, sshd.kill_sessions)
    read_all(make(retries=0))
    monkeypatch.undo()
    (part,) = (tmp_path / "staging").rglob("*.part")
    with open(part, "r+b") as fh:
        fh.write(b"<?xml version='1.0'?><garbage>")  # the staged bytes no longer match
    with caplog.at_level(logging.INFO, logger="adapters.builtin"):
        envelopes, _, _ = read_all(make())
    assert "does not match the remote file; restarting" in caplog.text
    assert keys_of(envelopes) == keys


@paramiko_thread_dies
def test_a_remote_file_modified_while_read_is_left_for_the_next_run(
    make: Make, harness: SftpHarness, drop: Path, monkeypatch, caplog
) -> None:
    keys = harness.add(8_000)
    remote = drop / listing(drop)[0]

    def append() -> None:
        with open(remote, "a", encoding="utf-8") as fh:
            fh.write("<!-- the department's job appended more -->\n")

    _CutAfter(monkeypatch, 1 << 20, append)
    with caplog.at_level(logging.WARNING, logger="adapters.builtin"):
        envelopes, state, read = read_all(make())
    assert envelopes == [] and state == {"delivered": []}
    assert "modified while being read" in read.notices[0].reason
    assert "modified while being read" in caplog.text
    assert listing(drop) == [remote.name]
    monkeypatch.undo()
    envelopes, _, _ = read_all(make())  # now stable: read in full
    assert keys_of(envelopes) == keys


def test_manifest_sha256_mismatch_is_refused(make: Make, harness: SftpHarness, drop: Path) -> None:
    harness.add(3)
    name = (drop / listing(drop)[0]).name
    (drop / "MANIFEST.json").write_text(json.dumps({"files": {name: {"sha256": "a" * 64}}}))
    envelopes, state, read = read_all(make())
    assert envelopes == [] and state == {"delivered": []}
    assert read.notices[0].action == "refused" and "does not match" in read.notices[0].reason
    assert listing(drop) == ["MANIFEST.json", name]
    good = hashlib.sha256((drop / name).read_bytes()).hexdigest()
    (drop / "MANIFEST.json").write_text(json.dumps({"files": {name: {"sha256": good}}}))
    assert len(read_all(make())[0]) == 3


# --------------------------------------------------------------------------- hostile names


def test_names_escaping_the_folder_are_refused(
    make: Make, harness: SftpHarness, drop: Path, monkeypatch
) -> None:
    keys = harness.add(2)
    outside = drop.parent / "outside.xml"
    write_records(outside, [make_case(dept_case_no="OUTSIDE")])
    os.symlink(outside, drop / "link-out.xml")
    os.symlink("/etc/passwd", drop / "passwd.xml")
    real = sftp_module._listdir_raw

    def hostile(sftp: paramiko.SFTPClient, path: str) -> list[tuple[bytes, Any]]:
        listing = real(sftp, path)
        template = next(a for n, a in listing if n.startswith(b"cases"))
        for name in ("../outside.xml", str(outside), "..\\outside.xml", "x\x00.xml"):
            fake = paramiko.SFTPAttributes.from_stat(outside.stat())
            fake.st_mode = template.st_mode
            listing.append((name.encode(), fake))
        return listing

    monkeypatch.setattr(sftp_module, "_listdir_raw", hostile)
    envelopes, state, read = read_all(make())
    assert keys_of(envelopes) == keys
    refused = {n.name: n.reason for n in read.notices if n.action == "refused"}
    assert "path separator" in refused["'../outside.xml'"]
    assert "absolute path" in refused[repr(str(outside))]
    assert "path separator" in refused["'..\\\\outside.xml'"]
    assert "NUL" in refused["'x\\x00.xml'"]
    assert "pointing outside the drop folder" in refused["'link-out.xml'"]
    assert "pointing outside the drop folder" in refused["'passwd.xml'"]
    assert outside.exists()  # never moved, never read
    assert [d["name"] for d in state["delivered"]] == [n for n in listing(drop / "done")]


# --------------------------------------------------------------------------- mapped payloads


GBK_MAPPING = """\
kind: case
encoding: gbk
timezone: "+08:00"
fields:
  source_system: {const: SZ-MARKET}
  dept_case_no: {from: 办件编号, transforms: [trim, halfwidth]}
  impl_code: {from: 实施编码, transforms: [trim, upper]}
  applicant.name: {from: 申请人, transforms: [trim]}
  applicant.id_type: {const: "111"}
  applicant.id_number: {from: 证件号码, transforms: [trim, upper]}
  accepted_at: {from: 受理时间, datetime: ["%Y年%m月%d日 %H时%M分"]}
  events:
    from_columns:
      - {state: "1", at: {from: 收件时间, datetime: ["%Y-%m-%d %H:%M:%S"]}}
      - {state: "3", at: {from: 受理时间, datetime: ["%Y年%m月%d日 %H时%M分"]}}
"""


def test_gbk_csv_from_the_server_is_mapped(make: Make, drop: Path, tmp_path: Path) -> None:
    (tmp_path / "mapping.yaml").write_text(GBK_MAPPING, encoding="utf-8")
    impl = make_case().impl_code
    rows = [
        "办件编号,实施编码,申请人,证件号码,收件时间,受理时间",
        f"ＳＺ０００１,{impl.lower()},张伟,{PERSON},2026-03-02 09:00:00,2026年3月2日 10时30分",
        f"SZ0002,{impl},欧阳娜娜,{PERSON},2026-03-02 09:05:00,2026年13月2日 10时30分",
    ]
    (drop / "办件_20260302.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode("gbk"))
    source = make(streams={"cases": {"patterns": ["*.csv"], "mapping": "mapping.yaml"}})
    envelopes, _, _ = read_all(source)
    first, second = envelopes
    assert first.ok and check_record(first.record) == []
    assert (first.record.dept_case_no, first.record.applicant.name) == ("SZ0001", "张伟")
    assert first.record.events[1].at.isoformat() == "2026-03-02T10:30:00+08:00"
    assert first.location.file.endswith("/办件_20260302.csv") and first.location.line == 2
    assert second.record is None and second.findings[0].rule == "mapping.date"
    assert PERSON not in second.findings[0].message


def test_the_kit_refuses_a_remote_folder_it_did_not_mark(make: Make, drop: Path) -> None:
    """The harness empties its folder recursively: never a department's real drop."""
    (drop / "done").mkdir()
    (drop / "done" / "cases_2024.xml").write_text("<cases/>", encoding="utf-8")
    (drop / "unread.xml").write_text("<cases/>", encoding="utf-8")
    harness = make().conformance_harness()
    try:
        with pytest.raises(AdapterError, match="holds files it did not put there"):
            harness.reset()
        with pytest.raises(AdapterError, match="did not put there"):
            harness.add(1)
    finally:
        harness.close()
    assert tree(drop) == ["done", "done/cases_2024.xml", "unread.xml"]


def test_a_name_that_is_not_utf8_is_refused_and_the_other_files_are_read(
    make: Make, harness: SftpHarness, drop: Path
) -> None:
    """One GBK name on the server used to fail every read (paramiko decodes names as
    UTF-8); now it is refused by name, shown escaped, and the good files go on."""
    keys = harness.add(2)
    gbk = os.fsencode(drop) + b"/" + "办件_1.xml".encode("gbk")
    with open(gbk, "wb") as out:
        out.write((drop / listing(drop)[0]).read_bytes())
    envelopes, _, read = read_all(make())
    assert keys_of(envelopes) == keys
    (notice,) = [n for n in read.notices if n.action == "refused"]
    assert notice.name == repr("办件_1.xml".encode("gbk"))[1:].replace('"', "'")
    assert "not UTF-8" in notice.reason
    assert os.path.exists(gbk)  # never moved, never read
