"""Exchange formats of the standard: XML (one XSD per record kind) and JSON Lines.

Readers stream and refuse unsafe input (:class:`UnsafeInput`) or unreadable input
(:class:`UnreadableInput`) with the file and line; record-level problems become findings
through :func:`to_record`, so one bad record never stops a file.
"""

from standards.formats.convert import to_record
from standards.formats.errors import UnreadableInput, UnsafeInput
from standards.formats.limits import ParseLimits
from standards.formats.raw import RawRecord
from standards.formats.reader import iter_raw_records
from standards.formats.schema import validate_file_against_xsd, xsd_path
from standards.formats.writer import UnwritableRecord, write_records

__all__ = [
    "ParseLimits",
    "RawRecord",
    "UnreadableInput",
    "UnsafeInput",
    "UnwritableRecord",
    "iter_raw_records",
    "to_record",
    "validate_file_against_xsd",
    "write_records",
    "xsd_path",
]
