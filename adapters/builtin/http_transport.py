"""Requests to a department API: authentication, timeouts, retries with backoff, limits.

What is retried: connection errors, timeouts, HTTP 429 and 5xx, and pages that do not
parse (a proxy that cut a response short looks like that). What is not: other 4xx — a
401/403 will not fix itself by asking again, and hammering a login endpoint can lock the
hub's account. Every URL that reaches a message or a log goes through :func:`safe_url`
first, so credentials never leak there, even if a server puts a token into a next-page
link.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

import httpx

from adapters.builtin.http_config import (
    BasicAuth,
    BearerAuth,
    HeaderAuth,
    HttpConfig,
    RetryConfig,
    credential_name,
)
from adapters.payloads.json_rows import read_json_document
from adapters.sdk.config import SecretResolver, is_secret_ref
from adapters.sdk.errors import AdapterError, ConnectionCheckError
from standards.formats.errors import UnreadableInput, UnsafeInput
from standards.formats.limits import ParseLimits
from standards.privacy import mask_text

log = logging.getLogger("adapters.builtin.http")

T = TypeVar("T")

#: Parts of query parameter names whose values are masked in URLs shown to people,
# besides every name http_config.credential_name accepts (see _sensitive_param).
_SENSITIVE_PARAM_PARTS = (
    "token", "key", "secret", "password", "passwd", "sig", "auth", "pwd", "credential",
)  # fmt: skip
_GB_CHARSETS = frozenset({"gbk", "gb2312", "gb18030", "x-gbk", "cp936"})
_SNIPPET = 200


class MalformedPage(ValueError):
    """A response body that is not the JSON page the stream expects (retried)."""


class TooLarge(AdapterError):
    """A response over ``limits.max_page_bytes`` (not retried: it would be as large again)."""


def safe_url(url: str | httpx.URL) -> str:
    """The URL without user info, and with values of credential-like parameters masked."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if _sensitive_param(k) else v) for k, v in pairs],
            safe="*:,",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _sensitive_param(name: str) -> bool:
    """Whether a query parameter's value is hidden when a URL is shown: every name the
    configuration treats as a credential (``ak``, ``ticket``, ``X-Session-Id`` …, see
    :func:`credential_name`) and any name holding one of the sensitive parts."""
    return credential_name(name) or any(s in name.lower() for s in _SENSITIVE_PARAM_PARTS)


_USERINFO = re.compile(r"(?<=//)[^/@\s]*@")
_PARAM = re.compile(r"([?&;])([^=&\s]*)=([^&\s\"'>]*)")


def redact_text(text: str) -> str:
    """Free text (a log line) with URL user info dropped and credential parameters masked."""

    def hidden(match: re.Match[str]) -> str:
        if not _sensitive_param(match.group(2)):
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}=***"

    return _PARAM.sub(hidden, _USERINFO.sub("", text))


class _RedactCredentials(logging.Filter):
    """httpx logs every request URL at INFO and httpcore response headers at DEBUG: a
    token in a next-page link would reach the hub's logs through them."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        cleaned = redact_text(text)
        if cleaned != text:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _RedactCredentials()
for _name in (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactCredentials) for f in _logger.filters):
        _logger.addFilter(_FILTER)


def backoff_delay(
    attempt: int, retry: RetryConfig, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): capped exponential."""
    ceiling = min(retry.backoff_max, retry.backoff_base * (2 ** (attempt - 1)))
    return ceiling * rng() if retry.jitter else ceiling


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _credential(raw: str, ref: str) -> str:
    """The secret itself; an Airflow connection yields a URI, whose password is the secret."""
    if ref.startswith("airflow:") and "://" in raw:
        password = urlsplit(raw).password
        if password:
            return unquote(password)
    return raw


@dataclass(slots=True)
class Response:
    """A parsed response: the URL asked (for relative links), its headers, the payload."""

    url: httpx.URL
    headers: httpx.Headers
    body: Any


class HttpTransport:
    """One HTTP client per read, with the source's authentication and retry policy.

    ``sleep`` and ``rng`` are parameters so tests can record the backoff instead of
    waiting for it.
    """

    def __init__(
        self,
        config: HttpConfig,
        resolve_secret: SecretResolver,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._rng = rng
        self._resolve_secret = resolve_secret
        # Every secret value this read sends, in the forms a server may echo it back in
        # (as is, percent-encoded, a basic-auth header): hidden in every message.
        self._secrets: set[str] = set()
        headers = {"Accept": "application/json", "User-Agent": "tongyuan-http-adapter"}
        headers.update(self.resolved(config.headers))
        auth: httpx.Auth | None = None
        spec = config.auth
        if isinstance(spec, BearerAuth):
            token = self._secret(spec.token)
            headers["Authorization"] = f"Bearer {token}"
        elif isinstance(spec, BasicAuth):
            password = self._secret(spec.password)
            auth = httpx.BasicAuth(spec.username, password)
            pair = f"{spec.username}:{password}".encode()
            self._secrets.add(base64.b64encode(pair).decode("ascii"))
        elif isinstance(spec, HeaderAuth):
            headers[spec.header] = self._secret(spec.value)
        verify: bool | str = config.ca_file or config.verify_tls
        self._client = httpx.Client(
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(config.timeout),
            verify=verify,
            follow_redirects=False,
        )
        self.attempts = 0  # requests sent, retries included (reported in logs and tests)

    def resolved(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Headers or query parameters with each credential's reference replaced by the
        secret (the configuration only admits references for credential names)."""
        out = dict(values)
        for name, value in values.items():
            if credential_name(name) and is_secret_ref(value):
                out[name] = self._secret(value)
        return out

    def _secret(self, ref: str) -> str:
        """The secret ``ref`` names, remembered so that no message ever shows it."""
        value = _credential(self._resolve_secret(ref).get_secret_value(), ref)
        if value:
            self._secrets.update({value, quote(value, safe=""), quote_plus(value)})
        return value

    def hide(self, text: str) -> str:
        """Text built from what a server sent (an error body, a link, a cursor), fit for a
        message or a log: the read's secret values replaced by ``***`` wherever they
        appear, credential-like parameters and URL user info masked, ID numbers masked."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return mask_text(redact_text(text))

    def shown_url(self, url: str | httpx.URL) -> str:
        """A URL for messages: :func:`safe_url`, then every secret value hidden."""
        return self.hide(safe_url(url))

    def url(self, path: str) -> str:
        """An endpoint path under ``base_url``."""
        return self.config.base_url + "/" + path.lstrip("/")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests

    def get_json(
        self,
        url: str | httpx.URL,
        params: Mapping[str, Any] | None = None,
        *,
        what: str,
        parse: Callable[[Response], T],
    ) -> T:
        """GET a JSON document and hand it to ``parse``, retrying as configured.

        ``parse`` raises :class:`MalformedPage` when the document is not what the stream
        expects; that is retried like a transport failure, then reported with ``what``
        (``"page 3 of stream cases"``) and the URL.
        """
        retry = self.config.retries
        # No params at all (not {}) for a next-page link: httpx would drop its query.
        request = self._client.build_request("GET", url, params=dict(params) if params else None)
        shown = self.shown_url(request.url)
        reason = ""
        for attempt in range(1, retry.max_attempts + 1):
            retry_after: float | None = None
            try:
                return self._attempt(request, parse, shown, what)
            except _Retryable as exc:
                reason, retry_after = self.hide(exc.reason), exc.retry_after
            except httpx.TimeoutException:
                reason = f"no response within {self.config.timeout:g} s"
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                reason = f"connection failed ({type(exc).__name__}: {self._clean(exc)})"
            except httpx.DecodingError as exc:
                reason = f"undecodable response body ({self._clean(exc)})"
            except httpx.HTTPError as exc:  # proxy, protocol: asking again will not help
                raise AdapterError(
                    f"{what}: {shown}: {type(exc).__name__}: {self._clean(exc)}"
                ) from None
            if attempt == retry.max_attempts:
                break
            delay = backoff_delay(attempt, retry, self._rng)
            if retry_after is not None:
                if retry_after > retry.retry_after_max:
                    raise AdapterError(
                        f"{what}: {shown} asked to retry after {retry_after:g} s, longer "
                        f"than retries.retry_after_max ({retry.retry_after_max:g} s)"
                    )
                delay = max(delay, retry_after)
            log.warning(
                "%s: %s: %s; attempt %d of %d, retrying in %.2f s",
                what, shown, reason, attempt, retry.max_attempts, delay,
            )  # fmt: skip
            self._sleep(delay)
        raise AdapterError(
            f"{what}: {shown}: {reason}; gave up after {retry.max_attempts} attempts"
        )

    def post_json(self, url: str, payload: Mapping[str, Any], *, what: str) -> Any:
        """POST a JSON document once (a POST is not assumed idempotent, so no retries)."""
        shown = self.shown_url(url)
        try:
            response = self._client.post(url, json=dict(payload))
        except httpx.HTTPError as exc:
            raise AdapterError(
                f"{what}: {shown}: {type(exc).__name__}: {self._clean(exc)}"
            ) from None
        self.attempts += 1
        if response.status_code >= 300:
            raise AdapterError(
                f"{what}: {shown}: HTTP {response.status_code}: {self._snippet(response.content)}"
            )
        try:
            return response.json() if response.content else None
        except ValueError as exc:
            raise AdapterError(
                f"{what}: {shown}: the response is not JSON ({self._clean(exc)})"
            ) from None

    def _attempt(
        self, request: httpx.Request, parse: Callable[[Response], T], shown: str, what: str
    ) -> T:
        self.attempts += 1
        # httpx's timeout bounds each socket operation: a server trickling its page a
        # byte at a time would never trip it. The whole response gets ``timeout``.
        deadline = time.monotonic() + self.config.timeout
        response = self._client.send(request, stream=True)
        try:
            status = response.status_code
            phrase = self.hide(response.reason_phrase)
            if status == 429 or status >= 500:
                response.read()
                raise _Retryable(
                    f"HTTP {status} {phrase}",
                    parse_retry_after(response.headers.get("Retry-After")),
                )
            if status in (401, 403):
                raise ConnectionCheckError(
                    f"{what}: {shown}: HTTP {status} {phrase} — the API "
                    f"refused the hub's credentials; check the secret referenced in "
                    f"auth ({self._auth_ref()}); not retried"
                )
            if 300 <= status < 400:
                target = response.headers.get("Location", "")
                raise AdapterError(
                    f"{what}: {shown}: HTTP {status} redirect to {self.shown_url(target)}; "
                    "configure base_url with the final address (redirects are not followed "
                    "so credentials are never sent to another host)"
                )
            if status >= 400:
                body = self._read_limited(response, shown, what, deadline)
                raise AdapterError(
                    f"{what}: {shown}: HTTP {status} {phrase}: {self._snippet(body)}; not retried"
                )
            body = self._read_limited(response, shown, what, deadline)
        finally:
            response.close()
        try:
            document = _decode_json(
                body, response.charset_encoding, self.config.limits.max_page_bytes, shown
            )
            return parse(Response(request.url, response.headers, document))
        except MalformedPage as exc:
            raise _Retryable(f"malformed page: {exc}") from None

    def _read_limited(
        self, response: httpx.Response, shown: str, what: str, deadline: float
    ) -> bytes:
        limit = self.config.limits.max_page_bytes
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise TooLarge(
                f"{what}: {shown}: response of {int(declared)} bytes is over "
                f"limits.max_page_bytes ({limit}); ask for smaller pages"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise TooLarge(
                    f"{what}: {shown}: response over limits.max_page_bytes ({limit} bytes); "
                    "ask for smaller pages"
                )
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _Retryable(
                    f"no complete response within {self.config.timeout:g} s ({size} bytes "
                    "arrived; the server sends the page too slowly)"
                )
        return b"".join(chunks)

    def _clean(self, exc: BaseException) -> str:
        """An exception's text fit for a message: no secrets, no credential parameters,
        no citizen ID numbers (exception texts quote URLs and what servers said)."""
        return self.hide(str(exc))

    def _snippet(self, body: bytes) -> str:
        """The start of an error body, for the message — servers echo what they got, the
        token included: every secret of this read is hidden, then the text shortened."""
        text = body[: _SNIPPET * 8].decode("utf-8", errors="replace")
        if len(body) > _SNIPPET * 8:
            # A secret cut at the end would not be recognised: drop what could be one.
            longest = max((len(secret) for secret in self._secrets), default=0)
            text = text[: max(0, len(text) - longest)]
        text = self.hide(text)
        text = " ".join(text.split())
        if len(text) > _SNIPPET:
            text = text[:_SNIPPET] + "…"
        return text or "(empty body)"

    def _auth_ref(self) -> str:
        spec = self.config.auth
        if spec is None:
            return "none configured"
        if isinstance(spec, BearerAuth):
            return f"bearer token {spec.token}"
        if isinstance(spec, BasicAuth):
            return f"basic, user {spec.username}, password {spec.password}"
        return f"header {spec.header} from {spec.value}"


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _decode_json(body: bytes, charset: str | None, max_bytes: int, shown: str) -> Any:
    """A page as JSON, parsed by the payload reader (duplicate keys, NaN, depth refused).

    JSON on the wire is UTF-8 (RFC 8259); a server that declares a GB charset is
    transcoded first, because some department gateways still answer in GBK.
    """
    if charset and charset.lower() in _GB_CHARSETS:
        try:
            body = body.decode("gb18030").encode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPage(f"not valid {charset} text") from None
    try:
        return read_json_document(body, limits=ParseLimits(max_file_bytes=max_bytes), source=shown)
    except (UnreadableInput, UnsafeInput) as exc:
        where = f"line {exc.line}: " if exc.line is not None else ""
        raise MalformedPage(where + exc.message) from None


__all__ = [
    "HttpTransport",
    "MalformedPage",
    "Response",
    "TooLarge",
    "backoff_delay",
    "parse_retry_after",
    "redact_text",
    "safe_url",
]
