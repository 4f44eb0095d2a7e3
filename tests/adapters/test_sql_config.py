"""Configuring the ``sql`` source: secrets by reference, the department class style, check()."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from sql_fixtures import (  # noqa: F401 - fixtures
    URL_REF,
    case_numbers,
    department_mapping,
    dept_url,
    harness,
    make_source,
    read_all,
    secrets_for,
)

from adapters.builtin.sql import SqlSource, engine_url
from adapters.builtin.sql_department import DEPARTMENT_MAPPING, department_config
from adapters.builtin.sql_harness import SqlHarness
from adapters.sdk.errors import AdapterError, ConfigError, ConnectionCheckError
from adapters.sdk.registry import load_adapter


def test_registered_as_the_builtin_sql_adapter() -> None:
    assert load_adapter("sql") is SqlSource


def test_literal_url_with_password_is_rejected() -> None:
    config = department_config("postgresql+psycopg://hub:S3cretPw@db.example/cases")
    with pytest.raises(ConfigError) as caught:
        SqlSource.from_config(config)
    (path, message), *_ = caught.value.problems
    assert path == "url"
    assert message.startswith("secrets are not written into configuration files")
    assert "env:" in message and "airflow:" in message
    assert "S3cretPw" not in str(caught.value)


def test_url_comes_from_the_environment(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEPT_DB_URL", dept_url)
    keys = harness.add(2)
    source = SqlSource.from_config(department_config(URL_REF))  # the real resolver
    envelopes, _ = read_all(source)
    assert case_numbers(envelopes) == [k[1] for k in keys]


def test_airflow_style_urls_get_the_installed_driver() -> None:
    assert engine_url("postgres://u:p@h:5432/db").drivername == "postgresql+psycopg"
    assert engine_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert engine_url("sqlite:///x.db").drivername == "sqlite"
    with pytest.raises(AdapterError, match="not a database URL that can be read") as caught:
        engine_url("not a url with secret-pw")
    assert "secret-pw" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://dept:Dept@Secr3tTail@127.0.0.1:5432/cases",  # host 'Secr3tTail@127…'
        "postgresql://dept:p@ss:Secr3tPart/x@127.0.0.1:5432/cases",  # port 'Secr3tPart'
        "postgresql://dept:p@Secr3t/x@127.0.0.1/cases",  # database 'x@127.0.0.1/cases'
    ],
)
def test_password_with_unescaped_at_colon_slash_is_refused_without_echo(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The QA repro: such a password's tail reached the terminal, the log and batch meta
    through the driver's "failed to resolve host" or the parser's int() error."""
    monkeypatch.setenv("DEPT_DB_URL", url)
    source = SqlSource.from_config(department_config(URL_REF))
    with pytest.raises(AdapterError) as caught:
        source.engine  # noqa: B018 - resolving the secret is what is tested
    message = str(caught.value)
    assert URL_REF in message  # names the setting: env:DEPT_DB_URL
    assert "percent-encode @ : / # ? %" in message
    assert "Secr3t" not in message and "127.0.0.1" not in message


def test_percent_encoded_password_is_accepted() -> None:
    url = engine_url("postgresql://dept:Dept%40Secr3t%3Ax%2Fy@127.0.0.1/cases")
    assert url.password == "Dept@Secr3t:x/y"
    assert url.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"table": "cases; DROP TABLE x"}, "streams.cases.table"),
        ({"table": 'cases" --'}, "streams.cases.table"),
        ({"schema": "public; DROP SCHEMA public"}, "streams.cases.schema"),
        ({"cursor": "id) OR 1=1 --"}, "streams.cases.cursor"),
        ({"tiebreaker": ["ID", "1; DELETE FROM cases"]}, "streams.cases.tiebreaker.1"),
        (
            {
                "children": {
                    "events": {"table": "case_events", "key": "CASE_ID", "order_by": "SEQ DESC"}
                }
            },
            "streams.cases.children.events.order_by.0",
        ),
        (
            {"children": {"events": {"table": "case_events WHERE 1=1", "key": "CASE_ID"}}},
            "streams.cases.children.events.table",
        ),
    ],
)
def test_sql_in_configured_names_is_refused_at_load(override: dict[str, Any], path: str) -> None:
    config = department_config(URL_REF)
    config["streams"]["cases"].update(override)
    with pytest.raises(ConfigError) as caught:
        SqlSource.from_config(config)
    paths = [p for p, _ in caught.value.problems]
    assert path in paths, caught.value.problems
    assert "not a plain SQL identifier" in str(caught.value)


def test_sql_in_a_mapped_column_name_is_refused_at_load() -> None:
    mapping = department_mapping(dept_case_no={"from": "CASE_NO) OR 1=1 --"})
    mapping["fields"]["events"]["fields"]["note"] = {"from": "YJ; DROP TABLE case_events"}
    config = department_config(URL_REF)
    config["streams"]["cases"]["mapping"] = mapping
    with pytest.raises(ConfigError) as caught:
        SqlSource.from_config(config)
    text = str(caught.value)
    assert "'CASE_NO) OR 1=1 --' is not a plain SQL identifier" in text
    assert "child rows events" in text and "YJ; DROP TABLE case_events" in text


def test_chinese_identifiers_are_plain_names() -> None:
    config = department_config(URL_REF)
    config["streams"]["cases"]["table"] = "办件表"
    source = SqlSource.from_config(config)
    assert source.stream_configs["cases"].table == "办件表"


def test_children_must_match_what_the_mapping_uses() -> None:
    config = department_config(URL_REF)
    config["streams"]["cases"]["children"] = {}
    with pytest.raises(ConfigError, match="child rows 'events'"):
        SqlSource.from_config(config)
    config = department_config(URL_REF)
    config["streams"]["cases"]["children"]["evnts"] = {"table": "x", "key": "y"}
    with pytest.raises(ConfigError, match="no child rows named 'evnts'"):
        SqlSource.from_config(config)


def test_unknown_key_and_missing_mapping_are_named() -> None:
    config = department_config(URL_REF)
    config["streams"]["cases"]["curser"] = "updated_at"
    with pytest.raises(ConfigError) as caught:
        SqlSource.from_config(config)
    assert "streams.cases.curser" in [p for p, _ in caught.value.problems]
    config = department_config(URL_REF)
    del config["streams"]["cases"]["mapping"]
    with pytest.raises(ConfigError, match=r"streams\.cases\.mapping"):
        SqlSource.from_config(config)
    with pytest.raises(ConfigError, match="no stream configured"):
        SqlSource.from_config({"url": URL_REF})


# --- the department's own class --------------------------------------------------------


class MarketCases(SqlSource):
    stream = "cases"
    mapping = "mapping.yaml"
    cursor = "updated_at"
    children: ClassVar[dict[str, dict[str, Any]]] = {
        "events": {"table": "case_events", "key": "CASE_ID", "order_by": "SEQ"}
    }


def test_department_class_attributes_define_the_stream(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "mapping.yaml").write_text(
        yaml.safe_dump(DEPARTMENT_MAPPING, allow_unicode=True), encoding="utf-8"
    )
    (tmp_path / "adapter.yaml").write_text(f"url: {URL_REF}\n", encoding="utf-8")
    source = MarketCases.from_config(tmp_path / "adapter.yaml", secrets=secrets_for(dept_url))
    spec = source.stream("cases")  # the base class's lookup still works
    assert (spec.name, spec.kind, spec.cursor_field) == ("cases", "case", "updated_at")
    assert [s.name for s in source.streams()] == ["cases"]
    source.check()
    keys = harness.add(3)
    envelopes, state = read_all(source)
    assert case_numbers(envelopes) == [k[1] for k in keys]
    assert state["tiebreaker"] == 3  # the table's primary key, found by reflection


def test_yaml_overrides_parts_of_the_class_stream(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "mapping.yaml").write_text(
        yaml.safe_dump(DEPARTMENT_MAPPING, allow_unicode=True), encoding="utf-8"
    )
    config = {"url": URL_REF, "streams": {"cases": {"cursor": "ID", "page_size": 7}}}
    source = MarketCases.from_config(config, secrets=secrets_for(dept_url), base_dir=tmp_path)
    assert source.stream_configs["cases"].cursor == "ID"
    assert source.stream_configs["cases"].page_size == 7
    harness.add(20)
    envelopes, state = read_all(source)
    assert len(envelopes) == 20 and state == {"cursor": 20, "tiebreaker": 20}


class BadClassAttributes(SqlSource):
    stream = "cases"
    mapping = DEPARTMENT_MAPPING
    cursor = "updated_at; --"


def test_class_attributes_are_validated_like_configuration() -> None:
    with pytest.raises(ConfigError) as caught:
        BadClassAttributes.from_config({"url": URL_REF})
    assert caught.value.source == "class BadClassAttributes"
    assert [p for p, _ in caught.value.problems] == ["cursor"]


# --- check() ---------------------------------------------------------------------------


def test_check_names_a_missing_column(dept_url: str, harness: SqlHarness) -> None:  # noqa: F811
    mapping = department_mapping(**{"applicant.phone": {"from": "SQR_SJHM"}})
    mapping["fields"]["events"]["fields"]["actor"] = {"from": "JBR"}
    source = make_source(dept_url, mapping=mapping)
    with pytest.raises(ConnectionCheckError) as caught:
        source.check()
    message = str(caught.value)
    assert "table cases has no column SQR_SJHM (needed by stream cases)" in message
    assert "table case_events has no column JBR" in message
    make_source(dept_url).check()  # the right mapping passes


def test_check_names_a_missing_table(dept_url: str, harness: SqlHarness) -> None:  # noqa: F811
    source = make_source(dept_url, table="banjian")
    with pytest.raises(ConnectionCheckError, match="table banjian does not exist"):
        source.check()


def test_check_reports_an_unreachable_server_without_the_password() -> None:
    url = "postgresql+psycopg://hub:Hidden-Pw9@127.0.0.1:1/dept?connect_timeout=2"
    source = make_source(url)
    with pytest.raises(ConnectionCheckError) as caught:
        source.check()
    assert "cannot connect" in str(caught.value)
    assert "Hidden-Pw9" not in str(caught.value)


def test_unmapped_database_column_names_fold_case(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    """A mapping written with lower-case names still finds the department's columns."""
    mapping = department_mapping(dept_case_no={"from": "case_no"})
    source = make_source(dept_url, mapping=mapping, tiebreaker="id")
    keys = harness.add(2)
    envelopes, state = read_all(source)
    assert case_numbers(envelopes) == [k[1] for k in keys]
    assert envelopes[0].raw["case_no"] == keys[0][1]
    assert state["tiebreaker"] == 2
