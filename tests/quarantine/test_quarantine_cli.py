"""`tongyuan quarantine list|show|replay` and `tongyuan materials for`, end to end.

The last test scans every output of these commands, the hub's log file and the captured
log records for each personal ID the scenario generated: none may appear in clear.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from pathlib import Path

import pytest
from quarantine_world import FIXED_MAPPING, MAPPING, write_csv
from std_factories import IMPL, PERSON, make_license, make_material
from typer.testing import CliRunner

from adapters.builtin.files import FilesSource
from standards.identifiers import citizen_id_check_char
from standards.privacy import mask_id
from tongyuan.cli import app
from tongyuan.config import ENV_DATABASE_URL, ENV_PII_KEY
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.batches import close_batch, open_batch
from tongyuan.libraries.licenses import LicenseRow, write_license
from tongyuan.libraries.materials import BlobRow, store_blob, write_material
from tongyuan.privacy import PiiProtector
from tongyuan.pulling import pull

runner = CliRunner()


def citizen_id(body17: str) -> str:
    return body17 + citizen_id_check_char(body17)


# Everyone the scenario knows: the test fails if any of them shows up in clear.
PEOPLE = [PERSON, citizen_id("44030519900101002"), citizen_id("11010519491231002")]


@pytest.fixture
def cli(hub, monkeypatch):
    from tongyuan.cli import common

    monkeypatch.setenv(ENV_DATABASE_URL, hub.database_url)
    monkeypatch.setenv(ENV_PII_KEY, hub.pii_key_b64)
    monkeypatch.setattr(common.console, "_width", 200)  # rich ignores the runner's width

    def invoke(*args: str, stdin: str | None = None):
        return runner.invoke(app, list(args), input=stdin, terminal_width=200)

    return invoke


@pytest.fixture
def scenario(hub, tmp_path: Path) -> Path:
    """Two department rows quarantined (an unknown state code), one accepted."""
    drop = tmp_path / "drop"
    drop.mkdir()
    (tmp_path / "cases.yaml").write_text(MAPPING, encoding="utf-8")
    base = {"SSBM": IMPL, "SQR": "张伟", "ZT1": "SJ", "SJSJ": "2026-03-02 09:00:00"}
    rows = [
        {**base, "BJBH": "SC0001", "SQR_ZJHM": PEOPLE[0], "ZT2": "", "SLSJ": ""},
        {**base, "BJBH": "SC0002", "SQR_ZJHM": PEOPLE[1], "ZT2": "SL",
         "SLSJ": "2026-03-02 10:30:00"},
        {**base, "BJBH": "SC0003", "SQR_ZJHM": PEOPLE[2].lower(), "ZT2": "SL",
         "SLSJ": "2026-03-02 11:00:00"},
    ]  # fmt: skip
    write_csv(drop / "cases_20260302.csv", rows)
    source = FilesSource.from_config(
        {
            "path": "drop",
            "streams": {"cases": {"patterns": ["*.csv"], "mapping": "cases.yaml"}},
            "settle_seconds": 0,
            "staging_dir": str(tmp_path / "staging"),
        },
        base_dir=tmp_path,
    )
    result = pull(hub, source, "cases", source_name="sz-market")
    assert (result.added, result.quarantined) == (1, 2), result.error
    return tmp_path / "cases.yaml"


def holdings(hub, tmp_path: Path) -> None:
    """PEOPLE[0] holds a valid and an expired material, a valid and a revoked license."""
    protector = PiiProtector(hub.pii_key())
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            batch = open_batch(session, "load.material", "test")
            for n, (valid_to, holder) in enumerate(
                [
                    (date(2027, 1, 1), PEOPLE[0]),
                    (date(2026, 2, 1), PEOPLE[0]),
                    (None, PEOPLE[1]),
                ]
            ):
                folder = tmp_path / f"m{n}"
                folder.mkdir()
                material = make_material(
                    folder, content=f"材料{n}".encode(), material_id=f"M{n}",
                    holder_id_number=holder, valid_to=valid_to,
                )  # fmt: skip
                sha256, _ = store_blob(hub, folder / material.file)
                write_material(session, batch.id, material, protector=protector, sha256=sha256)
            valid = make_license()
            revoked = make_license(number="JY2", status="revoked")
            revoked = revoked.model_copy(update={"identifier": valid.identifier[:-8] + "X"})
            for lic in (valid, revoked):
                write_license(session, batch.id, lic, protector=protector)
            # The valid one verified and its file stored: reusable evidence.
            signed = tmp_path / "license.xml"
            signed.write_bytes(b"<license/>")
            sha256, size = store_blob(hub, signed)
            session.add(BlobRow(sha256=sha256, size=size, media_type="application/xml"))
            session.flush()
            row = session.get(LicenseRow, valid.identifier)
            row.file_sha256, row.indication = sha256, "PASSED"
            close_batch(session, batch, read=5, accepted=5, quarantined=0, unchanged=0,
                        status="committed", settings=hub)  # fmt: skip
    finally:
        engine.dispose()


def test_list_filters_and_json(cli, scenario):
    out = cli("quarantine", "list")
    assert out.exit_code == 0, out.output
    assert out.output.count("mapping.code") == 2 and "sz-market" in out.output
    rows = json.loads(cli("quarantine", "list", "--json").output)
    assert [(r["status"], r["kind"], r["rule"]) for r in rows] == [
        ("open", "case", "mapping.code")
    ] * 2
    assert json.loads(cli("quarantine", "list", "--kind", "item", "--json").output) == []
    assert len(json.loads(cli("quarantine", "list", "--source", "sz-market", "--json").output)) == 2
    assert json.loads(cli("quarantine", "list", "--source", "other", "--json").output) == []
    assert json.loads(cli("quarantine", "list", "--status", "resolved", "--json").output) == []
    bad = cli("quarantine", "list", "--status", "bogus")
    assert bad.exit_code == 2 and "unknown status" in bad.output


def test_list_keeps_source_and_where_at_80_columns(hub, monkeypatch, scenario):
    """At the default terminal width the source and where columns shrank to nothing, and
    a long id, status and kind pushed the replay count off the edge."""
    from sqlalchemy import text

    from tongyuan.cli import common

    engine = make_engine(hub.database_url)
    try:
        with engine.begin() as connection:
            first = connection.execute(text("SELECT MIN(id) FROM quarantine")).scalar_one()
            connection.execute(
                text(
                    "UPDATE quarantine SET id = 12345, status = 'discarded', kind = 'material', "
                    "replay_count = 17, rule = 'material.file.unsafe_path' WHERE id = :i"
                ),
                {"i": first},
            )
    finally:
        engine.dispose()
    monkeypatch.setenv(ENV_DATABASE_URL, hub.database_url)
    monkeypatch.setenv(ENV_PII_KEY, hub.pii_key_b64)
    monkeypatch.setattr(common.console, "_width", 80)
    out = runner.invoke(app, ["quarantine", "list"], terminal_width=80)
    assert out.exit_code == 0, out.output
    header = next(line for line in out.output.splitlines() if "status" in line)
    assert all(name in header for name in ("source", "where", "replays"))
    rows = [line.split("│") for line in out.output.splitlines() if "│" in line]
    # No outer border: source is cell 5, where cell 6, replays cell 7 (folded cells go on
    # on the lines below).
    (moved,) = [cells for cells in rows if cells[0].strip() == "12345"]
    assert moved[1].strip() == "discarded" and moved[7].strip() == "17"
    source = "".join(cells[5].strip() for cells in rows)
    where = "".join(cells[6].strip() for cells in rows)
    assert "sz-market" in source and "cases_20260302.csv#2" in where.replace(" ", "")
    assert "material.file.unsafe_path" in "".join(cells[3].strip() for cells in rows)


def test_show_has_location_rules_and_a_masked_payload(cli, scenario):
    entry_id = json.loads(cli("quarantine", "list", "--json").output)[0]["id"]
    out = cli("quarantine", "show", str(entry_id))
    assert out.exit_code == 0, out.output
    assert "cases_20260302.csv" in out.output and "mapping.code" in out.output
    assert "部门代码在代码对照表中不存在" in out.output
    assert mask_id(PEOPLE[1]) in out.output and "cases.yaml" in out.output
    detail = json.loads(cli("quarantine", "show", str(entry_id), "--json").output)
    assert detail["location"]["record"] == 2 and detail["location"]["line"] == 3
    assert detail["rules"][0]["rule"] == "mapping.code" and "SL" in detail["rules"][0]["message"]
    assert detail["payload"]["SQR_ZJHM"] == mask_id(PEOPLE[1])
    assert detail["origin"]["adapter"].endswith(":FilesSource") and "config" not in detail["origin"]
    missing = cli("quarantine", "show", "999999")
    assert missing.exit_code == 2 and "no quarantine entry 999999" in missing.output
    assert "--reveal" not in cli("quarantine", "show", "--help").output


def test_show_masks_a_payload_stored_with_an_older_mask_again(cli, scenario, hub):
    """Entries quarantined before short IDs showed at most a third hold a passport as
    E123*5678 (8 of 9 characters); shown, it is masked as today."""
    from tongyuan.libraries.quarantine import QuarantineEntry

    entry_id = json.loads(cli("quarantine", "list", "--json").output)[0]["id"]
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            entry = session.get(QuarantineEntry, entry_id)
            # a personal column of the mapping, an ID field, and an ID field nested deeper
            older = {"SQR_ZJHM": "E123*5678", "holder_id": "H987*4321",
                     "more": {"id_number": "C123*6789"}}  # fmt: skip
            entry.payload_masked = {**entry.payload_masked, **older}
    finally:
        engine.dispose()
    detail = json.loads(cli("quarantine", "show", str(entry_id), "--json").output)
    payload = detail["payload"]
    assert (payload["SQR_ZJHM"], payload["holder_id"], payload["more"]["id_number"]) == (
        "E******78", "H******21", "C******89",
    )  # fmt: skip
    text = cli("quarantine", "show", str(entry_id)).output
    assert "E******78" in text and "E123" not in text and "4321" not in text


def test_replay_cli_needs_a_selection_then_resolves_after_the_fix(cli, scenario):
    assert cli("quarantine", "replay").exit_code == 2
    dry = cli("quarantine", "replay", "--rule", "mapping.code", "--dry-run", "--json")
    assert dry.exit_code == 1 and json.loads(dry.output)["still_open"] == 2
    scenario.write_text(FIXED_MAPPING, encoding="utf-8")
    first_id = json.loads(cli("quarantine", "list", "--json").output)[0]["id"]
    one = cli("quarantine", "replay", str(first_id))
    assert one.exit_code == 0, one.output
    assert "accepted 1" in one.output
    rest = cli("quarantine", "replay", "--all", "--json")
    assert rest.exit_code == 0 and json.loads(rest.output)["accepted"] == 1
    again = cli("quarantine", "replay", str(first_id), "--json")
    assert again.exit_code == 0
    assert [e["outcome"] for e in json.loads(again.output)["entries"]] == ["skipped"]
    statuses = json.loads(cli("quarantine", "list", "--json").output)
    assert {r["status"] for r in statuses} == {"resolved"}
    history = json.loads(cli("quarantine", "show", str(first_id), "--json").output)["replays"]
    assert [h["outcome"] for h in history] == ["added"]  # a dry run leaves no history


def test_materials_for_lists_only_what_is_still_valid(cli, hub, tmp_path):
    holdings(hub, tmp_path)
    out = cli("materials", "for", "-", "--at", "2026-06-01", "--json", stdin=PEOPLE[0] + "\n")
    assert out.exit_code == 0, out.output
    held = json.loads(out.output)
    assert held["holder"] == mask_id(PEOPLE[0])
    assert [m["material_id"] for m in held["materials"]] == ["M0"]
    assert [lic["number"] for lic in held["licenses"]] == [make_license().number]
    # Found by the keyed hash of the normalised ID: lower case and blanks do not matter.
    spaced = f" {PEOPLE[0][:6]} {PEOPLE[0][6:].lower()} "
    again = json.loads(cli("materials", "for", spaced, "--at", "2026-06-01", "--json").output)
    assert again["materials"] == held["materials"]
    later = json.loads(cli("materials", "for", PEOPLE[0], "--at", "2027-06-01", "--json").output)
    assert later["materials"] == []
    other = json.loads(cli("materials", "for", PEOPLE[1], "--json").output)
    assert [m["material_id"] for m in other["materials"]] == ["M2"] and other["licenses"] == []
    table = cli("materials", "for", PEOPLE[0], "--at", "2026-06-01")
    assert table.exit_code == 0 and "营业执照副本" in table.output
    assert cli("materials", "for", PEOPLE[0], "--at", "June").exit_code == 2


def test_no_personal_id_in_clear_in_any_output_or_log(cli, hub, scenario, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    holdings(hub, tmp_path)
    outputs: list[str] = []

    def run(*args: str, stdin: str | None = None) -> str:
        result = cli(*args, stdin=stdin)
        outputs.append(result.output)
        return result.output

    ids = [row["id"] for row in json.loads(run("quarantine", "list", "--json"))]
    run("quarantine", "list")
    for entry_id in ids:
        run("quarantine", "show", str(entry_id))
        run("quarantine", "show", str(entry_id), "--json")
    run("quarantine", "replay", "--all")
    run("quarantine", "replay", "--all", "--json", "--dry-run")
    scenario.write_text(FIXED_MAPPING, encoding="utf-8")
    run("quarantine", "replay", *map(str, ids))
    run("quarantine", "replay", *map(str, ids), "--json")
    for entry_id in ids:
        run("quarantine", "show", str(entry_id), "--json")
    for person in PEOPLE:
        run("materials", "for", person, "--at", "2026-06-01")
        run("materials", "for", "-", "--json", stdin=person)
    logs = [p.read_text(encoding="utf-8") for p in (hub.home / "logs").glob("*.log*")]
    haystack = "\n".join([*outputs, *logs, caplog.text])
    assert len(outputs) == 2 + 2 * len(ids) + 4 + len(ids) + 2 * len(PEOPLE)
    for person in PEOPLE:
        for form in {person, person.lower(), person[:6] + " " + person[6:]}:
            assert form not in haystack, f"{mask_id(person)} appears in clear"
    # Nothing shaped like an 18-digit ID at all, and the masked forms are what is shown.
    assert not re.search(r"(?<!\d)\d{17}[\dXx](?!\d)", haystack)
    assert mask_id(PEOPLE[1]) in haystack and mask_id(PEOPLE[0]) in haystack


def test_discard_sets_an_entry_aside_for_good(cli, scenario):
    first, second = (r["id"] for r in json.loads(cli("quarantine", "list", "--json").output))
    assert cli("quarantine", "discard", str(first)).exit_code == 2  # a reason is required
    out = cli("quarantine", "discard", str(first), "--reason", "测试数据，部门已撤回")
    assert out.exit_code == 0 and f"{first}: discarded" in out.output
    again = cli("quarantine", "discard", str(first), "--reason", "twice")
    assert f"{first}: skipped" in again.output
    scenario.write_text(FIXED_MAPPING, encoding="utf-8")
    replayed = json.loads(cli("quarantine", "replay", "--all", "--json").output)
    assert [e["id"] for e in replayed["entries"]] == [second]
    detail = json.loads(cli("quarantine", "show", str(first), "--json").output)
    assert detail["status"] == "discarded"
    assert [(h["outcome"], h["message"]) for h in detail["replays"]] == [
        ("discarded", "测试数据，部门已撤回")
    ]
    assert cli("quarantine", "discard", "999999", "--reason", "x").exit_code == 2
