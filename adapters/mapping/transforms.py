"""Text transforms a mapping applies to a source value, in the order listed.

Each transform takes the value and returns the new one. Values that are not text (numbers
and dates from a database driver) pass through unchanged: the transforms are about the
ways departments type text — full-width characters from Chinese input methods, stray
spaces and hyphens inside identifiers, lower-case check letters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

Transform = Callable[[Any], Any]

SEPARATORS = re.compile(r"[\s\-‐‑‒–—―－]+")


def trim(value: Any) -> Any:
    """Spaces around the value, including the ideographic space U+3000."""
    return value.strip() if isinstance(value, str) else value


def halfwidth(value: Any) -> Any:
    """Full-width letters, digits and punctuation to their ASCII forms (NFKC).

    Pure-ASCII text, by far the common case, is returned without normalising.
    """
    if isinstance(value, str) and not value.isascii():
        return unicodedata.normalize("NFKC", value)
    return value


def upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def strip_separators(value: Any) -> Any:
    """Spaces (any width), hyphens and dashes inside an identifier.

    ``4403 0519-9101 0100 71`` → ``440305199101010071``. Only for identifiers: names keep
    their spaces. Dots stay: they separate the segments of an e-license identifier.
    """
    return SEPARATORS.sub("", value) if isinstance(value, str) else value


def none_if_empty(value: Any) -> Any:
    """Empty or blank text becomes no value, so optional fields stay unset."""
    if isinstance(value, str) and (not value or value.isspace()):
        return None
    return value


TRANSFORMS: dict[str, Transform] = {
    "trim": trim,
    "halfwidth": halfwidth,
    "upper": upper,
    "lower": lower,
    "strip_separators": strip_separators,
    "none_if_empty": none_if_empty,
}


def chain(names: list[str]) -> Transform | None:
    """One function applying the named transforms in order; None when there are none."""
    funcs = [TRANSFORMS[name] for name in names]
    if not funcs:
        return None
    if len(funcs) == 1:
        return funcs[0]
    if len(funcs) == 2:
        first, second = funcs
        return lambda value: second(first(value))

    def apply(value: Any) -> Any:
        for func in funcs:
            value = func(value)
        return value

    return apply
