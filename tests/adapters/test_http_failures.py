"""Failures of the department API: retried when they can pass, reported when they cannot.

Attempts are counted on the server's side; backoff waits are recorded (the source's
``sleep`` is replaced), never measured.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from httpdept import API, DEPT_MAPPING, DeptApi, Fault, http_config, secrets_for
from pydantic import SecretStr

from adapters.builtin.http import HttpSource
from adapters.builtin.http_config import RetryConfig
from adapters.builtin.http_transport import (
    backoff_delay,
    parse_retry_after,
    redact_text,
    safe_url,
)
from adapters.sdk.errors import AdapterError, ConnectionCheckError


@pytest.fixture
def api() -> Iterator[DeptApi]:
    with DeptApi() as running:
        yield running


class Waits(list):
    """Stands in for time.sleep: remembers each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source(api: DeptApi, waits: Waits, stream: dict | None = None, **top) -> HttpSource:
    top.setdefault(
        "retries", {"max_attempts": 4, "backoff_base": 0.5, "backoff_max": 8, "jitter": False}
    )
    src = HttpSource.from_config(http_config(api, stream, **top), secrets=secrets_for(api))
    src.sleep = waits
    return src


def read_ids(src: HttpSource) -> list[int]:
    with src.read("cases") as stream_read:
        return [e.raw["id"] for e in stream_read]


def test_503_twice_then_success_is_retried_with_growing_backoff(api: DeptApi) -> None:
    rows = api.table.add(10)
    api.inject(Fault("status", status=503, times=2))
    waits = Waits()
    assert read_ids(source(api, waits)) == [r["id"] for r in rows]
    assert len(api.data_requests()) == 2 + 2  # two refused, then page 1 and the empty page 2
    assert waits == [0.5, 1.0]


def test_backoff_is_capped_and_jittered_below_the_cap() -> None:
    retry = RetryConfig(backoff_base=1, backoff_max=5, jitter=False)
    assert [backoff_delay(n, retry) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    jittered = RetryConfig(backoff_base=1, backoff_max=5, jitter=True)
    assert backoff_delay(3, jittered, rng=lambda: 0.25) == 1.0
    assert backoff_delay(10, jittered, rng=lambda: 0.999) < 5


def test_retry_after_is_honoured(api: DeptApi) -> None:
    api.table.add(1)
    api.inject(Fault("status", status=429, retry_after="7"))
    waits = Waits()
    assert len(read_ids(source(api, waits))) == 1
    assert waits == [7.0]


def test_retry_after_beyond_the_configured_maximum_fails_the_read(api: DeptApi) -> None:
    api.inject(Fault("status", status=503, retry_after="3600"))
    waits = Waits()
    src = source(
        api, waits, retries={"max_attempts": 3, "backoff_base": 0.1, "retry_after_max": 60}
    )
    with pytest.raises(AdapterError, match=r"retry after 3600 s.*retry_after_max \(60 s\)"):
        read_ids(src)
    assert waits == []


def test_retry_after_as_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 02 Mar 2026 08:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon", now) is None


def test_persistent_500_gives_up_after_max_attempts_naming_page_and_url(api: DeptApi) -> None:
    api.table.add(60)
    api.inject(Fault("status", status=500, skip=1, times=100))  # page 2 keeps failing
    waits = Waits()
    with pytest.raises(AdapterError) as info:
        read_ids(source(api, waits))
    message = str(info.value)
    assert message.startswith("page 2 of stream 'cases': " + api.base_url + "/cases?")
    assert "HTTP 500" in message and "gave up after 4 attempts" in message
    assert len(api.data_requests()) == 1 + 4
    assert waits == [0.5, 1.0, 2.0]


def test_timeout_is_retried_then_reported(api: DeptApi) -> None:
    api.table.add(3)
    api.inject(Fault("slow", delay=3, times=10))
    waits = Waits()
    src = source(api, waits, timeout=0.2, retries={"max_attempts": 2, "backoff_base": 0})
    with pytest.raises(AdapterError, match=r"page 1 .*no response within 0\.2 s.*2 attempts"):
        read_ids(src)
    assert len(api.data_requests()) == 2


def test_one_slow_response_is_retried_and_the_read_completes(api: DeptApi) -> None:
    rows = api.table.add(3)
    api.inject(Fault("slow", delay=3))
    src = source(api, Waits(), timeout=0.2)
    assert read_ids(src) == [r["id"] for r in rows]


def test_401_is_a_clear_error_and_not_retried(api: DeptApi) -> None:
    api.table.add(3)
    waits = Waits()
    src = HttpSource.from_config(
        http_config(api), secrets=secrets_for(DeptApi(token="expired-token-0000"))
    )
    src.sleep = waits
    with pytest.raises(ConnectionCheckError) as info:
        read_ids(src)
    message = str(info.value)
    assert "HTTP 401" in message and "env:DEPT_API_TOKEN" in message
    assert "not retried" in message
    assert "expired-token-0000" not in message
    assert len(api.data_requests()) == 1 and waits == []


def test_other_4xx_is_not_retried(api: DeptApi) -> None:
    api.inject(Fault("status", status=404))
    with pytest.raises(AdapterError, match=r"HTTP 404.*not retried"):
        read_ids(source(api, Waits()))
    assert len(api.data_requests()) == 1


def test_malformed_page_is_retried_then_named_in_the_error(api: DeptApi) -> None:
    api.table.add(120)
    api.inject(Fault("malformed", skip=2, times=100))  # page 3 is always cut off
    waits = Waits()
    with pytest.raises(AdapterError) as info:
        read_ids(source(api, waits))
    message = str(info.value)
    assert message.startswith("page 3 of stream 'cases': " + api.base_url + "/cases?")
    assert "malformed page" in message and "not valid JSON" in message
    assert "gave up after 4 attempts" in message
    assert len(api.data_requests()) == 2 + 4


def test_one_malformed_page_is_retried_and_the_read_completes(api: DeptApi) -> None:
    rows = api.table.add(120)
    api.inject(Fault("malformed", skip=1))
    assert read_ids(source(api, Waits())) == [r["id"] for r in rows]


def test_connection_refused_is_retried_then_reported() -> None:
    with DeptApi() as gone:
        config = http_config(gone)
        resolver = secrets_for(gone)
    waits = Waits()
    src = HttpSource.from_config(config, secrets=resolver)
    src.sleep = waits
    with pytest.raises(AdapterError, match=r"connection failed.*gave up after 3 attempts"):
        read_ids(src)
    assert len(waits) == 2


def test_redirects_are_not_followed(api: DeptApi) -> None:
    api.inject(Fault("body", status=302, headers={"Location": "http://198.51.100.7/cases"}))
    with pytest.raises(AdapterError, match=r"redirect to http://198\.51\.100\.7/cases"):
        read_ids(source(api, Waits()))


def test_safe_url_hides_user_info_and_credential_parameters() -> None:
    shown = safe_url("https://hub:pw@api.example.cn:8443/v1/cases?page=2&access_token=abc&sign=x")
    assert shown == "https://api.example.cn:8443/v1/cases?page=2&access_token=***&sign=***"
    line = 'GET https://hub:pw@api.example.cn/v1/x?appKey=K1&page=2 "HTTP/1.1 200 OK"'
    assert (
        redact_text(line) == 'GET https://api.example.cn/v1/x?appKey=***&page=2 "HTTP/1.1 200 OK"'
    )


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_no_credentials_in_locations_messages_or_logs(
    auth: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-Pa55-for-the-hub"
    running = DeptApi(token=secret) if auth == "bearer" else DeptApi(basic=("hub", secret))
    with running as api:
        rows = api.table.add(60, bad=1)
        # a next link that carries a token, as some gateways do
        page = {"data": {"list": rows[:50]}}
        link = f'<{API}/cases?cursor=x&access_token={secret}>; rel="next"'
        api.inject(Fault("body", body=json.dumps(page).encode(), headers={"Link": link}))
        api.inject(Fault("status", status=503))
        api.inject(Fault("malformed", times=10))
        waits = Waits()
        src = source(api, waits, {"pagination": {"style": "link", "page_size": 50}})
        caplog.set_level(logging.DEBUG)
        envelopes = []
        with pytest.raises(AdapterError) as info, src.read("cases") as stream_read:
            envelopes.extend(stream_read)
        assert api.requests[0].authorization is not None  # credentials were sent
    texts = [str(info.value), caplog.text]
    texts += [str(e.location) for e in envelopes]
    texts += [f.message for e in envelopes for f in e.findings]
    assert "access_token=***" in str(info.value)
    assert "HTTP Request: GET" in caplog.text  # httpx's own request log was captured
    for text in texts:
        assert secret not in text
        assert "hub:" not in text


@pytest.mark.parametrize("status", [400, 500])
@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_error_bodies_echoing_the_secrets_never_show_them(
    auth: str, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Servers echo the request (its query, its headers) in error pages: every secret
    value of the read is replaced by *** in the message and the log, in any form."""
    import base64
    from urllib.parse import quote

    secret = "SEKRIT+TOKEN/123"
    app_secret = "app-secret-77Q"
    running = DeptApi(token=secret) if auth == "bearer" else DeptApi(basic=("hub", secret))
    with running as api:
        echo = (
            f"bad request from {secret}; query dept=SCJG&appkey={quote(app_secret, safe='')}"
            f"&sig={quote(secret, safe='')}; header AppSecret: {app_secret}; "
            f"Authorization: Basic {base64.b64encode(f'hub:{secret}'.encode()).decode()}"
        ).encode()
        api.inject(Fault("body", status=status, body=echo, times=10))
        src = HttpSource.from_config(
            http_config(
                api,
                {"params": {"appkey": "env:APP_SECRET"}},
                headers={"AppSecret": "env:APP_SECRET"},
                retries={"max_attempts": 2, "backoff_base": 0, "backoff_max": 0},
            ),
            secrets=lambda ref: (
                secrets_for(api)(ref) if ref != "env:APP_SECRET" else SecretStr(app_secret)
            ),
        )
        src.sleep = Waits()
        caplog.set_level(logging.DEBUG)
        with pytest.raises(AdapterError) as info, src.read("cases") as stream_read:
            list(stream_read)
    message = str(info.value)
    assert f"HTTP {status}" in message
    assert status == 500 or "bad request from ***" in message
    for text in (message, caplog.text):
        for shown in (secret, quote(secret, safe=""), app_secret):
            assert shown not in text
        if auth == "basic":  # the Authorization header the hub sent, echoed back
            assert "aHViOlNFS1JJVCtUT0tFTi8xMjM" not in text


def test_timeout_bounds_the_whole_response_of_a_trickling_server() -> None:
    """httpx's timeout is per socket read: a page sent a byte at a time stalled a pull
    for the page's length in seconds. The whole response now gets ``timeout``."""
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)  # so the thread sees stop even with no client
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.recv(65536)
                body = json.dumps({"data": {"list": [{"id": n} for n in range(100)]}}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                )
                for byte in body:
                    if stop.wait(0.05):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        config = {
            "base_url": f"http://127.0.0.1:{port}/api",
            "auth": {"type": "bearer", "token": "env:DEPT_API_TOKEN"},
            "timeout": 1,
            "retries": {"max_attempts": 1, "backoff_base": 0, "backoff_max": 0},
            "streams": {
                "cases": {
                    "endpoint": "/cases",
                    "mapping": DEPT_MAPPING,
                    "records_path": "data.list",
                    "pagination": {"style": "none"},
                }
            },
        }
        src = HttpSource.from_config(config, secrets=lambda ref: SecretStr("t0k3n-trickle"))
        started = time.monotonic()
        with pytest.raises(AdapterError) as info, src.read("cases") as stream_read:
            list(stream_read)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
        thread.join(5)
    assert elapsed < 3, elapsed  # the whole page would take over 60 s
    message = str(info.value)
    assert "no complete response within 1 s" in message
    assert f"127.0.0.1:{port}/api/cases" in message and "t0k3n-trickle" not in message


@pytest.mark.parametrize("name", ["ak", "sk", "ticket", "jwt", "X-Session-Id", "passphrase"])
def test_every_credential_name_the_configuration_refuses_is_hidden_in_shown_urls(name):
    """The configuration refuses these as literals; a next-page link or an endpoint's own
    query may still carry one, and must not show it in a message or a log line."""
    from adapters.builtin.http_transport import redact_text, safe_url

    url = f"https://api.example/cases?{name}=SECRET-VALUE&page=2&task=7"
    assert "SECRET-VALUE" not in safe_url(url)
    assert "page=2" in safe_url(url) and "task=7" in safe_url(url)
    line = redact_text(f"GET {url} 200")
    assert "SECRET-VALUE" not in line and "page=2" in line and "task=7" in line
