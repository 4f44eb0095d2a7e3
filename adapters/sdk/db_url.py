"""Reading a database URL that holds a password without ever echoing it.

A URL's password must have ``@ : / # ? %`` percent-encoded. SQLAlchemy's parser is
lenient about a password that does not: ``postgresql://u:Dept@Secr3t@host/db`` parses
with the host ``Secr3t@host``, and ``u:p@ss:Secr3t/x@host/db`` fails on the port with
``invalid literal for int() … 'Secr3t'``. Either way part of the password then travels
on in an error message — the driver's "failed to resolve host", the parser's — to the
terminal, the log file, a batch's meta and Airflow's task log. Such a URL is refused
here, before any connection, with a message that names the setting it came from and
never quotes the URL.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

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
    """The URL with its password hidden, for messages; text that is not a URL that can
    be read safely is not quoted at all."""
    if isinstance(url, str):
        try:
            url = parse_database_url(url, setting="database URL")
        except DatabaseUrlError:
            return "(a database URL that cannot be read, not shown)"
    return url.render_as_string(hide_password=True)
