"""`tongyuan validate` from the outside: exit codes, JSON shape, hostile files."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tongyuan.cli import app

runner = CliRunner()


def run_validate(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", *args])
    return result.exit_code, result.stdout


def validate_json(*paths: Path) -> tuple[int, dict]:
    code, out = run_validate(*(str(p) for p in paths), "--json")
    return code, json.loads(out)


@pytest.fixture
def listener():
    """A TCP listener on 127.0.0.1 that records whether anything connected."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.settimeout(0.2)
    hits: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            hits.append(conn.recv(1024))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], hits
    stop.set()
    thread.join(2)
    sock.close()


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_hostile_files_exit_2_and_leak_nothing(tmp_path, listener):
    port, hits = listener
    secret = write(tmp_path / "secret.txt", "TOP-SECRET-440305198503120019")
    files = {
        "xxe.xml": f'<?xml version="1.0"?><!DOCTYPE cases [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<cases><case><source_system>&x;</source_system></case></cases>",
        "net.xml": f'<?xml version="1.0"?><!DOCTYPE cases SYSTEM "http://127.0.0.1:{port}/x.dtd">'
        "<cases/>",
        "net-entity.xml": '<?xml version="1.0"?><!DOCTYPE cases [<!ENTITY % p SYSTEM '
        f'"http://127.0.0.1:{port}/p">%p;]><cases/>',
        "laughs.xml": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">'
            for i in range(1, 10)
        )
        + "]><cases><case><source_system>&lol9;</source_system></case></cases>",
        "deep.xml": "<cases>" + "<a>" * 5000 + "</a>" * 5000 + "</cases>",
    }
    for name, text in files.items():
        path = write(tmp_path / name, text)
        code, report = validate_json(path)
        assert code == 2, name
        assert report["valid"] is False
        (err,) = report["errors"]
        assert err["rule"] == "xml.unsafe", (name, err)
        assert err["file"] and err["message"], name
        assert "TOP-SECRET" not in json.dumps(report, ensure_ascii=False)
    assert hits == [], "the parser reached the network"


def test_encoding_problems_are_reported_not_crashed_on(tmp_path):
    bad_utf8 = write(
        tmp_path / "bad-utf8.xml",
        b'<?xml version="1.0" encoding="UTF-8"?>\n<cases>\n'
        b"<case><source_system>\xff\xfe</source_system></case></cases>",
    )
    gbk_declared = write(tmp_path / "gbk.xml", b'<?xml version="1.0" encoding="GBK"?><cases/>')
    gbk_bytes = write(
        tmp_path / "gbk-bytes.xml",
        '<?xml version="1.0" encoding="UTF-8"?><cases><case><source_system>深圳市</source_system>'
        "</case></cases>".encode("gbk"),
    )
    for path in (bad_utf8, gbk_declared, gbk_bytes):
        code, report = validate_json(path)
        assert code == 2, path.name
        assert report["errors"][0]["rule"] in ("xml.encoding", "xml.malformed"), report
        assert path.name in report["errors"][0]["file"]


def test_one_unsafe_file_does_not_stop_the_others(tmp_path):
    write(tmp_path / "a.xml", '<!DOCTYPE cases [<!ENTITY a "b">]><cases/>')
    write(tmp_path / "b.xml", "<cases></cases>")
    code, report = validate_json(tmp_path)
    assert code == 2
    assert report["files"] == 2 and report["unreadable_files"] == 1


def test_missing_path_exits_2(tmp_path):
    code, _ = run_validate(str(tmp_path / "nope"))
    assert code == 2


def test_control_characters_in_a_file_name_are_printed_escaped(tmp_path):
    # ESC[2K + CR would erase the error line and print a forged verdict; ESC[8m hides the rest.
    name = "cases_\x1b[2K\rvalid: 1 files, 0 problems\x1b[8m.xml"
    write(tmp_path / name, "not xml")
    code, out = run_validate(str(tmp_path))
    assert code == 2
    assert "\x1b" not in out and "\r" not in out
    assert "cases_\\x1b[2K\\rvalid: 1 files, 0 problems\\x1b[8m.xml:1: error xml.malformed" in out
