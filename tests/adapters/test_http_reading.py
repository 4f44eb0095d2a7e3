"""The http source against a real department API on 127.0.0.1: pages, records, limits.

Every pagination style reads the same table exactly once; objects that cannot be mapped
come out as envelopes with findings; the limits stop runaway servers with a message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from httpdept import API, DEPT_MAPPING, SOURCE_SYSTEM, DeptApi, Fault, http_config, secrets_for
from pydantic import SecretStr

from adapters.builtin.http import HttpSource
from adapters.sdk.errors import AdapterError, ConfigError, ConnectionCheckError
from adapters.sdk.registry import load_adapter
from standards.validation import Severity

ROWS = 237  # not a multiple of any page size used: the last page is short


@pytest.fixture
def api() -> Iterator[DeptApi]:
    with DeptApi() as running:
        yield running


def source(api: DeptApi, stream: dict | None = None, **top) -> HttpSource:
    return HttpSource.from_config(http_config(api, stream, **top), secrets=secrets_for(api))


def read_all(src: HttpSource, state: dict | None = None) -> tuple[list, dict]:
    with src.read("cases", state) as stream_read:
        envelopes = list(stream_read)
        return envelopes, stream_read.state()


def case_numbers(envelopes) -> list[str]:
    return [e.record.dept_case_no for e in envelopes if e.record is not None]


PAGINATIONS = {
    "page": {"style": "page", "page_size": 40},
    "page-short-stop": {"style": "page", "page_size": 40, "stop_on_short_page": True},
    "offset": {"style": "offset", "page_size": 40},
    "cursor": {"style": "cursor", "page_size": 40, "cursor_path": "next_cursor"},
    "link": {"style": "link", "page_size": 40},
    "keyset": {"style": "keyset", "page_size": 40},
}


@pytest.mark.parametrize("name", list(PAGINATIONS))
def test_every_pagination_style_reads_every_row_once(api: DeptApi, name: str) -> None:
    valid = api.table.add(ROWS)
    src = source(api, {"pagination": PAGINATIONS[name]})

    envelopes, state = read_all(src)

    assert all(e.ok for e in envelopes), [e.findings for e in envelopes if not e.ok][:3]
    assert case_numbers(envelopes) == [row["ywbh"] for row in valid]
    assert [e.location.record for e in envelopes] == list(range(1, ROWS + 1))
    assert {e.location.file for e in envelopes} == {api.base_url + "/cases"}
    assert state == {"mode": "after_id", "cursor": valid[-1]["gxsj"], "id": valid[-1]["id"]}
    requests = api.data_requests()
    # 6 pages of 40; counting styles need an empty 7th page to know they are done,
    # unless told a short page is the last; cursor and Link end on the server's say-so
    assert len(requests) == (7 if name in ("page", "offset", "keyset") else 6)
    second = requests[1].params
    expected_param = {
        "page": "page",
        "page-short-stop": "page",
        "offset": "offset",
        "cursor": "cursor",
        "link": "cursor",  # the server's Link header carries its cursor
        "keyset": "after_id",
    }[name]
    assert expected_param in second


def test_records_are_mapped_from_the_department_shape(api: DeptApi) -> None:
    row = api.table.add(1)[0]
    (envelope,), _ = read_all(source(api))
    case = envelope.record
    assert envelope.raw == row
    assert case.source_system == SOURCE_SYSTEM
    assert case.applicant.name == row["sqr"]["mc"]
    assert case.applicant.id_number == row["sqr"]["zjhm"]
    assert [e.state.value for e in case.events] == ["1", "3"]  # 01 收件, 02 受理
    assert case.accepted_at == case.events[1].at


def test_unmappable_object_is_an_envelope_with_findings_not_dropped(api: DeptApi) -> None:
    api.table.add(3, bad=2)
    envelopes, state = read_all(source(api))
    assert len(envelopes) == 5
    bad = [e for e in envelopes if not e.ok]
    assert len(bad) == 2
    for envelope in bad:
        assert envelope.record is None
        assert envelope.raw["slsj"].startswith("2026年13月")
        finding = envelope.findings[0]
        assert finding.rule == "mapping.date"
        assert finding.field == "accepted_at"
        assert "slsj" in finding.message
    # the bad rows were read: the state is past them, the next read does not repeat them
    assert state["id"] == envelopes[-1].raw["id"]
    assert read_all(source(api), state)[0] == []


def test_non_object_items_and_objects_without_cursor_are_reported(api: DeptApi) -> None:
    good = api.table.add(1)[0]
    no_cursor = {k: v for k, v in good.items() if k != "id"} | {"ywbh": "SZSC-NO-ID"}
    page = {"code": 0, "data": {"list": [good, 42, None, no_cursor]}, "next_cursor": None}
    api.inject(Fault("body", body=json.dumps(page, ensure_ascii=False).encode()))
    src = source(api, {"pagination": {"style": "cursor", "page_size": 10}})

    envelopes, state = read_all(src)

    assert [e.ok for e in envelopes] == [True, False, False, True]
    assert envelopes[1].raw == {"value": 42}
    assert envelopes[1].findings[0].rule == "payload.malformed"
    assert "item 2 of page 1 is a JSON int" in envelopes[1].findings[0].message
    assert envelopes[2].raw == {"value": None}
    warning = envelopes[3].findings[0]
    assert warning.severity is Severity.WARNING and "'gxsj'/'id'" in warning.message
    assert envelopes[3].record is not None
    assert state["id"] == good["id"]  # the object without a cursor moved nothing


def test_null_list_is_an_empty_page(api: DeptApi) -> None:
    api.inject(Fault("body", body=b'{"code": 0, "data": {"list": null}}'))
    assert read_all(source(api, {"pagination": {"style": "page"}}))[0] == []


def test_gbk_declared_page_is_decoded(api: DeptApi) -> None:
    row = api.table.add(1)[0]
    row = row | {"sxmc": "食品经营许可（变更）"}
    body = json.dumps({"data": {"list": [row]}}, ensure_ascii=False).encode("gbk")
    headers = {"Content-Type": "application/json; charset=GBK"}
    api.inject(Fault("body", body=body, headers=headers))
    envelopes, _ = read_all(source(api, {"pagination": {"style": "none"}}))
    assert envelopes[0].record.item_name == "食品经营许可（变更）"


def test_page_over_the_byte_limit_is_refused_without_retrying(api: DeptApi) -> None:
    api.table.add(60)
    src = source(
        api, {"pagination": {"style": "page", "page_size": 50}}, limits={"max_page_bytes": 4096}
    )
    with pytest.raises(AdapterError, match=r"page 1 of stream 'cases'.*max_page_bytes \(4096\)"):
        read_all(src)
    assert len(api.data_requests()) == 1


def test_max_pages_without_incremental_state_is_an_error(api: DeptApi) -> None:
    api.table.add(120)
    src = source(
        api,
        {"pagination": {"style": "page", "page_size": 50}, "incremental": None},
        limits={"max_pages": 2},
    )
    with pytest.raises(AdapterError, match=r"max_pages \(2\).*would be lost"):
        read_all(src)


def test_max_pages_with_incremental_state_continues_next_run(api: DeptApi) -> None:
    valid = api.table.add(120)
    config = {"limits": {"max_pages": 1}}
    first, state = read_all(source(api, **config))
    second, state = read_all(source(api, **config), state)
    third, state = read_all(source(api, **config), state)
    assert [len(first), len(second), len(third)] == [50, 50, 20]
    assert case_numbers(first + second + third) == [r["ywbh"] for r in valid]


def test_pagination_that_does_not_advance_is_stopped(api: DeptApi) -> None:
    row = api.table.add(1)[0]
    page = json.dumps({"data": {"list": [row]}, "next_cursor": "same"}).encode()
    api.inject(Fault("body", times=5, body=page))
    src = source(api, {"pagination": {"style": "cursor", "page_size": 1}, "incremental": None})
    with pytest.raises(AdapterError, match="page 3 would repeat page 2"):
        read_all(src)


@pytest.mark.parametrize("style", ["page", "offset"])
def test_a_server_ignoring_the_page_parameter_is_stopped_at_the_first_repeat(
    api: DeptApi, style: str
) -> None:
    rows = api.table.add(2)
    # the same full page whatever page or offset is asked for (key order varies: same rows)
    page = json.dumps({"data": {"list": rows}}).encode()
    shuffled = json.dumps({"data": {"list": [dict(reversed(r.items())) for r in rows]}})
    api.inject(Fault("body", times=1, body=page))
    api.inject(Fault("body", times=300, body=shuffled.encode()))
    src = source(
        api,
        {"pagination": {"style": style, "page_size": 2}, "incremental": None},
        limits={"max_pages": 300},
    )
    param = "page" if style == "page" else "offset"
    with pytest.raises(AdapterError) as raised:
        read_all(src)
    message = str(raised.value)
    assert "page 2" in message and "same records as page 1" in message
    assert f"ignores the {param!r} parameter" in message and "max_pages" not in message
    assert len(api.data_requests()) == 2


def test_next_link_to_another_server_is_not_followed(api: DeptApi) -> None:
    api.table.add(1)
    headers = {"Link": '<http://198.51.100.7/steal?page=2>; rel="next"'}
    page = json.dumps({"data": {"list": []}}).encode()
    api.inject(Fault("body", body=page, headers=headers))
    with pytest.raises(AdapterError, match=r"another server \(http://198\.51\.100\.7/steal"):
        read_all(source(api, {"pagination": {"style": "link"}}))


def test_check_passes_with_credentials_and_uses_the_health_endpoint(api: DeptApi) -> None:
    source(api).check()
    source(api, health_path="/health").check()
    assert [r.path for r in api.requests] == [API + "/cases", API + "/health"]
    assert all(r.authorization == f"Bearer {api.token}" for r in api.requests)


def test_check_refused_credentials_is_a_connection_check_error(api: DeptApi) -> None:
    src = HttpSource.from_config(
        http_config(api), secrets=lambda ref: secrets_for(DeptApi(token="wrong-token"))(ref)
    )
    with pytest.raises(ConnectionCheckError, match=r"HTTP 401.*env:DEPT_API_TOKEN"):
        src.check()


def test_check_on_a_stopped_server_says_it_cannot_connect() -> None:
    with DeptApi() as stopped:
        config = http_config(stopped)
        resolver = secrets_for(stopped)
    src = HttpSource.from_config(config, secrets=resolver)
    src.sleep = lambda seconds: None
    with pytest.raises(ConnectionCheckError, match=r"connection failed.*gave up after 3 attempts"):
        src.check()


def test_basic_auth_reads() -> None:
    with DeptApi(basic=("hub-reader", "basic-pw-7")) as api:
        rows = api.table.add(5)
        envelopes, _ = read_all(source(api))
        assert case_numbers(envelopes) == [r["ywbh"] for r in rows]
        assert all(r.authorization.startswith("Basic ") for r in api.requests)


def test_api_key_header_auth_and_plain_headers_are_sent() -> None:
    with DeptApi(token=None) as api:
        api.table.add(1)
        config = http_config(
            api,
            auth={"type": "header", "header": "X-Api-Key", "value": "env:DEPT_KEY"},
            headers={"X-Dept-Code": "SZSCJG"},
        )
        src = HttpSource.from_config(config, secrets=lambda ref: SecretStr("key-123"))
        assert len(read_all(src)[0]) == 1
        sent = api.requests[0].headers
        assert (sent["X-Api-Key"], sent["X-Dept-Code"]) == ("key-123", "SZSCJG")


def test_credential_headers_and_params_are_secret_references_resolved_when_read() -> None:
    with DeptApi(token=None) as api:
        api.table.add(1)
        config = http_config(
            api,
            {"params": {"access_token": "env:DEPT_TOKEN", "keyword": "x", "sort_key": "env:X"}},
            headers={"AppSecret": "env:DEPT_SECRET", "X-Dept-Code": "SZSCJG"},
            auth=None,
        )
        secrets = {"env:DEPT_TOKEN": "tok-1", "env:DEPT_SECRET": "sec-2", "env:X": "gxsj"}
        src = HttpSource.from_config(config, secrets=lambda ref: SecretStr(secrets[ref]))
        assert len(read_all(src)[0]) == 1
        sent = api.requests[0]
        assert (sent.headers["AppSecret"], sent.headers["X-Dept-Code"]) == ("sec-2", "SZSCJG")
        assert sent.params["access_token"] == "tok-1" and sent.params["keyword"] == "x"
        assert sent.params["sort_key"] == "gxsj"


def test_a_subclass_literal_credential_param_is_refused() -> None:
    class Leaky(HttpSource):
        stream = "cases"
        endpoint = "/cases"
        mapping = DEPT_MAPPING
        params: ClassVar[dict[str, str]] = {"appkey": "4f9a8b"}

    with pytest.raises(ConfigError) as info:
        Leaky.from_config({"base_url": "https://api.example.cn/v1"})
    assert dict(info.value.problems)["Leaky.params.appkey"].startswith("looks like a credential")


def test_airflow_connection_password_is_the_token() -> None:
    with DeptApi(token="tok/en+1") as api:
        api.table.add(1)
        config = http_config(api, auth={"type": "bearer", "token": "airflow:dept_api"})
        uri = "https://svc:tok%2Fen%2B1@api.example.cn"
        src = HttpSource.from_config(config, secrets=lambda ref: SecretStr(uri))
        assert len(read_all(src)[0]) == 1
        assert api.requests[0].authorization == "Bearer tok/en+1"


class MarketCasesApi(HttpSource):
    """What a department engineer writes (the DESIGN card's shape)."""

    stream = "cases"
    endpoint = "/cases"
    mapping = "mapping.yaml"
    records_path = "data.list"
    cursor = "gxsj"
    pagination = {"style": "keyset", "page_size": 25}  # noqa: RUF012 - class-level default


def test_department_subclass_with_class_attributes(api: DeptApi, tmp_path: Path) -> None:
    (tmp_path / "mapping.yaml").write_text(
        yaml.safe_dump(DEPT_MAPPING, allow_unicode=True), encoding="utf-8"
    )
    config = tmp_path / "source.yaml"
    config.write_text(
        yaml.safe_dump(
            {"base_url": api.base_url, "auth": {"type": "bearer", "token": "env:DEPT_API_TOKEN"}}
        ),
        encoding="utf-8",
    )
    valid = api.table.add(30)
    src = MarketCasesApi.from_config(config, secrets=secrets_for(api))
    spec = src.stream("cases")  # the lookup method is not hidden by `stream = "cases"`
    assert (spec.kind, spec.primary_key, spec.cursor_field) == (
        "case",
        ("source_system", "dept_case_no"),
        "gxsj",
    )
    envelopes, state = read_all(src)
    assert case_numbers(envelopes) == [r["ywbh"] for r in valid]
    assert api.data_requests()[1].params["limit"] == "25"
    assert state["id"] == valid[-1]["id"]


def test_registry_finds_the_builtin_http_source() -> None:
    assert load_adapter("http") is HttpSource


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"auth": {"type": "bearer", "token": "abc123"}}, "auth.bearer.token", "reference"),
        ({"base_url": "https://hub:pw@api.example.cn/v1"}, "base_url", "user name or password"),
        ({"headers": {"Authorization": "Bearer x"}}, "headers", "credentials"),
        ({"headers": {"X-Api-Key": "sk_live_4f9a8b"}}, "headers", "'X-Api-Key' looks like a"),
        ({"headers": {"X-Auth-Token": "4f9a8b"}}, "headers", "'X-Auth-Token' looks like a"),
        ({"headers": {"AppSecret": "4f9a8b"}}, "headers", "'AppSecret' looks like a"),
        (
            {"streams": {"s": {"params": {"access_token": "4f9a8b"}}}},
            "streams.s.params",
            "'access_token' looks like a credential",
        ),
        (
            {"streams": {"s": {"params": {"key": "4f9a8b"}}}},
            "streams.s.params",
            "'key' looks like a credential",
        ),
        (
            {"streams": {"s": {"endpoint": "/x?access_token=4f9a8b"}}},
            "streams.s.endpoint",
            "credential parameter 'access_token'",
        ),
        ({"base_url": "ftp://api.example.cn"}, "base_url", "http"),
        ({"retries": {"max_attempts": 0}}, "retries.max_attempts", "greater than"),
    ],
)
def test_config_errors_name_the_field(change: dict, path: str, message: str) -> None:
    data = {"base_url": "https://api.example.cn/v1", "streams": {}} | change
    with pytest.raises(ConfigError) as info:
        HttpSource.Config.load(data)
    assert any(p.startswith(path) and message in m for p, m in info.value.problems), (
        info.value.problems
    )
    # the messages read as documented, without pydantic's "Value error, " in front
    assert not any(m.startswith("Value error") for _, m in info.value.problems)


def test_keyset_pages_need_after_id_incremental() -> None:
    data = {
        "base_url": "https://api.example.cn/v1",
        "streams": {"cases": {"endpoint": "/cases", "pagination": {"style": "keyset"}}},
    }
    with pytest.raises(ConfigError, match="keyset needs incremental with mode after_id"):
        HttpSource.from_config(data)


def test_stream_problems_are_listed_together() -> None:
    data = {"base_url": "https://api.example.cn/v1", "streams": {"cases": {}, "items": {}}}
    with pytest.raises(ConfigError) as info:
        HttpSource.from_config(data)
    assert [path for path, _ in info.value.problems] == [
        "streams.cases.endpoint",
        "streams.cases.mapping",
        "streams.items.endpoint",
        "streams.items.mapping",
    ]


def test_broken_mapping_file_is_named_in_the_config_error(tmp_path: Path) -> None:
    (tmp_path / "mapping.yaml").write_text(
        "kind: case\nfields:\n  dept_case_no: {from: ywbh, transforms: [no_such_transform]}\n",
        encoding="utf-8",
    )
    data = {
        "base_url": "https://api.example.cn/v1",
        "streams": {"cases": {"endpoint": "/cases", "mapping": "mapping.yaml"}},
    }
    with pytest.raises(ConfigError) as info:
        HttpSource.from_config(data, base_dir=tmp_path)
    path, message = info.value.problems[0]
    assert path == "streams.cases"
    assert "mapping.yaml" in message and "no_such_transform" in message


@pytest.mark.parametrize("name", ["page", "cursor", "keyset"])
def test_the_endpoints_own_query_goes_out_with_every_request(api: DeptApi, name: str) -> None:
    """httpx replaces a URL's query with the request's params: the endpoint's own
    parameters (/cases?dept=SCJG&status=done) were dropped silently from every request."""
    valid = api.table.add(90)
    src = source(
        api,
        {"endpoint": "/cases?dept=SCJG&status=done&tag=a&tag=b", "pagination": PAGINATIONS[name]},
    )
    envelopes, _ = read_all(src)
    assert case_numbers(envelopes) == [row["ywbh"] for row in valid]
    requests = api.data_requests()
    assert len(requests) >= 3
    for seen in requests:
        assert (seen.params["dept"], seen.params["status"]) == ("SCJG", "done"), seen.params
    assert {e.location.file for e in envelopes} == {api.base_url + "/cases"}


@pytest.mark.parametrize(
    ("endpoint", "named"),
    [
        ("/cases?dept=SCJG&page=3", "'page'"),  # the page pagination's own parameter
        ("/cases?size=10", "'size'"),
        ("/cases?updated_after=2026-01-01", "'updated_after'"),  # the incremental cursor
        ("/cases?dept=SCJG", "'dept', which params sets too"),
    ],
)
def test_a_paging_parameter_in_the_endpoints_query_is_a_config_error(
    api: DeptApi, endpoint: str, named: str
) -> None:
    stream = {"endpoint": endpoint, "pagination": {"style": "page"}, "params": {"dept": "X"}}
    with pytest.raises(ConfigError) as info:
        source(api, stream)
    assert named in str(info.value) and "endpoint" in str(info.value)


@pytest.mark.parametrize("style", ["cursor", "link"])
@pytest.mark.parametrize("incremental", [False, True])
def test_a_cursor_or_link_loop_is_stopped_at_the_first_repeat(
    api: DeptApi, style: str, incremental: bool
) -> None:
    """A → B → A: only the previous request was compared, so the loop ran to max_pages
    (a wrong 'raise limits.max_pages' advice, or duplicates with incremental state)."""
    rows = api.table.add(3)
    token = "SEKRIT-cursor-A"
    pages = []
    for row, nxt in zip(rows, [token, "B", token], strict=True):
        body: dict = {"data": {"list": [row]}}
        headers = {}
        if style == "cursor":
            body["next_cursor"] = nxt
        else:
            headers["Link"] = f'<{API}/cases?cursor={nxt}&n=1>; rel="next"'
        pages.append(Fault("body", body=json.dumps(body).encode(), headers=headers))
    for fault in pages * 20:
        api.inject(fault)
    stream = {
        "pagination": {"style": style, "page_size": 1, "cursor_path": "next_cursor"},
        "incremental": {"cursor_field": "gxsj", "id_field": "id"} if incremental else None,
        "params": {"access_token": "env:DEPT_API_TOKEN"},
    }
    src = HttpSource.from_config(
        http_config(api, stream, limits={"max_pages": 50}),
        secrets=lambda ref: SecretStr(token if ref == "env:DEPT_API_TOKEN" else "x"),
    )
    with pytest.raises(AdapterError) as raised:
        read_all(src)
    message = str(raised.value)
    assert "page 4 would repeat page 2" in message and "loops" in message
    assert "max_pages" not in message and token not in message
    assert ("the cursor '***'" if style == "cursor" else "cursor=***") in message
    assert len(api.data_requests()) == 3
