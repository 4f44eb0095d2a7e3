"""Date and time formats as department systems write them, Chinese ones included.

Formats use ``strftime`` directives (``%Y年%m月%d日 %H时%M分``) but are compiled here into
one regular expression each instead of going through ``time.strptime``: the mapping runs
per row on streams of millions, and ``strptime`` costs several microseconds a call behind
a lock. Compiled formats are also more forgiving where departments differ harmlessly:

- month, day, hour, minute and second take one or two digits (``2026/3/2 9:05``) where
  something separates them from the next or previous number; where two numeric
  directives touch (``%Y%m%d``), each takes its full width (``%m`` two digits, ``%f``
  six unless it ends the run), and where only a space of the format lies between
  (which may match none), one digit is taken only when the space is there: ``2025031``
  and ``2025-3-119:30`` match nothing rather than a guessed date;
- a space in the format matches any run of whitespace, including none
  (``2026年3月2日9时30分``);
- digits may be full-width (``２０２６年３月２日``), as Chinese input methods produce them.

The keyword ``iso`` stands for ISO 8601 (``2026-03-02``, ``2026-03-02T09:30:00+08:00``,
``2026-03-02 09:30:00``), parsed by ``datetime.fromisoformat``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ISO = "iso"

# Formats whose every match is also what datetime.fromisoformat reads (given the length
# and separators checked below), so the C parser can take the common case.
_ISO_SHAPES: dict[str, tuple[int, str | None]] = {
    "%Y-%m-%d %H:%M:%S": (19, " "),
    "%Y-%m-%dT%H:%M:%S": (19, "T"),
    "%Y-%m-%d %H:%M": (16, " "),
    "%Y-%m-%d": (10, None),
}

# directive -> its pattern where nothing numeric touches it. The regex group of each
# directive is named after its letter.
_DIRECTIVES: dict[str, str] = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{1,2}",
    "d": r"\d{1,2}",
    "H": r"\d{1,2}",
    "M": r"\d{1,2}",
    "S": r"\d{1,2}",
    "f": r"\d{1,6}",
    "z": r"Z|[+-]\d{2}:?\d{2}",
}
# Directives whose text is digits: two of them with nothing between cannot tell where one
# ends unless their widths are fixed (2025031 would be 2025-03-01 or 2025-03-1?).
_NUMERIC = frozenset("YymdHMSf")
_ONE_OR_TWO = frozenset("mdHMS")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def _touching(tokens: list[tuple[str, str]], position: int, step: int) -> str | None:
    """How the neighbour on one side relates: "touch" when a numeric directive follows
    with nothing between, "space" when only a format space (which may match none) lies
    between, None when a literal separates them or there is none."""
    j = position + step
    if not 0 <= j < len(tokens):
        return None
    kind, value = tokens[j]
    if kind == "directive" and value in _NUMERIC:
        return "touch"
    if kind == "space":
        k = j + step
        if 0 <= k < len(tokens) and tokens[k][0] == "directive" and tokens[k][1] in _NUMERIC:
            return "space"
    return None


def _token_pattern(tokens: list[tuple[str, str]], position: int) -> str:
    """The regex of one format token, given its neighbours.

    A one-or-two-digit directive is two digits when it touches another number; beside a
    format space it may be one digit only when the value really has a non-digit there.
    """
    kind, value = tokens[position]
    if kind == "literal":
        return value
    if kind == "space":
        return r"\s*"
    regex = _DIRECTIVES[value]
    left = _touching(tokens, position, -1)
    right = _touching(tokens, position, 1)
    if value in _ONE_OR_TWO:
        if "touch" in (left, right):
            regex = r"\d{2}"
        elif left or right:
            short = ("(?<!\\d)" if left else "") + r"\d" + ("(?!\\d)" if right else "")
            regex = rf"\d{{2}}|{short}"
    elif value == "f":
        # The fraction's width is its precision: free at the end of a run of digits, six
        # digits where another number follows it.
        if right == "touch":
            regex = r"\d{6}"
        elif right == "space":
            regex = r"\d{6}|\d{1,5}(?!\d)"
    return f"(?P<{value}>{regex})"


class DateFormatError(ValueError):
    """A format string the mapping cannot use; the message says which directive."""


def compile_format(fmt: str) -> Callable[[str], datetime | None]:
    """A parser for one format: the text's datetime, or None when it does not match.

    The result is naive unless the format has ``%z``; date-only formats give midnight.
    """
    if fmt == ISO:
        return _parse_iso
    # The format as tokens first: whether a directive's width may vary depends on its
    # neighbours, so the patterns are chosen once the whole format is read.
    tokens: list[tuple[str, str]] = []  # ("directive", name) | ("literal", regex) | ("space", "")
    seen: set[str] = set()
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char == "%":
            if i + 1 >= len(fmt):
                raise DateFormatError(f"format {fmt!r} ends with a lone '%'")
            directive = fmt[i + 1]
            i += 2
            if directive == "%":
                tokens.append(("literal", "%"))
                continue
            if directive not in _DIRECTIVES:
                known = " ".join(f"%{d}" for d in _DIRECTIVES)
                raise DateFormatError(
                    f"format {fmt!r}: directive %{directive} is not supported (use {known}, %%)"
                )
            if directive in seen:
                raise DateFormatError(f"format {fmt!r} uses %{directive} twice")
            seen.add(directive)
            tokens.append(("directive", directive))
            continue
        if char.isspace():
            while i < len(fmt) and fmt[i].isspace():
                i += 1
            tokens.append(("space", ""))
            continue
        tokens.append(("literal", re.escape(char)))
        i += 1
    pattern = [_token_pattern(tokens, position) for position in range(len(tokens))]
    if not ({"Y", "y"} & seen and "m" in seen and "d" in seen):
        raise DateFormatError(
            f"format {fmt!r} needs a year (%Y or %y), a month (%m) and a day (%d)"
        )
    if "Y" in seen and "y" in seen:
        raise DateFormatError(f"format {fmt!r} has both %Y and %y")
    if (("S" in seen or "f" in seen) and "M" not in seen) or ("M" in seen and "H" not in seen):
        raise DateFormatError(f"format {fmt!r}: minutes need hours, seconds need minutes")
    compiled = re.compile("".join(pattern))
    matcher = compiled.fullmatch
    names = compiled.groupindex  # name -> 1-based group number
    i_year = names["y" if "y" in seen else "Y"] - 1
    two_digit = "y" in seen
    i_month, i_day = names["m"] - 1, names["d"] - 1
    i_hour = names["H"] - 1 if "H" in seen else None
    i_minute = names["M"] - 1 if "M" in seen else None
    i_second = names["S"] - 1 if "S" in seen else None
    i_fraction = names["f"] - 1 if "f" in seen else None
    i_zone = names["z"] - 1 if "z" in seen else None

    def parse(text: str) -> datetime | None:
        found = matcher(text)
        if found is None:
            return None
        g = found.groups()
        year = int(g[i_year])
        if two_digit:
            # POSIX strptime (and Python's): 69–99 are 1969–1999, 00–68 are 2000–2068.
            # Birth dates and old licences in department exports reach back before 2000.
            year += 1900 if year >= 69 else 2000
        try:
            if i_hour is None:
                return datetime(year, int(g[i_month]), int(g[i_day]))
            micro = 0
            if i_fraction is not None:
                digits = g[i_fraction]
                micro = int(digits) * 10 ** (6 - len(digits))
            return datetime(
                year,
                int(g[i_month]),
                int(g[i_day]),
                int(g[i_hour]),
                0 if i_minute is None else int(g[i_minute]),
                0 if i_second is None else int(g[i_second]),
                micro,
                tzinfo=None if i_zone is None else _offset(g[i_zone]),
            )
        except ValueError:
            return None  # 2026-02-30, 25:00: matches the shape, not a real time

    shape = _ISO_SHAPES.get(fmt)
    if shape is None:
        return parse
    length, separator = shape

    def parse_iso_shape(text: str) -> datetime | None:
        if (
            len(text) == length
            and text[4] == "-"
            and text[7] == "-"
            and (separator is None or text[10] == separator)
        ):
            try:
                fast = datetime.fromisoformat(text)
            except ValueError:
                pass
            else:
                if fast.tzinfo is None:
                    return fast
        return parse(text)

    return parse_iso_shape


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _offset(text: str) -> tzinfo:
    if text == "Z":
        return UTC
    found = _OFFSET.match(text)
    assert found is not None  # the format's regex already matched this shape
    sign, hours, minutes = found.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def parse_timezone(text: str) -> tzinfo:
    """``+08:00`` / ``-0500`` / ``UTC`` / an IANA name such as ``Asia/Shanghai``."""
    text = text.strip()
    if text.upper() in ("UTC", "Z"):
        return UTC
    found = _OFFSET.match(text)
    if found:
        sign, hours, minutes = found.groups()
        if int(hours) > 23 or int(minutes) > 59:
            raise ValueError(f"timezone offset {text!r} is out of range")
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {text!r}: give an offset like '+08:00' or a name like "
            "'Asia/Shanghai'"
        ) from None


def compile_formats(formats: Sequence[str]) -> Callable[[str], datetime | None]:
    """One parser trying each format in order; the first match wins."""
    parsers = [compile_format(f) for f in formats]
    if len(parsers) == 1:
        return parsers[0]

    def parse(text: str) -> datetime | None:
        for parser in parsers:
            value = parser(text)
            if value is not None:
                return value
        return None

    return parse


def as_date(value: datetime | date) -> date:
    """The calendar date of a parsed value (a date format that also carries a time)."""
    return value.date() if isinstance(value, datetime) else value
