"""The signed e-license document: one License record and its signing time, in one XML file.

Layout (no namespace, like the exchange format; see docs/signing.md "XML licenses")::

    <?xml version="1.0" encoding="UTF-8"?>
    <signed_license version="1" Id="signed-license">
      <license>…the exchange-format license fields (licenses.xsd type License)…</license>
      <signing_time>2026-03-06T09:00:00+08:00</signing_time>
      <ds:Signature>…enveloped, one Reference to #signed-license…</ds:Signature>
    </signed_license>

The signing time is an element of the signed root rather than an unsigned attribute or a
second Reference, so one Reference covers everything a verifier reads: the record and the
time the chain is validated at. The document is small and read whole, but it is still
untrusted input: :func:`parse_license_document` refuses DTDs, entities, XInclude and
anything over the exchange-format limits before any signature code sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from lxml import etree

from standards.formats import ParseLimits, RawRecord, UnreadableInput, UnsafeInput, to_record
from standards.formats.layout import FORMAT_VERSION, XINCLUDE_NAMESPACES
from standards.privacy import mask_text
from standards.records import License, SourceLocation
from standards.validation import Finding

ROOT_TAG = "signed_license"
RECORD_TAG = "license"
SIGNING_TIME_TAG = "signing_time"
SIGNED_ID = "signed-license"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

DEFAULT_LIMITS = ParseLimits()

_SAFE_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    # Comments and processing instructions are kept: exclusive c14n signs PIs, and a
    # verifier that dropped them would compute another digest than the signer did.
    "remove_comments": False,
    "remove_pis": False,
    "remove_blank_text": False,
    # No ID table: references are resolved by attribute value (signxml, _ID_HOLDERS),
    # never through libxml2's xml:id index, so building it is wasted work.
    "collect_ids": False,
}


def safe_parser() -> etree.XMLParser:
    """An lxml parser that never loads DTDs, expands entities or touches the network."""
    return etree.XMLParser(**_SAFE_PARSER_OPTIONS)


def parse_license_document(
    xml: bytes, *, source: str = "<license xml>", limits: ParseLimits = DEFAULT_LIMITS
) -> etree._Element:
    """Parse a (signed or unsigned) license document, refusing unsafe or unreadable input.

    Raises ``UnsafeInput`` (DOCTYPE, entities, XInclude, over a limit) or
    ``UnreadableInput`` (not well-formed, not UTF-8) with ``source`` as the file name.
    """
    # A signed license is a few KB (fields and two or three certificates): the whole
    # document may be no larger than one text node of the exchange format (1 MiB by
    # default), which bounds its memory and makes a per-text-node check unnecessary.
    max_bytes = min(limits.max_text_bytes, limits.max_record_bytes)
    if len(xml) > max_bytes:
        raise UnsafeInput(
            source, f"license document is {len(xml)} bytes, over the limit of {max_bytes} bytes"
        )
    if xml.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise UnreadableInput(source, "xml.encoding", "document is not UTF-8 (byte order mark)")
    # Markup declarations are refused on the bytes, so libxml2 never gets to read one (a
    # DTD is refused even when harmless: a license never needs one).
    if b"<!DOCTYPE" in xml:
        raise UnsafeInput(source, "a DOCTYPE declaration is not allowed (no DTD, no entities)")
    if b"<!ENTITY" in xml:
        raise UnsafeInput(source, "entity declarations are not allowed")
    try:
        root = etree.fromstring(xml, parser=safe_parser())  # per call: parsers are not thread-safe
    except etree.XMLSyntaxError as exc:
        detail = mask_text(str(exc.msg).splitlines()[0] if exc.msg else "syntax error")
        if _over_parser_limit(exc, detail):
            raise _limit_refusal(detail, source, limits, exc.lineno or None) from None
        if "entity" in detail.lower():
            raise UnsafeInput(source, f"entity references are not allowed: {detail}") from None
        if "encoding" in detail.lower():
            raise UnreadableInput(source, "xml.encoding", f"not valid UTF-8: {detail}") from None
        raise UnreadableInput(
            source, "xml.malformed", f"malformed XML: {detail}", exc.lineno or None
        ) from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise UnsafeInput(source, "a DOCTYPE declaration is not allowed (no DTD, no entities)")
    encoding = (docinfo.encoding or "UTF-8").lower()
    if encoding not in ("utf-8", "utf8"):
        raise UnreadableInput(
            source, "xml.encoding", f"encoding is {docinfo.encoding!r}; UTF-8 is required"
        )
    _check_tree(root, source, limits)
    return root


_RESOURCE_LIMIT = getattr(etree.ErrorTypes, "ERR_RESOURCE_LIMIT", None)


def _over_parser_limit(exc: etree.XMLSyntaxError, detail: str) -> bool:
    """libxml2 stopped at one of its own limits (depth 256, name length) rather than at
    a syntax error; older libxml2 versions report it under a generic code, so its own
    wording is matched too — only where the message starts, since the rest of a message
    quotes the document's tag and entity names (a tag named ``depth``)."""
    return exc.code == _RESOURCE_LIMIT or _is_depth_message(detail)


def _is_depth_message(detail: str) -> bool:
    return detail.lower().startswith("excessive depth in document")


def _limit_refusal(detail: str, source: str, limits: ParseLimits, line: int | None) -> UnsafeInput:
    """The documented refusal for input past libxml2's limits.

    Its own depth limit (256) is far above ours, so a document it stops for depth is
    nested deeper than ``limits.max_depth`` and gets the same refusal as one our depth
    check finds; its advice to lift the limit (XML_PARSE_HUGE) is never passed on.
    """
    if _is_depth_message(detail):
        return UnsafeInput(source, f"elements nested deeper than {limits.max_depth} levels", line)
    plain = re.sub(r",?\s*use XML_PARSE_HUGE option", "", detail, flags=re.IGNORECASE)
    return UnsafeInput(source, f"parser limit exceeded: {plain}", line)


@lru_cache(maxsize=8)
def _deeper_than(levels: int) -> etree.XPath:
    """An XPath that finds any element nested deeper than ``levels`` (evaluated in C)."""
    return etree.XPath("/" + "/".join(["*"] * (levels + 1)))


_XINCLUDE_TAGS = tuple(f"{{{namespace}}}*" for namespace in sorted(XINCLUDE_NAMESPACES))


def _check_tree(root: etree._Element, source: str, limits: ParseLimits) -> None:
    """Depth, entity nodes and XInclude; lxml does the walking.

    No text-node check: the whole document is within the limit for one text node.
    """
    too_deep = _deeper_than(limits.max_depth)(root)
    if too_deep:
        raise UnsafeInput(
            source, f"elements nested deeper than {limits.max_depth} levels", too_deep[0].sourceline
        )
    for entity in root.iter(etree.Entity):
        raise UnsafeInput(source, "entity references are not allowed", entity.sourceline)
    for include in root.iter(*_XINCLUDE_TAGS):
        raise UnsafeInput(source, "XInclude is not allowed", include.sourceline)


def _license_element(record: License) -> etree._Element:
    element = etree.Element(RECORD_TAG)
    for name, value in record.model_dump(mode="json", exclude_none=True).items():
        etree.SubElement(element, name).text = str(value)
    return element


def format_signing_time(at: datetime) -> str:
    """ISO 8601 in Beijing time with its offset, to the second (what the document carries)."""
    if at.tzinfo is None:
        raise ValueError("signing time must carry a time zone")
    return at.astimezone(BEIJING).replace(microsecond=0).isoformat()


def parse_signing_time(text: str) -> datetime:
    """The exchange format's time rule: ISO 8601, a time without an offset is Beijing time."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)


def build_license_document(record: License, *, signing_time: datetime | None = None) -> bytes:
    """The unsigned document for one license (``sign_license_xml`` adds the signature).

    Without ``signing_time`` the document has none and the signer stamps the time it signs.
    """
    root = etree.Element(ROOT_TAG, version=FORMAT_VERSION, Id=SIGNED_ID)
    root.append(_license_element(record))
    if signing_time is not None:
        etree.SubElement(root, SIGNING_TIME_TAG).text = format_signing_time(signing_time)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def prepare_for_signing(root: etree._Element, signing_time: datetime) -> etree._Element:
    """The root to sign: a bare ``<license>`` is wrapped, the signing time set.

    An existing ``<signing_time>`` is replaced: the time is the signer's statement of when
    it signs, never something inherited from the input.
    """
    if root.tag == RECORD_TAG:
        wrapper = etree.Element(ROOT_TAG, version=FORMAT_VERSION, Id=SIGNED_ID)
        wrapper.append(root)
        root = wrapper
    elif root.tag != ROOT_TAG:
        raise ValueError(f"expected <{ROOT_TAG}> or <{RECORD_TAG}> to sign, got <{root.tag}>")
    records = root.findall(RECORD_TAG)
    if len(records) != 1:
        raise ValueError(f"<{ROOT_TAG}> must hold exactly one <{RECORD_TAG}>, has {len(records)}")
    unexpected = [child.tag for child in root if child.tag not in (RECORD_TAG, SIGNING_TIME_TAG)]
    if unexpected:
        raise ValueError(f"<{ROOT_TAG}> holds unexpected elements: {unexpected}")
    root.set("version", FORMAT_VERSION)
    root.set("Id", SIGNED_ID)
    for old in root.findall(SIGNING_TIME_TAG):
        root.remove(old)
    etree.SubElement(root, SIGNING_TIME_TAG).text = format_signing_time(signing_time)
    return root


class SignedContentError(ValueError):
    """The signed element does not have the layout of a signed license."""


@dataclass(frozen=True)
class SignedLicense:
    """What the signature covers, read from the signed bytes only.

    ``fields`` are the license fields as text (element name -> text), exactly as the
    exchange reader would hand them to validation; ``signed_bytes`` is the canonical form
    the digest was computed over.
    """

    fields: dict[str, str]
    signing_time: datetime
    signed_bytes: bytes

    def record(self, source: str = "<license xml>") -> tuple[License | None, list[Finding]]:
        """The License record and its schema findings, as for an exchange file."""
        raw = RawRecord(RECORD_TAG, SourceLocation(source, 1), dict(self.fields))
        record, findings = to_record(raw)
        assert record is None or isinstance(record, License)
        return record, findings


def read_signed_license(signed_root: etree._Element, signed_bytes: bytes) -> SignedLicense:
    """The license fields and signing time from the signed element (never the document)."""
    if signed_root.tag != ROOT_TAG:
        raise SignedContentError(f"signed element is <{signed_root.tag}>, expected <{ROOT_TAG}>")
    records = [c for c in signed_root if c.tag == RECORD_TAG]
    times = [c for c in signed_root if c.tag == SIGNING_TIME_TAG]
    if len(records) != 1:
        raise SignedContentError(f"signed element holds {len(records)} <{RECORD_TAG}> elements")
    if len(times) != 1 or not (times[0].text or "").strip():
        raise SignedContentError(f"signed element must hold one non-empty <{SIGNING_TIME_TAG}>")
    try:
        signing_time = parse_signing_time(times[0].text or "")
    except ValueError:
        raise SignedContentError(f"<{SIGNING_TIME_TAG}> is not an ISO 8601 time") from None
    fields: dict[str, str] = {}
    for child in records[0]:
        if not isinstance(child.tag, str):
            continue  # comments and PIs carry no fields
        if len(child):
            raise SignedContentError(f"license field <{child.tag}> must hold text only")
        if child.tag in fields:
            raise SignedContentError(f"license field <{child.tag}> appears twice")
        fields[child.tag] = child.text or ""
    return SignedLicense(fields, signing_time, signed_bytes)
