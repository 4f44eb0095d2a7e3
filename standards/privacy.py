"""Masking of personal identifiers for anything a person or a log will read.

What is masked is what *can be* a 公民身份号码 (GB 11643), not every long digit run: an
18-character number (digits, the last may be X) whose positions 7–14 are shaped as a date
(years 1900–2099, months 01–12, days 01–31), or a legacy 15-digit number whose
positions 7–12 are one (19YYMMDD).
Public identifiers of the same length that are not citizen IDs — all-digit 统一社会信用代码
of authorities (``114403000040578006``: positions 7–14 ``00004057``), serials and license
identifiers containing them — stay as they are: masking them made departments
unidentifiable and corrupted license keys.

The check character (ISO 7064 MOD 11-2) is *not* required of a plain number: the records
the hub quarantines for ``citizen_id.check`` are real people's numbers with one
character mistyped, and their quarantine listings, logs and reports must not show them.
Only about one all-digit USCC in 1,300 has a date in that place; those are masked, the
side to err on.

People also write an ID in groups inside free text, in any grouping of its characters:
``身份证:440305 19850312 001X``, ``440305-1985-0312-001X``, ``4403 0519 8503 1200 1X``,
``440305.19850312.001X``, ``110105  19491231  002X``, ``110105 - 19491231 - 002X``,
and, where the text names it, ``身份证号：110105/19491231/002X``,
``证件号码 110105_19491231_002X``, split across tab-separated cells or a message's lines
(``id_number\\t110105\\t19491231\\t002X``, ``身份证：11010519491231\\n002X``). Between
groups stands white space — spaces (also full-width or no-break ones, two or more of
them), tabs, line ends — with at most one mark in it: a hyphen (also full-width, an en
or em dash or a minus sign), a dot, ``/`` or ``_`` (``110105 - 19491231``). Not a comma
(amounts are written with it), nor two marks (``110105 -- 19491231``); nor (known gaps)
full-width ``／`` or ``＿``, ``|``, ``:``, ``;`` or U+2028 between groups.
A run with ``/``, ``_``, a tab or a line end between its groups, or touching letters, is
taken for an ID only where the 16 characters before it name an identity number
(身份证, 身份号码, 证件号, 公民身份, 证号, id_number, idcard, id no, sfzh, zjhm, gmsfhm,
``ID:``, or ``ID`` touching the run; case does not matter) and never as part of a path or
file name (a ``/`` or ``_`` right before it, a ``/``, ``_`` or ``.`` + letter right after
it): written so, region + yyyyMMdd + counter is a drop folder's path
(``/srv/drop/440303/20250826/0368.xml``), a file name (``cases_440303_20250826_0368.xml``),
a TSV row or a glued batch name, which auditors must read, and one in eleven has a right
check character. An ID written so without such a word (a bare TSV row, a path) is left
in clear. Spaces, a dash or a dot between groups (also two or more spaces and
`` - ``) ask for no such word: 6-8-4 with spaces or hyphens has always been masked, and
a region + date + counter so written is masked one time in eleven, as it always was.
Any run of consecutive whole groups that holds 17 digits and
a digit or X is masked (separators starred, tabs and line ends kept where they were,
the first four and last four ID characters shown as written) when, besides the date,
its check character is right: grouped digits in prose are more often something else
(phone numbers, references), so the stronger evidence is asked for there. Eighteen
random digits pass that about one time in 15,000. A grouped legacy 15-digit number must
be the whole run of groups, begin with a real province code and hold a real calendar
date (19YYMMDD): with no check character, fifteen digits found among other groups (the
last groups of a 19-digit bank card) would too often look like one. Within an e-license
identifier (dots between its segments) no group run is taken for an ID. Letters may
touch the first or the last group (``ID110105 19491231 002X``, ``…002Xabc``): a run of
groups that includes such a group is masked, where the text names an ID (above), with
the evidence asked of an ID glued into a longer number (below), and never as a legacy
15-digit number. A cut ID head (below) with ``/``, ``_``, a tab or a line end in it
needs the same naming word.
A run whose positions 7–14 are written as a date of its own — year, month and day each
a group (``620102 2026-05-10 3715``, ``440305.2025.12.06.3917``) — is a region code next
to a date, which auditors need to read, not an ID: one such line in eleven has a right
check character in the 18th place. An ID written so (``110105 1949-12-31 002X``) is
therefore not recognised; people write IDs 6-8-4, 6-4-4-4 or 4-4-4-4-2.
Other numbers written in groups are not personal IDs to this masker and stay as written:
phone numbers (11 digits, ``138 0013 8000``), dates, amounts, and bank card numbers
(16–19 digits, ``6222 0212 3456 7890 123``) — a bank card number is personal too, but no
record the hub exchanges carries one, and a Luhn check passes one number in ten, so
masking every Luhn-valid 16–19 digit run would star authorities' codes and serials. Only
an 18-digit card number that also passes the citizen-ID checks above is masked.

Departments also glue a holder's ID into longer numbers (material numbers such as
``CL44030519971127101X01``, or two IDs back to back). Eighteen characters inside a longer
run of letters and digits are masked only with the strongest evidence: a right check
character, a real calendar date in positions 7–14 and a 顺序码 other than ``000``. Of
eighteen random digits about one in 15,000 passes. Dated serials are not random, though:
a public code's tail + yyyyMMdd + counter lines up as region + birth date + sequence, and
one such window in eleven has a right check character. So a window is left alone when
its run is a well-formed 实施编码, 业务办理项编码 or 统一业务流水号, or lies in an e-license
identifier with a right MOD 37,36 check; and zero-padded counters (``000212``) put the
unissued 顺序码 ``000`` in place. What remains is a department's own region + date +
counter serial with a counter of 1,000 or more: about one in eleven of them is masked,
indistinguishable as it is from prefix + ID + suffix.

Full-width digits (``４４０３…``, typed with a Chinese input method) and other decimal
digits are read as the ASCII ones before matching; what is shown keeps the characters
as written, with the middle starred.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date

# What a masked 18-character 公民身份号码 keeps: the documented display form
# ``4403**********1234`` (region prefix and the last four).
_KEEP_HEAD = 4
_KEEP_TAIL = 4
_ID_LENGTH = 18
# Shorter identifiers (passports 9, 港澳/台湾 permits 8–11, the 15-character 外国人永久居留证
# and legacy 15-digit IDs) show at most a third of their characters; below this length
# nothing is shown at all.
_SHOW_NOTHING_BELOW = 6
# Set while _is_public_code runs an identifier parser (see there).
_PARSING: ContextVar[bool] = ContextVar("tongyuan_privacy_parsing", default=False)

# Shapes that could be a citizen ID standing on its own (not inside a longer run of
# letters and digits), written in one piece: 18 characters (last may be X) and legacy
# 15-digit numbers. Written in groups, IDs are found by :data:`_GROUP_RUN`. Whether a
# match *is* one is decided by :func:`could_be_citizen_id` (date, and check character when
# grouped). Matched against the folded text (:func:`_fold`), hence ASCII digits only.
CITIZEN_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")
# What stands between two groups of an ID written in groups: white space (spaces, tabs,
# line ends: tab-separated cells, a message wrapped across lines) with at most one mark
# among "-", ".", "/" and "_" in it (``110105  19491231``, ``110105 - 19491231``,
# ``110105/19491231``, ``110105_19491231``), never nothing; "/", "_", tabs and line ends
# only where the text names an ID (:func:`_named_as_id`). Written so that each text
# has one way to be read (white space, then the mark and the white space after it): an
# ambiguous separator let a failing match try every split of a long run of spaces. The
# folded text has every space as " " and the full-width hyphen and full stop as "-"
# and ".". Not a comma: amounts (``12.345.678,00``) and lists are written with it.
_WHITESPACE = " \t\r\n"
_MARKS = "-./_"
_SEPARATOR = rf"(?:[{_WHITESPACE}]++[{_MARKS}]?+[{_WHITESPACE}]*+|[{_MARKS}][{_WHITESPACE}]*+)"
# A run of at least two groups of digits (a group may end in X) with a separator
# between groups: where an ID written in groups can stand, as any run of consecutive
# whole groups (:func:`_grouped_spans`). The check character X may be a group of its
# own (``… 002 X``). No digit may touch the run; letters may (``ID110105 19491231
# 002X``, ``…002Xabc``): a window holding a group glued to letters needs the evidence
# of an ID glued into a longer number (:func:`_grouped_spans`).
_GROUP_RUN = re.compile(rf"(?<![0-9])[0-9]+[Xx]?(?:{_SEPARATOR}(?:[0-9]+[Xx]?|[Xx]))+(?![0-9])")
_GROUP = re.compile(r"[0-9]+[Xx]?|[Xx]")
# A birth date's shape (years 1900–2099, :func:`_date_shaped`), matched where positions
# 7–14 of an ID begin: the cheap first test of a window of groups.
_BIRTH_DATE_AT_7 = re.compile(r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])")
_LEGACY_LENGTH = 15
# Every start of 18 ID-shaped characters, overlapping, wherever they stand: the
# candidates for an ID glued into a longer number (the lookahead yields each position).
# Only windows whose positions 7–14 are date-shaped are matched, so that few reach the
# calendar and check-character tests.
_EMBEDDED_CANDIDATE = re.compile(
    r"(?=([0-9]{6}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]))"
)
_GROUP_SEPARATORS = _WHITESPACE + _MARKS
_SEPARATORS = re.compile(rf"[{re.escape(_GROUP_SEPARATORS)}]")
# Separators a masked ID keeps as written: a tab or line end is the structure of the
# text (tab-separated cells, a message's lines), not part of the number, and shows no
# digit (:func:`_mask_plain`).
_KEPT_IN_MASK = frozenset("\t\r\n")
_LETTERS = re.compile("[A-Za-z]")
# Separators that make a run of groups an ID only where the text names one
# (:func:`_named_as_id`): "/" and "_" join the parts of paths and file names, tabs and
# line ends the cells and lines of region + yyyyMMdd + counter rows, all logged all the
# time; one such run in eleven has a right check character in the 18th place.
_CONTEXT_SEPARATORS = frozenset("/_\t\r\n")
# What names an identity number in the text right before a run that needs it (matched
# case-insensitively on the folded text, within _CONTEXT_REACH characters): 身份证,
# 身份号码, 证件号, 公民身份, 持证主体代码; the pinyin column names sfz, sfzh, zjhm, gmsfhm
# also inside longer names (SQRZJHM 申请人证件号码, frsfzh); id_number / id number /
# idnumber, id_num, idcard / id_card, id no / id_no, holder_id, identity card / no /
# number, camelCase ``applicantIdCard``, ``holderIdNumber``, ``personIdNo``; "ID:" and
# "ID" touching the first group (``ID110105 19491231 002X``). Not an "id" that ends
# another word (``batch_id:``, ``Batch ID:``, ``run id``): run, batch and task serials
# are what this keeps readable; nor 许可证号 and the like (a bare 证号).
_ID_CONTEXT = re.compile(
    r"身份证|身份号码|证件号|公民身份|持证主体代码|sfzh?|zjhm|gmsfhm"
    r"|(?<![a-z])(?:id[ _-]?(?:number|num|card|no(?![a-z]))"
    r"|identity[ _-]?(?:card|number|no(?![a-z]))|holder[ _-]?id(?![a-z]))"
    r"|(?-i:(?<=[a-z])Id(?:Number|Num|Card|No)(?![a-z]))"
    r"|(?<![a-z0-9_-])(?<![a-z0-9][ _-])id *[:：]|(?<![a-z])id\Z",
    re.IGNORECASE,
)
_CONTEXT_REACH = 16
# What follows a run that is part of a path or a file name: a "/" or "_" (the path or
# the name goes on) or an extension ("." and a letter: ``0368.xml``).
_PATH_GOES_ON = re.compile(r"[/_]|\.[A-Za-z]")
# Where the groups of a date written apart end, counted in digits (:func:`_date_written_apart`):
# after the region, the year and the month; and after the day, when the run goes on.
_DATE_GROUP_ENDS = frozenset({6, 10, 12})
_DATE_END = 14
# What an embedded window's run of letters and digits is made of, and e-license
# identifiers (GB/T 36904: prefix, type code, issuer, serial, version, check segments).
_ALNUM_RUN = re.compile("[0-9A-Za-z]+")
_LICENSE_ID = re.compile(r"1\.2\.156\.3005\.2(?:\.[0-9A-Za-z]+){5}")
# 顺序码 000 is not issued; zero-padded counters put it exactly there (``CL`` + region +
# yyyyMMdd + ``000212``), so a glued window with it is a serial, not a person.
_UNISSUED_SEQUENCE = "000"
# What is folded to ASCII before matching: any non-ASCII decimal digit (full-width
# ０–９ above all), the full-width letter X, the full-width hyphen and full stop and the
# spaces that show as one (full-width, no-break, thin, narrow:
# ``440305\u00a019850312\u00a0001X`` is the grouped ID a reader sees).
_SPACES = "\u3000\u00a0\u2000-\u200a\u202f\u205f"
# En dash, em dash and minus sign (``110105–19491231–002X``, what word processors make of
# a hyphen) are folded to "-" as well.
# Every dash a keyboard, word processor or IME puts between groups: hyphen, non-breaking
# hyphen, figure dash, en and em dash, horizontal bar, minus sign, small em dash, small
# hyphen-minus (the full-width hyphen-minus is folded with the other full-width forms).
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63"
_TO_FOLD = re.compile(rf"(?![0-9])\d|[\uff38\uff58\uff0d\uff0e{_DASHES}{_SPACES}]")
_FOLDED = {"\uff38": "X", "\uff58": "x", "\uff0d": "-", "\uff0e": "."} | dict.fromkeys(_DASHES, "-")
_FIRST_BIRTH_YEAR = 1900
_LAST_BIRTH_YEAR = 2099


@dataclass(frozen=True, slots=True)
class CitizenIdSpan:
    """Where something that can be a citizen ID stands in a text (``text[start:end]``)."""

    start: int
    end: int
    text: str


def kept_ends(length: int) -> tuple[int, int]:
    """How many leading and trailing characters a masked identifier of ``length`` shows.

    An 18-character (or longer) value keeps 4 and 4, the documented form
    ``4403**********1234``. Keeping 4 and 4 of a 9-character passport number showed 8 of
    its 9 characters, which hides nothing: shorter values show at most a third of their
    characters (a 9-character passport ``E******78``, a 15-character 外国人永久居留证 2
    and 3), and values under 6 characters none.
    """
    if length >= _ID_LENGTH:
        return _KEEP_HEAD, _KEEP_TAIL
    if length < _SHOW_NOTHING_BELOW:
        return 0, 0
    shown = length // 3
    return shown // 2, shown - shown // 2


def mask_id(value: str | None) -> str:
    """Mask an identifier for display: ``4403**********1234`` for an 18-character ID.

    Shorter identifiers show at most a third of their characters (:func:`kept_ends`).
    """
    if not value:
        return ""
    head, tail = kept_ends(len(value))
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def _fold(text: str) -> str:
    """``text`` with full-width (and any other decimal) digits, Ｘ, full-width hyphens
    and spaces that show as one read as ASCII, character for character: an ID typed
    with a Chinese input method is the same ID, and equal length lets a match be
    starred in the original."""
    if text.isascii() or _TO_FOLD.search(text) is None:
        return text
    return _TO_FOLD.sub(_fold_char, text)


def _fold_char(match: re.Match[str]) -> str:
    char = match.group(0)
    if char.isspace():
        return " "
    return _FOLDED.get(char) or str(unicodedata.decimal(char))


def _digits(value: str, also: str = "") -> bool:
    """ASCII digits only (``str.isdigit`` also takes superscripts, which ``int`` refuses)."""
    return all("0" <= c <= "9" or c in also for c in value)


def _date_shaped(yyyymmdd: str) -> bool:
    """Year 1900–2099, month 01–12, day 01–31: the shape of a birth date.

    Not calendar validity: a number quarantined for ``citizen_id.birth_date`` (30 Feb,
    a mistyped day) is still a person's number and is masked like any other.
    """
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])
    return _FIRST_BIRTH_YEAR <= year <= _LAST_BIRTH_YEAR and 1 <= month <= 12 and 1 <= day <= 31


def _check_char_right(number: str) -> bool:
    # Imported here: standards.identifiers imports this module (mask_id) on its own import.
    from standards.identifiers.iso7064 import mod11_2_check_char

    return mod11_2_check_char(number[:17]) == number[17]


def could_be_citizen_id(value: str) -> bool:
    """Whether ``value`` (digits, the last of 18 may be X) can be a citizen ID standing
    on its own.

    A real birth date in its place is required; written in groups (separators inside:
    white space, hyphens, dots, ``/``, ``_``), the MOD 11-2 check character must be
    right as well, and a legacy 15-digit number needs a real province code and calendar
    date instead (it has no check character). No region or today's-date test otherwise:
    a masked value that is not an ID costs little, an ID left clear costs much.
    """
    value = _fold(value)
    number = _SEPARATORS.sub("", value).upper()
    if len(number) == _LEGACY_LENGTH and _digits(number):
        if len(value) == len(number):
            return _date_shaped("19" + number[6:12])
        return _legacy_in_groups(number)
    if len(number) != _ID_LENGTH or not _digits(number[:17]) or not _digits(number[17], "X"):
        return False
    if not _date_shaped(number[6:14]):
        return False
    if len(value) == len(number):
        return True
    return _check_char_right(number)


def _legacy_in_groups(number: str) -> bool:
    """Whether 15 digits written in groups can be a legacy ID: a real province code
    (GB/T 2260) and a real calendar date 19YYMMDD, the evidence that stands in for the
    check character it does not have."""
    if _PROVINCE_CODE.fullmatch(number[:2]) is None:
        return False
    try:
        date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    except ValueError:
        return False
    return True


def could_be_embedded_citizen_id(value: str) -> bool:
    """Whether 18 characters glued into a longer number can be a citizen ID.

    Inside a longer run of letters and digits most 18-character windows are parts of
    serials, codes and license identifiers, so the strongest evidence is asked for: the
    right MOD 11-2 check character, a real calendar date (not only its shape) in
    positions 7–14, and an issued 顺序码 (not ``000``, what zero-padded counters put
    there).
    """
    number = _fold(value).upper()
    if len(number) != _ID_LENGTH or not _digits(number[:17]) or not _digits(number[17], "X"):
        return False
    if number[14:17] == _UNISSUED_SEQUENCE:
        return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    if not _FIRST_BIRTH_YEAR <= year <= _LAST_BIRTH_YEAR:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return _check_char_right(number)


@contextmanager
def _parsing() -> Iterator[None]:
    """While an identifier parser runs inside masking (see :func:`_is_public_code`)."""
    token = _PARSING.set(True)
    try:
        yield
    finally:
        _PARSING.reset(token)


def _is_public_code(run: str) -> bool:
    """Whether a run of letters and digits is a well-formed 实施编码, 业务办理项编码 or
    统一业务流水号: their date and counter parts line up as a birth date and sequence
    (``…110012`` + ``20260114`` + ``0001``), and their structure says what they are."""
    # Imported here: standards.identifiers imports this module on its own import.
    from standards.identifiers.case_serial import MIN_SERIAL_LENGTH, parse_case_serial
    from standards.identifiers.errors import InvalidIdentifier
    from standards.identifiers.item_codes import (
        HANDLING_CODE_LENGTH,
        IMPL_CODE_LENGTH,
        parse_handling_code,
        parse_impl_code,
    )

    parsers = {IMPL_CODE_LENGTH: parse_impl_code, HANDLING_CODE_LENGTH: parse_handling_code}
    parse = parsers.get(len(run), parse_case_serial if len(run) >= MIN_SERIAL_LENGTH else None)
    if parse is None:
        return False
    # A parser that refuses the run builds its message with mask_text, which would ask
    # this function about the same run again, without end: such nested masking only
    # looks for IDs standing alone (its message is discarded here anyway).
    with _parsing():
        try:
            parse(run)
        except InvalidIdentifier:
            return False
    return True


def _checked_license_spans(folded: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every e-license identifier in ``folded`` whose MOD 37,36 check
    character is right (its type code is a USCC plus digits, its serial anything), in
    order: found and checked once per text, so that asking about every window stays
    linear (a search of the whole text per window made long dotted texts quadratic)."""
    if "1.2.156.3005.2" not in folded:
        return []
    from standards.identifiers.errors import InvalidIdentifier
    from standards.identifiers.license_id import parse_license_identifier

    spans: list[tuple[int, int]] = []
    for match in _LICENSE_ID.finditer(folded):
        with _parsing():  # its error message is masked too: see _is_public_code
            try:
                parse_license_identifier(match.group(0))
            except InvalidIdentifier:
                continue
        spans.append(match.span())
    return spans


def _in_license_identifier(licenses: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether ``start:end`` lies in one of ``licenses`` (:func:`_checked_license_spans`;
    the matches do not overlap, so only the last one starting at or before ``start``
    can hold it)."""
    at = bisect_right(licenses, start, key=_span_start) - 1
    return at >= 0 and end <= licenses[at][1]


def _span_start(span: tuple[int, int]) -> int:
    return span[0]


def _embedded_spans(folded: str, licenses: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(start, end)`` of every ID glued into a longer number, not a part of a public
    code that only looks like one there. The runs of letters and digits are found once
    and each is judged once, however many windows it holds: walking out from every
    window made a long run of digits quadratic."""
    runs: list[tuple[int, int]] | None = None
    public: dict[tuple[int, int], bool] = {}
    found: list[tuple[int, int]] = []
    for match in _EMBEDDED_CANDIDATE.finditer(folded):
        if not could_be_embedded_citizen_id(match.group(1)):
            continue
        start, end = match.start(), match.start() + _ID_LENGTH
        if runs is None:
            runs = [run.span() for run in _ALNUM_RUN.finditer(folded)]
        run = runs[bisect_right(runs, start, key=_span_start) - 1]
        if run not in public:
            public[run] = _is_public_code(folded[run[0] : run[1]])
        if not public[run] and not _in_license_identifier(licenses, start, end):
            found.append((start, end))
    return found


def _group_windows(run: re.Match[str]) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of every run of two or more consecutive whole groups in a group
    run that may be an ID written in groups: 18 characters (X only at the very end) with
    a date-shaped 7–14 (cheap to test here, on the digits, before the full test), or 15
    digits that are the whole run."""
    text = run.group(0)
    groups = [match.span() for match in _GROUP.finditer(text)]
    digits = _SEPARATORS.sub("", text)
    offset, last = run.start(), len(groups) - 1
    digits_before = 0
    for first, (start, _) in enumerate(groups):
        length = 0
        for at in range(first, last + 1):
            group_start, group_end = groups[at]
            length += group_end - group_start
            if length > _ID_LENGTH:
                break
            if at > first and (
                (length == _ID_LENGTH and _BIRTH_DATE_AT_7.match(digits, digits_before + 6))
                or (length == _LEGACY_LENGTH and first == 0 and at == last)
            ):
                yield offset + start, offset + group_end
            if text[group_end - 1] in "Xx":
                break
        digits_before += groups[first][1] - start


def _grouped_spans(folded: str, licenses: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Every place where an ID written in groups stands (:func:`could_be_citizen_id`):
    any run of consecutive whole groups, so that an ID written next to other grouped
    numbers (``110105 1949 1231 002X 138 0013 8000``) is found all the same."""
    for run in _GROUP_RUN.finditer(folded):
        glued_start = run.start() > 0 and _LETTERS.match(folded, run.start() - 1) is not None
        glued_end = _LETTERS.match(folded, run.end()) is not None
        for start, end in _group_windows(run):
            glued = (glued_start and start == run.start()) or (glued_end and end == run.end())
            if not _grouped_id(folded[start:end], glued=glued) or _date_written_apart(
                folded[start:end]
            ):
                continue
            if (glued or _CONTEXT_SEPARATORS.intersection(folded[start:end])) and not (
                _named_as_id(folded, start, end)
            ):
                continue
            # Dots also separate the segments of an e-license identifier; one whose check
            # is right is not a person's number.
            if "." in folded[start:end] and _in_license_identifier(licenses, start, end):
                continue
            yield start, end


def _grouped_id(written: str, *, glued: bool) -> bool:
    """Whether grouped digits can be an ID: :func:`could_be_citizen_id`, or, where a
    group of them is glued to letters (``ID110105 19491231 002X``, ``…002Xabc``), the
    evidence asked of an ID glued into a longer number (:func:`could_be_embedded_citizen_id`:
    right check character, real calendar date, issued 顺序码). Glued letters say the group
    may be part of a code, so no more is taken than in one piece; a legacy 15-digit
    number, which has no check character, is never taken glued."""
    if not glued:
        return could_be_citizen_id(written)
    return could_be_embedded_citizen_id(_SEPARATORS.sub("", written))


def _named_as_id(folded: str, start: int, end: int) -> bool:
    """Whether the run of groups at ``folded[start:end]`` is named as an identity number
    by the text right before it (:data:`_ID_CONTEXT`, within :data:`_CONTEXT_REACH`
    characters) and is no part of a path or file name (no "/" or "_" right before it;
    no "/", "_" or extension right after it).

    Asked of a run that holds "/", "_", a tab or a line end between its groups, or that
    touches letters: written so, region + yyyyMMdd + counter is a drop folder's path
    (``/srv/drop/440303/20250826/0368.xml``), a file name (``cases_440303_20250826_0368``),
    a TSV row or a glued batch name, and one in eleven has a right check character.
    People who write an ID so name it (``身份证号：110105/19491231/002X``,
    ``id_number\t110105\t19491231\t002X``, ``ID110105 19491231 002X``); a path or
    file name is left readable even then (documented)."""
    if start > 0 and folded[start - 1] in "/_":
        return False
    if _PATH_GOES_ON.match(folded, end) is not None:
        return False
    return _ID_CONTEXT.search(folded, max(0, start - _CONTEXT_REACH), start) is not None


def _date_written_apart(written: str) -> bool:
    """Whether the date at positions 7–14 of grouped digits is written as a date of its
    own, its year, month and day in groups (``620102 2026-05-10 3715``,
    ``440305.2025.12.06.3917``): a region code and a date side by side, which auditors
    need to read; about one in eleven has a right check character in the 18th place.
    People write a date so, an ID hardly ever (6-8-4, 6-4-4-4, 4-4-4-4-2 keep the date's
    month and day together), so such a run is not taken for an ID (documented)."""
    ends: set[int] = set()
    digits = 0
    for char in written.rstrip(_GROUP_SEPARATORS):  # a separator before a cut ends no group
        if char in _GROUP_SEPARATORS:
            ends.add(digits)
        else:
            digits += 1
    return _DATE_GROUP_ENDS.issubset(ends) and (digits <= _DATE_END or _DATE_END in ends)


def _id_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every place that can be a citizen ID, sorted (see below)."""
    folded = _fold(text)
    # While an identifier is parsed (see _is_public_code) no license identifier is
    # looked for: a window in one is simply taken, that text is discarded.
    licenses = [] if _PARSING.get() else _checked_license_spans(folded)
    alone = [
        match.span()
        for match in CITIZEN_ID_PATTERN.finditer(folded)
        if could_be_citizen_id(match.group(0))
    ]
    if _SEPARATORS.search(folded) is not None:
        grouped = list(_grouped_spans(folded, licenses))
        if grouped:
            alone = sorted(set(alone).union(grouped))
    if _PARSING.get():
        return alone
    embedded = _embedded_spans(folded, licenses)
    if not embedded:
        return alone
    return sorted(set(alone).union(embedded))


def find_citizen_ids(text: str) -> Iterator[CitizenIdSpan]:
    """Every place in ``text`` holding something that can be a citizen ID, in order.

    Standing alone (no letter or digit either side) the date shape suffices (grouped
    forms also need the check character); glued into a longer run of letters and digits
    (``CL44030519971127101X01``, two IDs back to back) an 18-character window needs a
    right check character and a real date. Windows may overlap: each is reported, so
    that masking them all errs on the side of hiding.
    """
    for start, end in _id_spans(text):
        yield CitizenIdSpan(start, end, text[start:end])


def contains_citizen_id(text: str) -> bool:
    """Whether free text carries something that can be a citizen ID (for leak checks)."""
    return next(find_citizen_ids(text), None) is not None


# Characters that do not show, by Unicode property rather than by a list of examples:
# every format character (category Cf: direction controls, zero-width space and joiners,
# word joiner, invisible operators U+2061–2064, BOM, soft hyphen, tags U+E0000–E007F,
# U+180E), every control character (Cc) other than tab and line ends, and the rest of
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt) that is not Cf:
# combining grapheme joiner U+034F, variation selectors U+FE00–FE0F, U+E0100–E01EF and
# the Mongolian ones, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0 and the code
# points reserved as ignorable. An ID written with one inside still reads as that ID to
# whoever sees the text.
_HIDDEN_CATEGORIES = frozenset({"Cf", "Cc"})
_SHOWN_CONTROLS = frozenset("\t\n\r")
_IGNORABLE_NOT_FORMAT = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180D),
    (0x180F, 0x180F), (0x2065, 0x2065), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0xE0000, 0xE0FFF),
)  # fmt: skip
# Planes that hold Cf and Cc characters (BMP, SMP and the special-purpose plane 14): the
# others hold ideographs and private use only. Scanning 135k code points instead of the
# 1.1M costs ~20 ms at import instead of ~300 ms (a test checks nothing is missed).
_PLANES_WITH_FORMAT_CHARACTERS = (range(0x20000), range(0xE0000, 0xE1000))


def _hidden_class() -> str:
    """A regex character class of every hidden character, as ranges."""
    category = unicodedata.category  # one comprehension over 135k code points: kept tight
    points = sorted(
        {
            c
            for plane in _PLANES_WITH_FORMAT_CHARACTERS
            for c in plane
            if category(chr(c)) in _HIDDEN_CATEGORIES
        }
        - {ord(char) for char in _SHOWN_CONTROLS}
        | {c for low, high in _IGNORABLE_NOT_FORMAT for c in range(low, high + 1)}
    )
    return _character_class(points)


def _character_class(points: list[int]) -> str:
    """A regex character class of these code points (ascending), as ranges."""
    ranges: list[list[int]] = []
    for point in points:
        if ranges and point == ranges[-1][1] + 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges) + "]"


HIDDEN_CHARACTERS = re.compile(_hidden_class())

# The hidden characters a report shows as their code point (``〈U+202E〉``): those that
# only hide or reorder text, so that a value carrying one was not typed by a person —
# direction controls (U+061C, U+200E/F, U+202A–202E, U+2066–2069), zero-width space and
# joiners U+200B–200D, word joiner and invisible operators U+2060–2064, BOM U+FEFF,
# soft hyphen, U+034F, the Hangul fillers U+3164 and U+FFA0, tags U+E0000–E007F and the
# control characters other than tab and line ends. Not the rest of HIDDEN_CHARACTERS,
# which only detection (mask_text) needs: they are part of what people write and show
# as such — variation selectors (the emoji one U+FE0F in ❤️; U+E0100–E01EF pick the
# glyph of a rare character in a Chinese name), the Mongolian variation selectors and
# vowel separator U+180B–180F in Mongolian names, and the Arabic, Syriac and Kaithi
# marks that are drawn (U+0600–0605, U+06DD, U+070F, U+08E2, U+110BD, U+110CD).
_SHOWN_AS_CODE_POINT_RANGES = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x034F, 0x034F),
    (0x061C, 0x061C), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064),
    (0x2066, 0x2069), (0x3164, 0x3164), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0),
    (0xE0000, 0xE007F),
)  # fmt: skip
SHOWN_AS_CODE_POINT = re.compile(
    _character_class(
        sorted(
            {c for low, high in _SHOWN_AS_CODE_POINT_RANGES for c in range(low, high + 1)}
            - {ord(char) for char in _SHOWN_CONTROLS}
        )
    )
)

# The head of a citizen ID cut off by an ellipsis ("…"), on the same group model as a
# whole ID (:func:`_cut_heads`): the whole groups written right before the cut (a
# separator between groups, one more allowed before the "…"), any grouping; letters may
# come before the first group (``CL`` + the holder's ID, a material number cut), digits
# may not. What decides is their digits, the separators dropped (this pattern, matched
# whole). The house rule is to err on the side of masking: from 10 digits when the
# region starts with a real province code (GB/T 2260: 11–15, 21–23, 31–37, 41–46, 50–54,
# 61–65, 71, 81, 82) and a year 19xx/20xx follows, the month 01–12 as far as written
# (region + YYYY, + the month's first digit, + MM); from 13 digits whatever the region:
# region + YYYYMM + the first digit of the day of an 18-character ID, or region + YYMMDD
# + one sequence digit of a legacy 15-digit one.
# The price: public codes cut after 10–12 digits with that shape are starred in display
# too — a 12-digit area code with a township numbered 190–209 (``511321200001…``), a
# 实施编码 of a district whose county code is 19 or 20 (璧山 500120: ``1150012019…``), a
# phone number cut after its 11 digits. 8 or 9 digits are left (延庆 110119, 奉贤 310120:
# ``31012019…``, ``13812019…``), and so is a head whose month or day cannot be one.
_PROVINCE = "(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[12])"
_PROVINCE_CODE = re.compile(_PROVINCE)
_MONTH = "(?:0[1-9]|1[0-2])"
_DAY = "(?:0[1-9]|[12][0-9]|3[01])"
_CUT_HEAD_DIGITS = re.compile(
    rf"{_PROVINCE}[0-9]{{4}}(?:19|20)[0-9]{{2}}(?:{_MONTH}|[01])?"
    rf"|[0-9]{{6}}(?:19|20)[0-9]{{2}}{_MONTH}(?:[0-3]|{_DAY}[0-9]{{0,3}})"
    rf"|[0-9]{{8}}{_MONTH}{_DAY}[0-9]{{1,2}}"
)
# The head of a legacy 15-digit ID (region, YYMMDD): its groups 6 | YYMM | DD are no
# date written apart (that reading is the 18-character one's).
_LEGACY_CUT_HEAD = re.compile(rf"[0-9]{{8}}{_MONTH}{_DAY}[0-9]{{1,2}}")
_CUT = "…"
_CUT_HEAD_DIGITS_MIN = 10
_CUT_HEAD_DIGITS_MAX = 17
# A cut e-license identifier ending in dotted groups (its issuer and a dated serial,
# ``1.2.156.3005.2.….440305.20240115…``): its dots are segment separators, not a
# grouped ID's, and its check character, cut off, cannot say otherwise.
_CUT_LICENSE_PREFIX = re.compile(r"1\.2\.156\.3005\.2(?:\.[0-9A-Za-z]+)*\.$")
_LICENSE_PREFIX_REACH = 128


def mask_text(text: str) -> str:
    """Mask every citizen ID number that appears inside free text (log lines, messages).

    Each one keeps its first and last characters as :func:`mask_id` would (four and four
    of an 18-character ID, two and three of a legacy 15-digit one) as written and has
    the rest starred (separators included); where two found places overlap, every
    character either would star is starred. The head of an ID that a cut ended
    (``44030519850312001…``, also in full-width digits or in groups) is starred after
    its first four digits. The text is read twice where it holds characters that do not
    show (:data:`HIDDEN_CHARACTERS`): without them, as a reader sees it, and with each
    as a separator; a character either reading stars is starred, and the hidden ones are
    kept where they were.
    """
    if HIDDEN_CHARACTERS.search(text) is None:
        return _mask_plain(text)
    apart = _mask_plain(HIDDEN_CHARACTERS.sub(" ", text))
    joined = iter(_mask_plain(HIDDEN_CHARACTERS.sub("", text)))
    pieces: list[str] = []
    for char, seen_apart in zip(text, apart, strict=True):
        if HIDDEN_CHARACTERS.fullmatch(char):
            pieces.append(char)
            continue
        seen_joined = next(joined)
        pieces.append("*" if "*" in (seen_apart, seen_joined) else char)
    return "".join(pieces)


def _starred_ranges(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of what :func:`_mask_plain` stars: the middle of every place that
    can be a citizen ID, and every cut ID head after its first four digits (sorted)."""
    ranges: list[tuple[int, int]] = []
    folded = _fold(text)
    for found_start, found_end in _id_spans(text):
        ranges.append(_starred_part(folded, found_start, found_end))
    if _CUT in text:
        ranges.extend(_cut_heads(folded))
        ranges.sort()
    return ranges


def _cut_heads(folded: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of what is starred of every cut ID head: all after its first four
    digits, up to the "…" (:data:`_CUT_HEAD_DIGITS`)."""
    cut = folded.find(_CUT)
    while cut != -1:
        yield from _cut_heads_before(folded, cut)
        cut = folded.find(_CUT, cut + 1)


def _cut_heads_before(folded: str, cut: int) -> Iterator[tuple[int, int]]:
    """The starred part of every run of whole groups that ends right before the "…" at
    ``cut`` and holds the head of an ID, walking left one group at a time (never over
    more than 17 digits, so that long runs of groups cost no more than short ones)."""
    at = _separator_start(folded, cut)
    digits = ""
    while True:
        group_end = at
        while at > 0 and "0" <= folded[at - 1] <= "9":
            at -= 1
        if at == group_end:
            return
        digits = folded[at:group_end] + digits
        if len(digits) > _CUT_HEAD_DIGITS_MAX:
            return
        if (
            len(digits) >= _CUT_HEAD_DIGITS_MIN
            and _cut_head_at(folded, at, cut, digits)
            and (
                _LEGACY_CUT_HEAD.fullmatch(digits) is not None
                or not _date_written_apart(folded[at:cut])
            )
            and (
                not _CONTEXT_SEPARATORS.intersection(folded[at:cut])
                or _named_as_id(folded, at, cut)
            )
        ):
            yield _fourth_digit_end(folded, at), cut
        before = _separator_start(folded, at)
        if before == at or before == 0 or not "0" <= folded[before - 1] <= "9":
            return
        at = before


def _separator_start(folded: str, end: int) -> int:
    """Where the separator (:data:`_SEPARATOR`: white space with at most one mark in it)
    that ends at ``end`` starts; ``end`` when there is none. A cut walks over each
    separator once (the "…" before it stops the walk of the cut before), so a long run
    of white space costs no more than it is long."""
    at = end
    while at > 0 and folded[at - 1] in _WHITESPACE:
        at -= 1
    if at > 0 and folded[at - 1] in _MARKS:
        at -= 1
        while at > 0 and folded[at - 1] in _WHITESPACE:
            at -= 1
    return at


def _cut_head_at(folded: str, start: int, cut: int, digits: str) -> bool:
    """Whether ``digits``, written from ``start`` up to the "…" at ``cut``, are an ID's
    head rather than the dotted tail of a cut e-license identifier."""
    if _CUT_HEAD_DIGITS.fullmatch(digits) is None:
        return False
    if "." not in folded[start:cut]:
        return True
    before = folded[max(0, start - _LICENSE_PREFIX_REACH) : start]
    return _CUT_LICENSE_PREFIX.search(before) is None


def _fourth_digit_end(folded: str, start: int) -> int:
    """Where the first four digits written from ``start`` (over separators) end."""
    seen = 0
    while seen < _KEEP_HEAD:
        if "0" <= folded[start] <= "9":
            seen += 1
        start += 1
    return start


def _starred_part(folded: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` of what is starred of the ID found at ``folded[start:end]``: all
    but its first and last characters as :func:`mask_id` keeps them (four and four of 18),
    counted in ID characters, so that an ID in groups shows what the same ID in one
    piece shows; the separators in between are starred, those next to what is shown too."""
    positions = [at for at in range(start, end) if folded[at] not in _GROUP_SEPARATORS]
    head, tail = kept_ends(len(positions))
    first = positions[head - 1] + 1 if head else start
    return first, positions[len(positions) - tail] if tail else end


def _mask_plain(text: str) -> str:
    """:func:`mask_text` of text with nothing hidden in it (the length is kept)."""
    ranges = _starred_ranges(text)
    if not ranges:
        return text
    starred: list[tuple[int, int]] = []
    for start, end in ranges:
        if starred and start <= starred[-1][1]:
            starred[-1] = (starred[-1][0], max(starred[-1][1], end))
        else:
            starred.append((start, end))
    pieces: list[str] = []
    done = 0
    for start, end in starred:
        pieces.append(text[done:start])
        pieces.append(_stars(text[start:end]))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _stars(hidden: str) -> str:
    """``hidden`` starred, its tabs and line ends kept (:data:`_KEPT_IN_MASK`)."""
    if not _KEPT_IN_MASK.intersection(hidden):
        return "*" * len(hidden)
    return "".join(char if char in _KEPT_IN_MASK else "*" for char in hidden)
