"""`tongyuan verify` on XML licenses: exit codes for tampering, stale CRLs and XXE."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from std_factories import make_license
from typer.testing import CliRunner

from signing.license_xml import build_license_document
from signing.pki import init_pki
from signing.xmldsig import sign_license_xml
from tongyuan.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def signed_license(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    directory = tmp_path_factory.mktemp("xmlcli") / "pki"
    pki = init_pki(directory, algorithms=("ecdsa",))
    xml = sign_license_xml(
        build_license_document(make_license()),
        pki.signing_key("ecdsa"),
        pki.chain("ecdsa"),
        signing_time=datetime.now(UTC) - timedelta(minutes=1),
    )
    return pki.trust_dir, xml


def _verify(tmp_path: Path, trust: Path, xml: bytes) -> tuple[int, dict]:
    target = tmp_path / "license.xml"
    target.write_bytes(xml)
    result = runner.invoke(app, ["verify", str(target), "--trust", str(trust), "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_signed_license_exit_0(tmp_path: Path, signed_license) -> None:
    trust, xml = signed_license
    code, report = _verify(tmp_path, trust, xml)
    assert (code, report["indication"], report["format"]) == (0, "PASSED", "xmldsig")


def test_tampered_license_exit_1_hash_failure(tmp_path: Path, signed_license) -> None:
    trust, xml = signed_license
    tampered = xml.replace("张伟".encode(), "李四".encode())
    assert tampered != xml
    code, report = _verify(tmp_path, trust, tampered)
    assert (code, report["indication"], report["subindication"]) == (1, "FAILED", "HASH_FAILURE")


def test_license_without_fresh_crls_exit_3(tmp_path: Path, signed_license) -> None:
    trust, xml = signed_license
    bare = tmp_path / "trust"
    (bare / "anchors").mkdir(parents=True)
    for anchor in (trust / "anchors").glob("*.pem"):
        (bare / "anchors" / anchor.name).write_bytes(anchor.read_bytes())
    code, report = _verify(tmp_path, bare, xml)
    assert (code, report["indication"], report["subindication"]) == (
        3,
        "INDETERMINATE",
        "TRY_LATER",
    )


def test_xxe_inside_a_signed_license_exit_2(tmp_path: Path, signed_license) -> None:
    trust, xml = signed_license
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    head, body = xml.decode().split("?>", 1)
    body = body.replace("<holder_name>张伟</holder_name>", "<holder_name>&x;</holder_name>")
    evil = f'{head}?>\n<!DOCTYPE signed_license [<!ENTITY x SYSTEM "file://{secret}">]>{body}'
    target = tmp_path / "evil.xml"
    target.write_text(evil, encoding="utf-8")
    result = runner.invoke(app, ["verify", str(target), "--trust", str(trust), "--json"])
    assert result.exit_code == 2
    assert "DOCTYPE" in result.stdout
    assert "TOP SECRET" not in result.output
