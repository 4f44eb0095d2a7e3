"""Adapter names and the Python names derived from them.

The name becomes a distribution name (``tongyuan-adapter-NAME``), an entry-point name, a
folder and a Python package, so it is held to the strictest of the four: lower-case
ASCII letters and digits in hyphen-separated words. Anything else (``../x``, spaces,
``Market``) is refused before a file is written, and so is a built-in adapter's name
(``sql``, ``files-sink`` …): the registry refuses a name two providers declare.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from adapters.sdk.errors import AdapterError
from adapters.sdk.registry import BUILTIN

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
MAX_NAME = 40


class ScaffoldError(AdapterError):
    """The scaffold cannot be created as asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class AdapterNames:
    """Every name the scaffold writes, derived from the one the engineer chose."""

    name: str  # market-cases: entry-point name
    dist: str  # tongyuan-adapter-market-cases: distribution and folder name
    module: str  # market_cases_adapter: the Python package
    class_name: str  # MarketCases: the source class
    env_prefix: str  # MARKET_CASES: environment variables holding its secrets
    system: str  # MARKET-CASES: the source_system code its records carry


def adapter_names(name: str) -> AdapterNames:
    """Check ``name`` and derive the others; ScaffoldError saying why when it is unusable."""
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > MAX_NAME:
        raise ScaffoldError(
            f"adapter name {name!r} is not usable: use lower-case letters and digits in "
            f"hyphen-separated words, starting with a letter, at most {MAX_NAME} characters "
            "(for example market-cases)"
        )
    if name in BUILTIN:
        raise ScaffoldError(
            f"adapter name {name!r} is a built-in adapter's name ({', '.join(sorted(BUILTIN))} "
            "are taken): an installed package under it would make the name ambiguous, and "
            "the hub refuses an ambiguous name; choose one that says whose system it reads "
            f"(for example market-{name})"
        )
    words = name.split("-")
    module = "_".join(words) + "_adapter"
    if keyword.iskeyword(module):  # pragma: no cover - "_adapter" suffix prevents it
        raise ScaffoldError(f"adapter name {name!r} gives a Python keyword")
    camel = "".join(w.capitalize() for w in words)
    class_name = camel if words[-1] == "cases" else camel + "Cases"
    return AdapterNames(
        name=name,
        dist=f"tongyuan-adapter-{name}",
        module=module,
        class_name=class_name,
        env_prefix="_".join(words).upper(),
        system="-".join(words).upper()[:64],
    )


__all__ = ["MAX_NAME", "AdapterNames", "ScaffoldError", "adapter_names"]
