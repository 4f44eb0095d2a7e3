"""A department's case API on 127.0.0.1, for the ``http`` adapter's tests and kit runs.

It behaves like the REST endpoint of a (fictional) 深圳市市场监督管理局 case system:
case objects in the department's own JSON shape (pinyin field names, its own state codes,
Chinese date formats, the applicant as a nested object), served from an in-memory table
in (updated-at, id) order with every pagination style the adapter supports, both
incremental filters, bearer or basic authentication, and fault injection.

Bulk rows (a million for the memory check) are not stored: a bulk range is its first id,
first timestamp and length, and each row is generated from its id when a page needs it.

Data API (all under ``/api/v1``; every request needs the credentials):

- ``GET /health``
- ``GET /cases`` — ``updated_after=T[&after_id=ID]`` (rows after (T, ID)), or
  ``updated_since=T`` (rows at or after T); pages by ``page``+``size``,
  ``offset``+``limit``, or ``cursor``+``limit``. Body
  ``{"code": 0, "msg": "成功", "data": {"total": N, "list": [...]}, "next_cursor": …}``
  and a ``Link: <…>; rel="next"`` header while rows remain.

Control API for :class:`adapters.builtin.http_harness.HttpHarness` (POST, JSON, under
``/api/v1``): ``/_control/reset``, ``/_control/add {n, cursor_value, bad}`` → ``{"rows": [...]}``,
``/_control/change {ids}``, ``/_control/bulk {n}``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import heapq
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pydantic import SecretStr
from std_factories import CST, IMPL

from adapters.sdk.config import resolve_secret
from standards.identifiers import citizen_id_check_char

API = "/api/v1"
CONTROL = API + "/_control"
EPOCH = datetime(2026, 3, 1, 8, 0, tzinfo=CST)  # before the kit's boundary value
SOURCE_SYSTEM = "SZ-SCJG-API"
MAX_PAGE_SIZE = 5000
TICK = timedelta(milliseconds=1)

_NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄晓明", "周杰", "吴婷")

#: The department's case states: 01 收件, 02 受理, 09 办结(通过), 10 办结(不通过).
DEPT_STATES = {"01": "1", "02": "3", "09": "11", "10": "13"}

#: The mapping a department engineer would write for this API (see docs/adapters.md).
DEPT_MAPPING: dict[str, Any] = {
    "kind": "case",
    "timezone": "+08:00",
    "code_tables": {"dept_states": DEPT_STATES},
    "fields": {
        "source_system": {"const": SOURCE_SYSTEM},
        "dept_case_no": {"from": "ywbh", "transforms": ["trim"]},
        "impl_code": {"from": "sxbm", "transforms": ["trim", "halfwidth", "upper"]},
        "item_name": {"from": "sxmc"},
        "applicant.name": {"from": "sqr.mc", "transforms": ["trim"]},
        "applicant.id_type": {"from": "sqr.zjlx"},
        "applicant.id_number": {
            "from": "sqr.zjhm",
            "transforms": ["trim", "halfwidth", "upper"],
        },
        "applicant.phone": {"from": "sqr.lxdh"},
        "accepted_at": {"from": "slsj", "datetime": ["%Y年%m月%d日 %H时%M分"]},
        "promised_limit_days": {"from": "cnsx", "type": "int"},
        "region_code": {"from": "xzqh"},
        "updated_at": {"from": "gxsj", "datetime": ["iso"]},
        "events": {
            "rows": "lcjl",
            "fields": {
                "state": {"from": "zt", "code_table": "dept_states"},
                "at": {"from": "sj", "datetime": ["%Y-%m-%d %H:%M:%S"]},
                "actor": {"from": "jbr"},
            },
        },
    },
}


def stamp(when: datetime) -> str:
    """How the API writes its update times (and reads them back from query strings)."""
    return when.isoformat(timespec="microseconds")


def citizen_id(row_id: int) -> str:
    birth = datetime(1960, 1, 1) + timedelta(days=(row_id * 37) % 15000)
    body = f"440305{birth:%Y%m%d}{row_id % 1000:03d}"
    return body + citizen_id_check_char(body)


def case_row(row_id: int, updated: datetime, *, version: int = 1, bad: bool = False) -> dict:
    """One case object as the department API serves it."""
    day = 1 + row_id % 27
    received = datetime(2026, 2, day, 9, 0)
    accepted = received + timedelta(minutes=30)
    return {
        "id": row_id,
        "ywbh": f"SZSC2026{row_id:010d}",
        "sxbm": IMPL,
        "sxmc": "食品经营许可",
        "sqr": {
            "mc": _NAMES[row_id % len(_NAMES)],
            "zjlx": "111",
            "zjhm": citizen_id(row_id),
            "lxdh": f"1380000{version % 10000:04d}",
        },
        # A bad row has an acceptance time no format matches (13th month, 61st minute).
        "slsj": "2026年13月45日 25时61分" if bad else f"{accepted:%Y年%m月%d日 %H时%M分}",
        "cnsx": 10,
        "xzqh": "440305",
        "lcjl": [
            {"zt": "01", "sj": f"{received:%Y-%m-%d %H:%M:%S}", "jbr": "南山区政务服务中心"},
            {"zt": "02", "sj": f"{accepted:%Y-%m-%d %H:%M:%S}", "jbr": "食品科"},
        ],
        "gxsj": stamp(updated),
        "bbh": version,
    }


@dataclass(slots=True)
class _Bulk:
    """Rows ``lo..hi`` of a bulk insert whose row ``base`` was stamped ``ts0``."""

    base: int
    ts0: datetime
    lo: int
    hi: int

    def ts(self, row_id: int) -> datetime:
        return self.ts0 + (row_id - self.base) * TICK

    def key(self, row_id: int) -> tuple[datetime, int]:
        return (self.ts(row_id), row_id)


class CaseTable:
    """The department's case table: stored rows plus generated bulk ranges."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.rows: dict[int, dict] = {}
            self.bulk: list[_Bulk] = []
            self.next_id = 1
            self.clock = EPOCH
            self._keys: list[tuple[datetime, int]] | None = None

    def __len__(self) -> int:
        return len(self.rows) + sum(b.hi - b.lo + 1 for b in self.bulk)

    def _tick(self) -> datetime:
        self.clock += TICK
        return self.clock

    def _new_id(self) -> int:
        row_id = self.next_id
        self.next_id += 1
        return row_id

    def add(self, n: int, *, cursor_value: datetime | None = None, bad: int = 0) -> list[dict]:
        """Add ``n`` valid and ``bad`` unmappable rows; the valid ones are returned."""
        with self.lock:
            if cursor_value is not None:
                self.clock = max(self.clock, cursor_value)
            valid = []
            for i in range(n + bad):
                ts = cursor_value if cursor_value is not None else self._tick()
                row = case_row(self._new_id(), ts, bad=i >= n)
                self.rows[row["id"]] = row
                if i < n:
                    valid.append(row)
            self._keys = None
            return valid

    def change(self, ids: list[int]) -> None:
        """A clerk edits these cases: new phone number, new version, new update time."""
        with self.lock:
            for row_id in ids:
                row = self.rows.get(row_id) or self._take_from_bulk(row_id)
                if row is None:
                    raise KeyError(f"no case with id {row_id}")
                version = row["bbh"] + 1
                self.rows[row_id] = case_row(row_id, self._tick(), version=version)
            self._keys = None

    def _take_from_bulk(self, row_id: int) -> dict | None:
        for i, run in enumerate(self.bulk):
            if run.lo <= row_id <= run.hi:
                parts = [
                    _Bulk(run.base, run.ts0, lo, hi)
                    for lo, hi in ((run.lo, row_id - 1), (row_id + 1, run.hi))
                    if lo <= hi
                ]
                self.bulk[i : i + 1] = parts
                return case_row(row_id, run.ts(row_id))
        return None

    def add_bulk(self, n: int) -> None:
        """``n`` valid rows, one millisecond apart, generated on demand."""
        with self.lock:
            first = self.next_id
            self.next_id += n
            ts0 = self.clock + TICK
            self.bulk.append(_Bulk(first, ts0, first, first + n - 1))
            self.clock = ts0 + (n - 1) * TICK

    def row(self, row_id: int) -> dict:
        stored = self.rows.get(row_id)
        if stored is not None:
            return stored
        for run in self.bulk:
            if run.lo <= row_id <= run.hi:
                return case_row(row_id, run.ts(row_id))
        raise KeyError(row_id)

    # -- queries in (updated_at, id) order

    def _sorted_keys(self) -> list[tuple[datetime, int]]:
        if self._keys is None:
            self._keys = sorted(
                (datetime.fromisoformat(r["gxsj"]), r["id"]) for r in self.rows.values()
            )
        return self._keys

    def _runs(
        self, after: tuple[datetime, int] | None, since: datetime | None
    ) -> list[tuple[list[tuple[datetime, int]] | _Bulk, int, int]]:
        """Each stored or bulk run with the index range matching the filter."""
        keys = self._sorted_keys()
        runs: list[tuple[list[tuple[datetime, int]] | _Bulk, int, int]] = []
        if after is not None:
            start = bisect.bisect_right(keys, after)
        elif since is not None:
            start = bisect.bisect_left(keys, since, key=lambda k: k[0])
        else:
            start = 0
        runs.append((keys, start, len(keys)))
        for run in self.bulk:
            ids = range(run.lo, run.hi + 1)
            if after is not None:
                first = bisect.bisect_right(ids, after, key=run.key)
            elif since is not None:
                first = bisect.bisect_left(ids, since, key=run.ts)
            else:
                first = 0
            runs.append((run, first, len(ids)))
        return runs

    def query(
        self,
        *,
        after: tuple[datetime, int] | None = None,
        since: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict], int]:
        """One page of rows matching the filter, and how many match in all."""
        with self.lock:
            runs = self._runs(after, since)
            total = sum(end - start for _, start, end in runs)
            streams: list[Iterator[tuple[datetime, int]]] = []
            for run, start, end in runs:
                if isinstance(run, _Bulk):
                    streams.append(run.key(i) for i in range(run.lo + start, run.lo + end))
                else:
                    streams.append(itertools.islice(run, start, end))
            page = itertools.islice(heapq.merge(*streams), offset, offset + limit)
            return [self.row(row_id) for _, row_id in page], total


# ---------------------------------------------------------------- the HTTP service


@dataclass(slots=True)
class Fault:
    """Misbehaviour for data requests: after ``skip`` good ones, the next ``times``.

    ``kind``: ``status`` (answer ``status``, with ``Retry-After`` if given), ``slow``
    (wait ``delay`` seconds before answering), ``malformed`` (a page cut off mid-JSON),
    ``body`` (answer ``status`` with ``body`` and ``headers`` as given).
    """

    kind: str
    times: int = 1
    skip: int = 0
    status: int | None = None  # status: 503 unless given; body: 200 unless given
    delay: float = 0.0
    retry_after: str | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Seen:
    """One request as the server saw it (for counting attempts in tests)."""

    method: str
    path: str
    params: dict[str, str]
    authorization: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class DeptApi:
    """The service: start() it, point the adapter at ``base_url``, stop() it."""

    token: str | None = "dept-api-token-9f3a"
    basic: tuple[str, str] | None = None
    table: CaseTable = field(default_factory=CaseTable)
    faults: list[Fault] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the API first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API}"

    @property
    def origin(self) -> str:
        return self.base_url[: -len(API)]

    def start(self) -> DeptApi:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="dept-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DeptApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def data_requests(self, path: str = "/cases") -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == API + path]

    def _fault(self) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                if fault.times > 0:
                    fault.times -= 1
                    return fault
            return None

    def _authorized(self, header: str | None) -> bool:
        if self.basic is not None:
            user, password = self.basic
            expected = base64.b64encode(f"{user}:{password}".encode()).decode()
            return header == f"Basic {expected}"
        if self.token is not None:
            return header == f"Bearer {self.token}"
        return True


class _Handler(BaseHTTPRequestHandler):
    api: DeptApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``api.requests`` instead."""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            if "Content-Type" not in (headers or {}):
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to tell it

    def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"), headers)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(status, {"code": status, "msg": message, "data": None}, headers)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        api = self.api
        parts = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        auth = self.headers.get("Authorization")
        with api._lock:
            api.requests.append(Seen(method, parts.path, params, auth, dict(self.headers)))
        body = b""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
        if parts.path.startswith(API) and not parts.path.startswith(CONTROL):
            fault = api._fault()
            if fault is not None and self._apply(fault):
                return
        if not api._authorized(auth):
            challenge = "Basic" if api.basic is not None else "Bearer"
            self._error(401, "未授权：凭据无效", {"WWW-Authenticate": f'{challenge} realm="dept"'})
            return
        try:
            if method == "GET" and parts.path == API + "/health":
                self._json(200, {"code": 0, "msg": "ok"})
            elif method == "GET" and parts.path == API + "/cases":
                self._cases(params)
            elif method == "POST" and parts.path.startswith(CONTROL + "/"):
                self._control(parts.path[len(CONTROL) + 1 :], json.loads(body or b"{}"))
            else:
                self._error(404, f"no such endpoint: {parts.path}")
        except (ValueError, KeyError, binascii.Error) as exc:
            self._error(400, f"bad request: {exc}")

    def _apply(self, fault: Fault) -> bool:
        """Misbehave; True when the response has been sent (or abandoned)."""
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            self._error(fault.status or 503, "服务暂不可用", headers)
            return True
        if fault.kind == "slow":
            # Then answer normally — too late for the client; or not at all on shutdown.
            return self.api._stopping.wait(fault.delay)
        if fault.kind == "body":
            self._send(fault.status or 200, fault.body, fault.headers)
            return True
        if fault.kind == "malformed":
            self._send(200, b'{"code": 0, "data": {"total": 3, "list": [{"id": 1, "ywbh": "SZ')
            return True
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _cases(self, params: dict[str, str]) -> None:
        after: tuple[datetime, int] | None = None
        since: datetime | None = None
        if "cursor" in params:
            ts, row_id = json.loads(base64.urlsafe_b64decode(params["cursor"]))
            after = (datetime.fromisoformat(ts), int(row_id))
        elif "updated_after" in params:
            ts = datetime.fromisoformat(params["updated_after"])
            # Without after_id: strictly later timestamps only (every id at T excluded).
            after = (ts, int(params.get("after_id", 2**62)))
        elif "updated_since" in params:
            since = datetime.fromisoformat(params["updated_since"])
        if "page" in params:
            size = int(params.get("size", 100))
            offset = (int(params["page"]) - 1) * size
            style = "page"
        elif "offset" in params:
            size = int(params.get("limit", 100))
            offset = int(params["offset"])
            style = "offset"
        else:
            size = int(params.get("limit", params.get("size", 100)))
            offset = 0
            style = "cursor"
        if size < 1 or offset < 0:
            raise ValueError("page size must be ≥ 1 and offset ≥ 0")
        size = min(size, MAX_PAGE_SIZE)
        rows, total = self.api.table.query(after=after, since=since, offset=offset, limit=size)
        more = bool(rows) and offset + len(rows) < total
        next_cursor = None
        headers: dict[str, str] = {}
        if more:
            last = rows[-1]
            next_cursor = base64.urlsafe_b64encode(
                json.dumps([last["gxsj"], last["id"]]).encode()
            ).decode()
            following = {k: v for k, v in params.items() if k != "cursor"}
            if style == "page":
                following["page"] = str(int(params["page"]) + 1)
            elif style == "offset":
                following["offset"] = str(offset + len(rows))
            else:
                following["cursor"] = next_cursor
            headers["Link"] = f'<{API}/cases?{urlencode(following)}>; rel="next"'
        doc = {
            "code": 0,
            "msg": "成功",
            "data": {"total": total, "list": rows},
            "next_cursor": next_cursor,
        }
        self._json(200, doc, headers)

    def _control(self, action: str, doc: dict[str, Any]) -> None:
        table = self.api.table
        if action == "reset":
            table.reset()
            self._json(200, {})
        elif action == "add":
            value = doc.get("cursor_value")
            cursor_value = datetime.fromisoformat(value) if value else None
            rows = table.add(int(doc["n"]), cursor_value=cursor_value, bad=int(doc.get("bad", 0)))
            self._json(200, {"rows": rows})
        elif action == "change":
            table.change([int(i) for i in doc["ids"]])
            self._json(200, {})
        elif action == "bulk":
            table.add_bulk(int(doc["n"]))
            self._json(200, {})
        else:
            self._error(404, f"no control action {action!r}")


__all__ = [
    "API",
    "DEPT_MAPPING",
    "SOURCE_SYSTEM",
    "CaseTable",
    "DeptApi",
    "Fault",
    "Seen",
    "case_row",
    "citizen_id",
    "http_config",
    "secrets_for",
    "stamp",
]


def http_config(api: DeptApi, stream: dict[str, Any] | None = None, **top: Any) -> dict:
    """An ``http`` source configuration for this API: one ``cases`` stream, keyset pages.

    ``stream`` entries replace the stream's defaults, ``top`` the top-level ones.
    """
    cases: dict[str, Any] = {
        "endpoint": "/cases",
        "mapping": DEPT_MAPPING,
        "records_path": "data.list",
        "pagination": {"style": "keyset", "page_size": 50},
        "incremental": {"cursor_field": "gxsj", "id_field": "id"},
    }
    cases.update(stream or {})
    config: dict[str, Any] = {
        "base_url": api.base_url,
        "auth": (
            {"type": "basic", "username": api.basic[0], "password": "env:DEPT_API_PASSWORD"}
            if api.basic is not None
            else {"type": "bearer", "token": "env:DEPT_API_TOKEN"}
        ),
        "timeout": 5,
        "retries": {"max_attempts": 3, "backoff_base": 0.01, "backoff_max": 0.05},
        "streams": {"cases": cases},
        "conformance": {},
    }
    config.update(top)
    return config


def secrets_for(api: DeptApi) -> Callable[[str], SecretStr]:
    """The resolver a hub would have: the API's credentials under their env names."""
    environ = {"DEPT_API_TOKEN": api.token or "", "DEPT_API_PASSWORD": (api.basic or ("", ""))[1]}
    return lambda ref: resolve_secret(ref, environ)


def main(argv: list[str] | None = None) -> None:
    """Serve in a process of its own (the memory test keeps the server's CPU apart).

    Prints the base URL on one line, then serves until its standard input closes.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", default="dept-api-token-9f3a")
    parser.add_argument("--bulk", type=int, default=0, help="bulk rows to start with")
    args = parser.parse_args(argv)
    api = DeptApi(token=args.token)
    if args.bulk:
        api.table.add_bulk(args.bulk)
    with api:
        print(api.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
