"""File-level errors of the exchange-format readers.

Both carry the rule id (from :mod:`standards.validation.rules`), the file and, when known,
the line, so a quarantine entry or an operator can find the place without the parser.
Messages never quote record content beyond element names: the content may be personal data.
"""

from __future__ import annotations


class _FormatError(Exception):
    def __init__(self, file: str, rule: str, message: str, line: int | None = None) -> None:
        self.file = file
        self.rule = rule
        self.line = line
        self.message = message
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {message} [{rule}]")


class UnsafeInput(_FormatError):
    """The file holds something the hub refuses to process at all.

    DTDs, entity declarations or references, external references, XInclude, and anything
    beyond :class:`~standards.formats.limits.ParseLimits`.
    """

    def __init__(
        self, file: str, message: str, line: int | None = None, rule: str = "xml.unsafe"
    ) -> None:
        super().__init__(file, rule, message, line)


class UnreadableInput(_FormatError):
    """The file cannot be read as the standard format: malformed, not UTF-8, unknown root."""

    def __init__(self, file: str, rule: str, message: str, line: int | None = None) -> None:
        if rule not in ("xml.malformed", "xml.encoding", "json.malformed"):
            raise ValueError(f"not a file-level rule: {rule}")
        super().__init__(file, rule, message, line)
