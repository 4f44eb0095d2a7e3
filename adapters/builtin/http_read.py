"""One read of one ``http`` stream: page after page, object after object, into envelopes.

Only one page is held at a time (bounded by ``limits.max_page_bytes``), so a stream of
millions of rows is read in constant memory. The position advances as each envelope is
handed out, so ``state()`` is right whenever the hub asks — also after it stopped
iterating half-way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from adapters.builtin.http_config import IncrementalConfig, LimitsConfig, PaginationConfig
from adapters.builtin.http_state import IncrementalCursor, dig
from adapters.builtin.http_transport import HttpTransport, MalformedPage, Response, safe_url
from adapters.mapping import Mapping as FieldMapping
from adapters.payloads.json_rows import records_at, surrogate_problem
from adapters.sdk.envelope import Envelope
from adapters.sdk.errors import AdapterError
from adapters.sdk.source import State, StreamRead
from standards.formats.errors import UnreadableInput
from standards.records import SourceLocation
from standards.validation import Finding, Severity

log = logging.getLogger("adapters.builtin.http")

_LINK = re.compile(r"<([^>]*)>([^,<]*)")
_REL_NEXT = re.compile(r""";\s*rel\s*=\s*"?([^";]*)"?""", re.IGNORECASE)

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HttpStream:
    """A stream with every default filled in: what one read needs to know."""

    name: str
    endpoint: str
    mapping: FieldMapping
    records_path: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    pagination: PaginationConfig = field(default_factory=PaginationConfig)
    incremental: IncrementalConfig | None = None

    @property
    def size_param(self) -> str:
        """Page-size parameter: ``size`` for page numbers, ``limit`` for the others."""
        pag = self.pagination
        return pag.size_param if pag.style == "page" else pag.limit_param


@dataclass(slots=True)
class _Page:
    url: str
    records: list[Any]
    next_token: Any = None
    next_link: str | None = None


def next_link(link_header: str | None) -> str | None:
    """The ``rel="next"`` target of an RFC 8288 ``Link`` header."""
    if not link_header:
        return None
    for target, params in _LINK.findall(link_header):
        for rel in _REL_NEXT.findall(params):
            if "next" in rel.lower().split():
                return target.strip()
    return None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _digest(records: list[Any]) -> bytes:
    """A digest of a page's records that does not depend on key order or whitespace."""
    text = json.dumps(
        records, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class HttpStreamRead(StreamRead):
    """Iterate once for envelopes; ``state()`` any time; ``close()`` releases the client."""

    def __init__(
        self,
        stream: HttpStream,
        transport: HttpTransport,
        limits: LimitsConfig,
        state: State | None,
    ) -> None:
        self.stream = stream
        self.transport = transport
        self.limits = limits
        self.cursor = (
            IncrementalCursor(stream.incremental, state, stream.name)
            if stream.incremental is not None
            else None
        )
        self.url = transport.url(stream.endpoint)
        self.file = safe_url(self.url)
        self.position = 0
        self.pages = 0
        self._started = False

    def state(self) -> State:
        return self.cursor.state() if self.cursor is not None else {}

    def close(self) -> None:
        self.transport.close()

    # -- iteration

    def __iter__(self) -> Iterator[Envelope]:
        if self._started:
            raise AdapterError(f"stream {self.stream.name!r}: a read can be iterated only once")
        self._started = True
        log.info("reading stream %s from %s", self.stream.name, self.file)
        for page in self._pages():
            for index, obj in enumerate(page.records, start=1):
                envelope = self._envelope(obj, index)
                if envelope is not None:
                    yield envelope
        log.info(
            "stream %s: %d records from %d pages (%d requests)",
            self.stream.name, self.position, self.pages, self.transport.attempts,
        )  # fmt: skip

    def _first_request(self) -> tuple[str, Params]:
        pag = self.stream.pagination
        params: Params = self.transport.resolved(self.stream.params)
        if self.cursor is not None:
            params.update(self.cursor.start_params())
        if pag.style == "page":
            params[pag.page_param] = pag.first_page
        elif pag.style == "offset":
            params[pag.offset_param] = 0
        if pag.style != "none":
            params[self.stream.size_param] = pag.page_size
        return self.url, params

    def _pages(self) -> Iterator[_Page]:
        request: tuple[str, Params] | None = self._first_request()
        # Every request of this read, digested (16 bytes each, however long the cursor):
        # a cursor or link the API hands out a second time (A → B → A) would loop until
        # limits.max_pages, reading the same rows again; a repeat fails the read at once.
        asked: dict[bytes, int] = {}
        read_objects = 0
        # Page numbers and offsets change the request whether or not the server honours
        # them, so a server ignoring them would send the same page until max_pages: each
        # page's records are digested and a page equal to an earlier one stops the read.
        counting = self.stream.pagination.style in ("page", "offset")
        seen: dict[bytes, int] = {}
        while request is not None:
            url, params = request
            signature = json.dumps(
                [url, sorted((k, str(v)) for k, v in params.items())], ensure_ascii=False
            )
            key = hashlib.blake2b(signature.encode("utf-8"), digest_size=16).digest()
            if key in asked:
                raise AdapterError(self._repeat_message(url, params, asked[key]))
            asked[key] = self.pages + 1
            if self.pages >= self.limits.max_pages:
                self._page_limit_reached(url)
                return
            self.pages += 1
            what = f"page {self.pages} of stream {self.stream.name!r}"
            page = self.transport.get_json(url, params, what=what, parse=self._parse)
            if counting and page.records:
                digest = _digest(page.records)
                if digest in seen:
                    shown = self.transport.shown_url(url)
                    raise AdapterError(
                        f"stream {self.stream.name!r}: page {self.pages} ({shown}) "
                        f"has the same records as page {seen[digest]}; the API ignores the "
                        f"{self._advance_param()!r} parameter, so pagination does not "
                        "advance (check the pagination style and parameter names)"
                    )
                seen[digest] = self.pages
            yield page
            read_objects += len(page.records)
            request = self._next_request(page, params, read_objects)

    def _repeat_message(self, url: str, params: Params, first: int) -> str:
        """Why the read stops: the request for the next page was already made."""
        pag = self.stream.pagination
        name = self.stream.name
        if pag.style == "cursor" and pag.cursor_param in params:
            token = self.transport.hide(repr(params[pag.cursor_param]))
            if len(token) > 120:
                token = token[:117] + "…"
            what = f"the cursor {token} (from {pag.cursor_path!r})"
        elif pag.style == "link":
            what = f"the next-page link {self.transport.shown_url(url)}"
        else:
            what = f"the request {self.transport.shown_url(url)}"
        return (
            f"stream {name!r}: page {self.pages + 1} would repeat page {first}: page "
            f"{self.pages} handed out {what} again; the API's pagination loops instead of "
            "advancing (nothing of this read is stored: report it to the API's maintainers)"
        )

    def _advance_param(self) -> str:
        pag = self.stream.pagination
        return pag.page_param if pag.style == "page" else pag.offset_param

    def _page_limit_reached(self, url: str) -> None:
        message = (
            f"stream {self.stream.name!r}: stopped after limits.max_pages "
            f"({self.limits.max_pages}) pages; next was {self.transport.shown_url(url)}"
        )
        if self.cursor is None:
            # Not a pagination that repeats itself: a repeated page stops the read first.
            raise AdapterError(
                message + "; without incremental state the rest would be lost — "
                "raise limits.max_pages or configure incremental reads"
            )
        log.warning("%s; the next run continues from the state", message)

    def _parse(self, response: Response) -> _Page:
        """The page's records (and next-page pointer); MalformedPage if it has none."""
        try:
            records = records_at(response.body, self.stream.records_path, self.file)
        except UnreadableInput as exc:
            raise MalformedPage(exc.message) from None
        page = _Page(str(response.url), records)
        style = self.stream.pagination.style
        if style == "cursor":
            token = dig(response.body, self.stream.pagination.cursor_path)
            if token is not None and not isinstance(token, str | int):
                raise MalformedPage(
                    f"next cursor at {self.stream.pagination.cursor_path!r} is a "
                    f"JSON {type(token).__name__}, not a string"
                )
            page.next_token = token
        elif style == "link":
            target = next_link(response.headers.get("Link"))
            if target:
                absolute = urljoin(page.url, target)
                if _origin(absolute) != _origin(self.url):
                    shown = self.transport.shown_url(absolute)
                    raise AdapterError(
                        f"page {self.pages} of stream {self.stream.name!r}: the next-page "
                        f"link points to another server ({shown}); not "
                        "followed, the hub's credentials would go with it"
                    )
                page.next_link = absolute
        return page

    def _next_request(
        self, page: _Page, params: Params, read_objects: int
    ) -> tuple[str, Params] | None:
        pag = self.stream.pagination
        count = len(page.records)
        if pag.style == "none":
            return None
        if pag.style == "link":
            return (page.next_link, {}) if page.next_link else None
        if pag.style == "cursor":
            if page.next_token in (None, "") or count == 0:
                return None
            return self.url, {**params, pag.cursor_param: page.next_token}
        if count == 0 or (pag.stop_on_short_page and count < pag.page_size):
            return None
        if pag.style == "page":
            return self.url, {**params, pag.page_param: params[pag.page_param] + 1}
        if pag.style == "offset":
            return self.url, {**params, pag.offset_param: read_objects}
        # keyset: rows after the last one of this page
        assert self.cursor is not None  # the configuration refuses keyset without it
        last = page.records[-1]
        values = self.cursor.values(last) if isinstance(last, Mapping) else None
        if values is None:
            raise AdapterError(
                f"page {self.pages} of stream {self.stream.name!r}: its last object has no "
                f"usable {self.cursor.spec.cursor_field!r} and {self.cursor.spec.id_field!r}; "
                "keyset pagination cannot continue after it"
            )
        return self.url, {**params, **self.cursor.keyset_params(*values)}

    def _envelope(self, obj: Any, index: int) -> Envelope | None:
        """The envelope of one object; None for a row an earlier read already yielded."""
        stream = self.stream
        if not isinstance(obj, dict):
            self.position += 1
            location = SourceLocation(self.file, self.position)
            kind = "null" if obj is None else type(obj).__name__
            return Envelope(
                stream.name,
                location,
                {"value": obj},
                None,
                [
                    Finding(
                        "payload.malformed",
                        f"item {index} of page {self.pages} is a JSON {kind}, not an object",
                    )
                ],
            )
        values = self.cursor.values(obj) if self.cursor is not None else None
        if values is not None and self.cursor is not None and self.cursor.already_read(values):
            return None
        self.position += 1
        location = SourceLocation(self.file, self.position)
        problem = surrogate_problem(obj, f"{self.file}, item {index} of page {self.pages}")
        if problem is not None:  # not storable as it came: quarantined, escaped
            obj, record, findings = problem.raw, None, [problem.finding()]
        else:
            record, mapped = stream.mapping.map(obj, location)
            findings = list(mapped)
        if self.cursor is not None:
            if values is None:
                spec = self.cursor.spec
                findings.append(
                    Finding(
                        "payload.malformed",
                        f"item {index} of page {self.pages} has no usable "
                        f"{spec.cursor_field!r}/{spec.id_field!r} (incremental cursor and "
                        "id): it is read, but cannot move the stream's position",
                        None,
                        Severity.WARNING,
                    )
                )
            else:
                self.cursor.advance(values)
        return Envelope(stream.name, location, obj, record, findings)


__all__ = ["HttpStream", "HttpStreamRead", "next_link"]
