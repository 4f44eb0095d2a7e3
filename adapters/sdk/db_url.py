"""Reading a database URL that holds a password without ever echoing it.

A URL's password must have ``@ : / # ? %`` percent-encoded. SQLAlchemy's parser is
lenient about a password that does not: ``postgresql://u:Dept@Secr3t@host/db`` parses
with the host ``Secr3t@host``, and ``u:p@ss:Secr3t/x@host/db`` fails on the port with
``invalid literal for int() … 'Secr3t'``. Either way part of the password then travels
on in an error message — the driver's "failed to resolve host", the parser's — to the
terminal, the log file, a batch's meta and Airflow's task log. Such a URL is refused
here, before any connection, with a message that names the setting it came from and
never quotes the URL.

A password may also travel in the query string (``?password=…``, libpq's
``sslpassword``, a driver's ``token``), which SQLAlchemy's ``hide_password`` leaves in
clear. :func:`safe_url_text` is the one way a URL is shown: it masks both.
"""

from __future__ import annotations

from urllib.parse import quote_plus

from sqlalchemy.engine import URL, make_url

# What a secret is shown as.
MASK = "***"
# A query parameter whose name holds one of these words holds a secret (``password``,
# ``sslpassword``, ``token``, ``client_secret``, ``sslkey``, MySQL's ``passwd``, ODBC's
# ``pwd``…), whatever its case; so does one that can carry a whole connection string or
# a connection's extras (``odbc_connect``, ``dsn``, Airflow's ``__extra__``).
SECRET_QUERY_WORDS = ("password", "passwd", "pwd", "secret", "token", "key")
OPAQUE_QUERY_NAMES = frozenset({"odbc_connect", "dsn", "__extra__", "connect_string"})

ESCAPE_ADVICE = (
    "percent-encode @ : / # ? % in the user name and password "
    "(@ → %40, : → %3A, / → %2F, # → %23, ? → %3F, % → %25)"
)


class DatabaseUrlError(ValueError):
    """A database URL that cannot be used as it stands; the message names its setting
    and never quotes the URL (it holds a password)."""


def parse_database_url(text: str, *, setting: str) -> URL:
    """The SQLAlchemy URL of ``text``, or DatabaseUrlError naming ``setting``.

    Refused as well as what does not parse: an ``@`` in the host or the database name
    of a server URL, which is what a password with an unescaped ``@``, ``:`` or ``/``
    leaves there. A SQLite path may hold an ``@``; it is left alone.
    """
    try:
        url = make_url(text)
    except Exception:  # ArgumentError, or ValueError/TypeError from a mis-split port
        raise DatabaseUrlError(
            f"{setting}: not a database URL that can be read (expected e.g. "
            f"postgresql+psycopg://user:password@host/db); if the password holds any of "
            f"@ : / # ? %, {ESCAPE_ADVICE}"
        ) from None
    if url.get_backend_name() != "sqlite" and (
        "@" in (url.host or "") or "@" in (url.database or "")
    ):
        raise DatabaseUrlError(
            f"{setting}: the database URL has an '@' after its user:password part, so the "
            f"password (or user name) holds an unescaped @, : or /; {ESCAPE_ADVICE}"
        )
    return url


def safe_url_text(url: URL | str) -> str:
    """The URL for messages: the password of its user part and every query parameter
    named like a secret shown as ``***``; text that is not a URL that can be read
    safely is not quoted at all.

    ``render_as_string(hide_password=True)`` hides only the user part's password:
    ``postgresql+psycopg://u@host/db?password=…`` went in clear into every error, the
    CLI's ``(TONGYUAN_DATABASE_URL=…)`` and Airflow's task logs. The query is rendered
    here rather than by SQLAlchemy, which would percent-encode the mask.
    """
    if isinstance(url, str):
        try:
            url = parse_database_url(url, setting="database URL")
        except DatabaseUrlError:
            return "(a database URL that cannot be read, not shown)"
    base = url.set(query={}).render_as_string(hide_password=True)
    pairs = [
        f"{quote_plus(name)}={MASK if is_secret_parameter(name) else quote_plus(value)}"
        for name in sorted(url.query)
        for value in _values(url.query[name])
    ]
    return f"{base}?{'&'.join(pairs)}" if pairs else base


def is_secret_parameter(name: str) -> bool:
    """Whether a URL query parameter of this name holds a secret (its value never shown)."""
    lowered = name.lower()
    return lowered in OPAQUE_QUERY_NAMES or any(word in lowered for word in SECRET_QUERY_WORDS)


def _values(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
