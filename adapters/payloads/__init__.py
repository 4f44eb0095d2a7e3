"""Payload readers for file drops, SFTP and HTTP: CSV, a department's own XML, JSON.

Each reader yields ``(row, location)`` pairs, where ``row`` is a dict of source values
ready for :meth:`adapters.mapping.Mapping.map` — or a :class:`PayloadProblem` standing in
for a row that could not be read, which the adapter yields as an envelope with no record
(``problem.envelope(stream, location)``). Readers never skip a row silently; they raise
(:class:`~standards.formats.UnsafeInput`, :class:`~standards.formats.UnreadableInput`)
only when the payload as a whole is refused or unusable.

The standard exchange format (XML/JSON Lines of standard records) is read by
:mod:`standards.formats`, not here.
"""

from adapters.payloads.csv_rows import csv_encoding, iter_csv_rows
from adapters.payloads.foreign_xml import iter_xml_rows
from adapters.payloads.json_rows import iter_json_rows, read_json_document, records_at
from adapters.payloads.problems import PayloadProblem, UnreadablePayload

__all__ = [
    "PayloadProblem",
    "UnreadablePayload",
    "csv_encoding",
    "iter_csv_rows",
    "iter_json_rows",
    "iter_xml_rows",
    "read_json_document",
    "records_at",
]
