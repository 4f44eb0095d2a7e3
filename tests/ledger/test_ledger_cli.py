"""`tongyuan ledger verify|checkpoint|show`: exit codes, JSON, and no personal data."""

from __future__ import annotations

import json
import re

import pytest
from ledger_world import item_batch
from sqlalchemy import Engine
from std_factories import PERSON
from tamper import run_sql
from typer.testing import CliRunner

from tongyuan.cli import app
from tongyuan.config import ENV_DATABASE_URL, Settings
from tongyuan.loading import Loader

runner = CliRunner()
# The personal ID in the test data; a hex batch id may hold 18 digits in a row, so a
# pattern would not do.
CLEAR_ID = re.compile(re.escape(PERSON))


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ENV_DATABASE_URL, db_url)
    return db_url


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["ledger", *args], terminal_width=200)
    assert not CLEAR_ID.search(result.output), result.output
    return result


def test_verify_checkpoint_and_show(cli_env: str, loaded: Loader, ledger_engine: Engine):
    intact = _invoke("verify")
    assert intact.exit_code == 0, intact.output
    assert "ledger intact" in intact.output
    assert "the last 5 entries are after the latest checkpoint" in intact.output
    signed = _invoke("checkpoint")
    assert signed.exit_code == 0 and "checkpoint at seq" in signed.output
    pinned = _invoke("verify", "--json")
    doc = json.loads(pinned.output)
    assert pinned.exit_code == 0 and doc["ok"] and doc["checkpoints"] == 2
    shown = _invoke("show", "--last", "2", "--json")
    entries = json.loads(shown.output)
    assert [e["seq"] for e in entries] == [doc["entries"] - 1, doc["entries"]]
    table = _invoke("show")
    assert table.exit_code == 0 and "r/a/q/u" in table.output
    assert f"\n│ {doc['entries']} " in table.output.replace("┃", "│")


def test_verify_names_the_altered_row_and_exits_1(
    cli_env: str, loaded: Loader, ledger_engine: Engine
):
    run_sql(ledger_engine, "UPDATE materials SET holder_name = '王五'")
    text_out = _invoke("verify")
    assert text_out.exit_code == 1
    assert "ledger ALTERED" in text_out.output
    assert "[row.altered] materials row M1" in text_out.output
    as_json = _invoke("verify", "--json")
    doc = json.loads(as_json.output)
    assert as_json.exit_code == 1 and doc["first"]["table"] == "materials"
    assert doc["first"]["key"] == "M1"


def test_checkpoint_signed_by_another_key_fails_with_the_hub_key(
    cli_env: str,
    hub_settings: Settings,
    ledger_engine: Engine,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
):
    item_batch(ledger_engine, hub_settings, "一")
    monkeypatch.setenv("TONGYUAN_HOME", str(tmp_path / "intruder"))
    refused = _invoke("checkpoint")  # the hub signed the entries, not this key
    assert refused.exit_code == 1 and "refusing to sign" in refused.output
    with monkeypatch.context() as m:  # the intruder's own tools sign without looking
        m.setattr("tongyuan.ledger.checkpoints.unpinned_entry_problems", lambda *a: [])
        assert _invoke("checkpoint").exit_code == 0
    other_key = tmp_path / "intruder" / "trust" / "ledger-hub-public-key.pem"
    monkeypatch.setenv("TONGYUAN_HOME", str(tmp_path / "home"))
    assert _invoke("checkpoint").exit_code == 0  # creates the hub's own key
    result = _invoke("verify", "--json")
    doc = json.loads(result.output)
    assert result.exit_code == 1 and doc["first"]["code"] == "checkpoint.key"
    assert _invoke("verify", "--hub-key", str(other_key)).exit_code == 1  # the hub's fails
    hub_key = tmp_path / "home" / "trust" / "ledger-hub-public-key.pem"
    both = _invoke("verify", "--hub-key", str(hub_key), "--hub-key", str(other_key))
    assert both.exit_code == 0, both.output  # last year's key and this year's
    assert _invoke("verify", "--hub-key", str(tmp_path / "none.pem")).exit_code == 2
    (tmp_path / "junk.pem").write_text("not a key")
    assert _invoke("verify", "--hub-key", str(tmp_path / "junk.pem")).exit_code == 2


def test_unreadable_database_exits_2(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A missing database is reported, in JSON too, and not created (an empty one was)."""
    missing = tmp_path / "empty.db"
    monkeypatch.setenv(ENV_DATABASE_URL, f"sqlite:///{missing}")
    result = _invoke("verify", "--json")
    assert result.exit_code == 2
    assert f"no hub database at {missing}" in json.loads(result.output)["unreadable"]
    assert not missing.exists()


def test_kept_checkpoint_copy_and_the_key_used_are_shown(
    cli_env: str,
    hub_settings: Settings,
    ledger_engine: Engine,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("TONGYUAN_HOME", str(tmp_path / "home"))
    item_batch(ledger_engine, hub_settings, "一")
    assert _invoke("checkpoint").exit_code == 0
    item_batch(ledger_engine, hub_settings, "二")
    assert _invoke("checkpoint").exit_code == 0
    shown = _invoke("show", "--checkpoints", "--json")
    kept = json.loads(shown.output)
    assert [(c["number"], c["seq"]) for c in kept] == [(1, 0), (2, 1), (3, 2)]
    assert all(c["signature"] and c["public_key"] for c in kept)
    copy = tmp_path / "kept.json"
    copy.write_text(shown.output, encoding="utf-8")
    hub_key = tmp_path / "home" / "trust" / "ledger-hub-public-key.pem"
    text_out = _invoke("verify", "--hub-key", str(hub_key), "--checkpoint-copy", str(copy))
    assert text_out.exit_code == 0, text_out.output
    assert "given with --hub-key" in text_out.output and "latest checkpoint: #3" in text_out.output
    implicit = _invoke("verify")
    assert "found in the copy itself" in implicit.output
    run_sql(ledger_engine, "DELETE FROM ledger_checkpoints WHERE seq = 2")
    gone = _invoke("verify", "--checkpoint-copy", str(copy), "--json")
    assert gone.exit_code == 1 and json.loads(gone.output)["first"]["code"] == "checkpoint.missing"
    assert _invoke("verify", "--expect-checkpoint", "3").exit_code == 1
    copy.write_text("[{}]", encoding="utf-8")
    assert _invoke("verify", "--checkpoint-copy", str(copy)).exit_code == 2


@pytest.mark.parametrize("damage", [b"not a key\n", b"\xe4\xb8\xad"], ids=["text", "non-ascii"])
def test_a_damaged_hub_key_in_the_copy_is_unreadable_not_altered(
    cli_env: str,
    hub_settings: Settings,
    ledger_engine: Engine,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    damage: bytes,
):
    """The copy's own trust/ledger-hub-public-key.pem replaced by junk: exit 2 naming the
    file (JSON too), as a junk --hub-key is — not a traceback and exit 1."""
    monkeypatch.setenv("TONGYUAN_HOME", str(tmp_path / "home"))
    item_batch(ledger_engine, hub_settings, "一")
    assert _invoke("checkpoint").exit_code == 0
    own = tmp_path / "home" / "trust" / "ledger-hub-public-key.pem"
    own.write_bytes(damage)
    as_json = _invoke("verify", "--json")
    assert as_json.exit_code == 2, as_json.output
    message = json.loads(as_json.output)["unreadable"]
    assert str(own) in message and "not a PEM public key" in message
    text_out = _invoke("verify")
    assert text_out.exit_code == 2 and "not a PEM public key" in text_out.output
    assert text_out.exception is None or isinstance(text_out.exception, SystemExit)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(damage)
    given = _invoke("verify", "--hub-key", str(junk), "--json")
    assert given.exit_code == 2 and "not a PEM public key" in json.loads(given.output)["unreadable"]
