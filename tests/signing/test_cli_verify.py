"""`tongyuan pki init` and `tongyuan verify`: exit codes, --json, refusals."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signing.detached import sign_detached
from signing.pki import open_pki
from tongyuan.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli") / "pki"
    result = runner.invoke(app, ["pki", "init", str(directory), "--algorithms", "ecdsa,sm2"])
    assert result.exit_code == 0, result.output
    return directory


def _signed(tmp_path: Path, pki_dir: Path, family: str = "ecdsa") -> Path:
    pki = open_pki(pki_dir)
    data = "营业执照 电子证照".encode()
    target = tmp_path / "license.pdf"
    target.write_bytes(data)
    envelope = sign_detached(data, pki.signing_key(family), pki.chain(family))
    (tmp_path / "license.pdf.sig.json").write_bytes(envelope)
    return target


def test_pki_init_writes_a_trust_directory_and_private_keys(pki_dir: Path) -> None:
    assert sorted(p.name for p in (pki_dir / "anchors").iterdir()) == [
        "root-ecdsa.pem",
        "root-sm2.pem",
    ]
    assert (pki_dir / "crls" / "intermediate-sm2.pem").is_file()
    private = pki_dir / "private"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    for key in private.iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_pki_init_refuses_to_overwrite(pki_dir: Path) -> None:
    before = (pki_dir / "anchors" / "root-ecdsa.pem").read_bytes()
    result = runner.invoke(app, ["pki", "init", str(pki_dir)])
    assert result.exit_code == 1
    assert "already holds a PKI" in result.output
    assert (pki_dir / "anchors" / "root-ecdsa.pem").read_bytes() == before


@pytest.mark.parametrize("family", ["ecdsa", "sm2"])
def test_verify_passed_exit_0_with_report(tmp_path: Path, pki_dir: Path, family: str) -> None:
    target = _signed(tmp_path, pki_dir, family)
    result = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir)])
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output and "验证通过" in result.output


def test_verify_json_failed_exit_1(tmp_path: Path, pki_dir: Path) -> None:
    target = _signed(tmp_path, pki_dir)
    target.write_bytes(target.read_bytes() + b"!")
    result = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["indication"] == "FAILED" and doc["subindication"] == "HASH_FAILURE"
    assert any(c["name"] == "data_digest" and c["passed"] is False for c in doc["checks"])


def test_verify_indeterminate_exit_3(tmp_path: Path, pki_dir: Path) -> None:
    """A trust directory without the CRLs: never PASSED, exit 3."""
    target = _signed(tmp_path, pki_dir)
    trust = tmp_path / "trust"
    (trust / "anchors").mkdir(parents=True)
    (trust / "anchors" / "root.pem").write_bytes(
        (pki_dir / "anchors" / "root-ecdsa.pem").read_bytes()
    )
    result = runner.invoke(app, ["verify", str(target), "--trust", str(trust), "--json"])
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    assert (doc["indication"], doc["subindication"]) == ("INDETERMINATE", "TRY_LATER")


def test_verify_the_signature_file_itself(tmp_path: Path, pki_dir: Path) -> None:
    target = _signed(tmp_path, pki_dir)
    sig = tmp_path / "license.pdf.sig.json"
    assert runner.invoke(app, ["verify", str(sig), "--trust", str(pki_dir)]).exit_code == 0
    target.unlink()
    result = runner.invoke(app, ["verify", str(sig), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["subindication"] == "SIGNED_DATA_NOT_FOUND"


def test_unsigned_file_is_format_failure(tmp_path: Path, pki_dir: Path) -> None:
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"\x00\x01 no signature here")
    result = runner.invoke(app, ["verify", str(plain), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["subindication"] == "FORMAT_FAILURE"


def test_missing_file_exit_2(tmp_path: Path, pki_dir: Path) -> None:
    result = runner.invoke(app, ["verify", str(tmp_path / "nope.xml"), "--trust", str(pki_dir)])
    assert result.exit_code == 2
    assert "not found" in " ".join(result.output.split())


def test_unusable_trust_directory_exit_2(tmp_path: Path, pki_dir: Path) -> None:
    target = _signed(tmp_path, pki_dir)
    result = runner.invoke(app, ["verify", str(target), "--trust", str(tmp_path / "none")])
    assert result.exit_code == 2


def test_xxe_is_refused_exit_2(tmp_path: Path, pki_dir: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    evil = tmp_path / "evil.xml"
    evil.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE l [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<License xmlns:ds="http://www.w3.org/2000/09/xmldsig#">&x;<ds:Signature/></License>'
    )
    result = runner.invoke(app, ["verify", str(evil), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 2, result.output
    assert "TOP SECRET" not in result.output


def test_oversized_input_exit_2(
    tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signing.verify

    monkeypatch.setattr(signing.verify, "MAX_INPUT_BYTES", 1024)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 2048)
    result = runner.invoke(app, ["verify", str(big), "--trust", str(pki_dir)])
    assert result.exit_code == 2
    assert "exceeds the limit" in " ".join(result.output.split())


def test_pki_revoke_and_refresh_commands(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    assert (
        runner.invoke(app, ["pki", "init", str(directory), "--algorithms", "ed25519"]).exit_code
        == 0
    )
    target = _signed(tmp_path, directory, "ed25519")
    result = runner.invoke(
        app,
        [
            "pki",
            "revoke",
            str(directory),
            str(directory / "issuing" / "ed25519.pem"),
            "--reason",
            "keyCompromise",
        ],
    )
    assert result.exit_code == 0, result.output
    verdict = runner.invoke(app, ["verify", str(target), "--trust", str(directory), "--json"])
    # revoked for key compromise in the second of signing or after it: never PASSED
    sub = json.loads(verdict.stdout)["subindication"]
    assert (verdict.exit_code, sub) in ((1, "REVOKED"), (3, "REVOKED_NO_POE"))
    assert runner.invoke(app, ["pki", "refresh-crls", str(directory)]).exit_code == 0
    assert runner.invoke(app, ["pki", "refresh-crls", str(tmp_path / "none")]).exit_code == 1
    bad = runner.invoke(app, ["pki", "revoke", str(directory), str(target), "--reason", "x"])
    assert bad.exit_code == 2


def test_verify_a_signed_xml_license(tmp_path: Path, pki_dir: Path) -> None:
    """An XML license is detected by content and verified through signing.xmldsig."""
    from std_factories import make_license

    from signing.license_xml import build_license_document
    from signing.xmldsig import sign_license_xml

    pki = open_pki(pki_dir)
    signed = sign_license_xml(
        build_license_document(make_license()), pki.signing_key("ecdsa"), pki.chain("ecdsa")
    )
    target = tmp_path / "license.xml"
    target.write_bytes(signed)
    result = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "xmldsig"
    target.write_bytes(signed.replace("食品经营许可证".encode(), "药品经营许可证".encode()))
    result = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["indication"] == "FAILED"


def test_pki_init_defaults_to_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without DIR the PKI goes to <TONGYUAN_HOME>/pki, where ingestion looks for trust."""
    from tongyuan.config import ENV_HOME

    monkeypatch.setenv(ENV_HOME, str(tmp_path / "home"))
    result = runner.invoke(app, ["pki", "init", "--algorithms", "ecdsa"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "pki" / "anchors" / "root-ecdsa.pem").is_file()


def test_verify_a_detached_license_uses_its_issuers_anchors(tmp_path: Path, pki_dir: Path) -> None:
    """An SM2 license (detached envelope) counts only its issuer's anchors and the general
    ones: anchors scoped to another authority do not make it PASSED."""
    import shutil

    from std_factories import make_license

    from signing.license_xml import build_license_document

    pki = open_pki(pki_dir)
    license = make_license()
    document = build_license_document(license)
    target = tmp_path / "license.license"
    target.write_bytes(document)
    (tmp_path / "license.license.sig.json").write_bytes(
        sign_detached(document, pki.signing_key("sm2"), pki.chain("sm2"))
    )
    trust = tmp_path / "trust"
    shutil.copytree(pki_dir, trust, ignore=shutil.ignore_patterns("private"))
    scoped = trust / "anchors" / "91440300MA5FXXXX0Y"  # issues none of these licenses
    scoped.mkdir()
    for anchor in (trust / "anchors").glob("*.pem"):
        anchor.rename(scoped / anchor.name)
    result = runner.invoke(app, ["verify", str(target), "--trust", str(trust), "--json"])
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["subindication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    own = trust / "anchors" / license.issuer_code
    scoped.rename(own)
    result = runner.invoke(app, ["verify", str(target), "--trust", str(trust), "--json"])
    assert result.exit_code == 0, result.output


def test_verify_a_manifest_checks_the_files_it_lists(tmp_path: Path, pki_dir: Path) -> None:
    """`tongyuan verify batch/MANIFEST.json` is the batch check: a changed or missing
    listed file fails it, and files it does not list are named."""
    from signing.manifest import build_manifest

    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "cases_001.xml").write_text("<cases>original</cases>", encoding="utf-8")
    manifest = build_manifest({"cases_001.xml": batch / "cases_001.xml"})
    (batch / "MANIFEST.json").write_bytes(manifest)
    pki = open_pki(pki_dir)
    envelope = sign_detached(manifest, pki.signing_key("ecdsa"), pki.chain("ecdsa"))
    (batch / "MANIFEST.json.sig.json").write_bytes(envelope)
    target = str(batch / "MANIFEST.json")
    ok = runner.invoke(app, ["verify", target, "--trust", str(pki_dir), "--json"])
    assert ok.exit_code == 0, ok.output
    (batch / "unlisted.xml").write_text("extra", encoding="utf-8")
    ok = runner.invoke(app, ["verify", target, "--trust", str(pki_dir), "--json"])
    checks = {c["name"]: c for c in json.loads(ok.stdout)["checks"]}
    assert ok.exit_code == 0 and "unlisted.xml" in checks["manifest_unlisted"]["detail"]
    (batch / "cases_001.xml").write_text("<cases>FORGED</cases>", encoding="utf-8")
    changed = runner.invoke(app, ["verify", target, "--trust", str(pki_dir), "--json"])
    assert changed.exit_code == 1
    assert json.loads(changed.stdout)["subindication"] == "HASH_FAILURE"
    (batch / "cases_001.xml").unlink()
    missing = runner.invoke(app, ["verify", target + ".sig.json", "--trust", str(pki_dir)])
    assert missing.exit_code == 3 and "SIGNED_DATA_NOT_FOUND" in missing.output


def _wrong_check_character(identifier: str) -> str:
    return identifier[:-1] + ("A" if identifier[-1] != "A" else "B")


def test_a_validly_signed_license_with_a_wrong_identifier_fails_content(
    tmp_path: Path, pki_dir: Path
) -> None:
    """The signature verdict stays PASSED (and visible); the license check that failed is
    named with its rule, and the exit code (4) is neither PASSED's nor FAILED's."""
    from std_factories import make_license

    from signing.license_xml import build_license_document
    from signing.xmldsig import sign_license_xml

    pki = open_pki(pki_dir)
    good = make_license()
    bad = make_license(identifier=_wrong_check_character(good.identifier))
    target = tmp_path / "license.xml"
    for license, code, content in ((good, 0, True), (bad, 4, False)):
        document = build_license_document(license)
        target.write_bytes(sign_license_xml(document, pki.signing_key("ecdsa"), pki.chain("ecdsa")))
        result = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir), "--json"])
        assert result.exit_code == code, result.output
        report = json.loads(result.stdout)
        assert (report["indication"], report["content_passed"]) == ("PASSED", content)
        checks = {c["name"]: c for c in report["checks"]}
        assert checks["license.identifier"]["passed"] is content
        assert checks["signature_value"]["passed"] is True
    assert "[license_id.check]" in checks["license.identifier"]["detail"]
    shown = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir)])
    assert shown.exit_code == 4
    assert "signature 签名 PASSED" in shown.output
    assert "license.identifier [license_id.check]" in shown.output


def test_a_detached_license_with_a_wrong_identifier_fails_content(
    tmp_path: Path, pki_dir: Path
) -> None:
    """The same checks for an SM2 license under a detached envelope."""
    from std_factories import make_license

    from signing.license_xml import build_license_document

    pki = open_pki(pki_dir)
    license = make_license()
    license = make_license(identifier=_wrong_check_character(license.identifier))
    document = build_license_document(license)
    target = tmp_path / "license.license"
    target.write_bytes(document)
    (tmp_path / "license.license.sig.json").write_bytes(
        sign_detached(document, pki.signing_key("sm2"), pki.chain("sm2"))
    )
    result = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 4, result.output
    report = json.loads(result.stdout)
    assert (report["indication"], report["content_passed"]) == ("PASSED", False)
    failed = [c["name"] for c in report["checks"] if c["passed"] is False]
    assert failed == ["license.identifier"]


def test_a_license_whose_signature_fails_is_not_content_checked(
    tmp_path: Path, pki_dir: Path
) -> None:
    """Content that is not the signer's is not judged: FAILED stays exit 1, and the
    report says the license checks did not run."""
    from std_factories import make_license

    from signing.license_xml import build_license_document
    from signing.xmldsig import sign_license_xml

    pki = open_pki(pki_dir)
    signed = sign_license_xml(
        build_license_document(make_license()), pki.signing_key("ecdsa"), pki.chain("ecdsa")
    )
    target = tmp_path / "license.xml"
    target.write_bytes(signed.replace("食品经营许可证".encode(), "药品经营许可证".encode()))
    result = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["content_passed"] is None
    last = report["checks"][-1]
    assert (last["name"], last["passed"]) == ("license.checks", None)


@pytest.mark.parametrize("levels", [20, 300, 10_000])
def test_any_depth_over_the_limit_is_the_documented_refusal(
    tmp_path: Path, pki_dir: Path, levels: int
) -> None:
    """libxml2 stops by itself at 256 levels; that must read as our limit (xml.unsafe),
    never as malformed XML with advice to lift the parser's limit."""
    target = tmp_path / "deep.xml"
    target.write_bytes(
        b"<signed_license>" + b"<a>" * levels + b"</a>" * levels + b"</signed_license>"
    )
    result = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error.endswith("elements nested deeper than 16 levels [xml.unsafe]"), error
    assert "XML_PARSE_HUGE" not in result.output


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<signed_license><depth></x></signed_license>", "[xml.malformed]"),
        (b"<signed_license>&depth;</signed_license>", "entity references are not allowed"),
    ],
)
def test_a_name_in_the_document_is_not_taken_for_the_depth_limit(
    tmp_path: Path, pki_dir: Path, body: bytes, expected: str
) -> None:
    """Review r3: libxml2's messages quote tag and entity names; one named ``depth`` is
    malformed XML or an entity, not input nested too deep."""
    target = tmp_path / "named.xml"
    target.write_bytes(body)
    result = runner.invoke(app, ["verify", str(target), "--trust", str(pki_dir), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert expected in error and "nested deeper" not in error, error


def test_a_manifest_with_a_bom_passes_as_ingestion_accepts_it(
    tmp_path: Path, pki_dir: Path
) -> None:
    """Ingestion reads a BOM-prefixed MANIFEST.json; `tongyuan verify` gives the same verdict."""
    from adapters.builtin.drop_folder import Manifest
    from signing.manifest import build_manifest

    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "a.xml").write_bytes(b"<cases/>")
    manifest = b"\xef\xbb\xbf" + build_manifest({"a.xml": b"<cases/>"})
    (batch / "MANIFEST.json").write_bytes(manifest)
    pki = open_pki(pki_dir)
    envelope = sign_detached(manifest, pki.signing_key("ecdsa"), pki.chain("ecdsa"))
    (batch / "MANIFEST.json.sig.json").write_bytes(envelope)
    assert list(Manifest.parse(manifest, "MANIFEST.json").entries) == ["a.xml"]
    result = runner.invoke(app, ["verify", str(batch / "MANIFEST.json"), "--trust", str(pki_dir)])
    assert result.exit_code == 0, result.output
