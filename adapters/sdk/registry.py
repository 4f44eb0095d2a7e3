"""Finding adapters: built-in names, installed packages (entry points), or ``module:Class``.

A department ships its adapter as its own package and registers it under the entry-point
group ``tongyuan.adapters``::

    [project.entry-points."tongyuan.adapters"]
    market-cases = "market_adapter.source:MarketCases"

after which the hub can refer to it by name (``market-cases``) in its topology.
"""

from __future__ import annotations

import importlib
import re
from importlib.metadata import entry_points

from adapters.sdk.errors import AdapterError
from adapters.sdk.sink import Sink
from adapters.sdk.source import Source

ENTRY_POINT_GROUP = "tongyuan.adapters"

BUILTIN: dict[str, str] = {
    "sql": "adapters.builtin.sql:SqlSource",
    "files": "adapters.builtin.files:FilesSource",
    "sftp": "adapters.builtin.sftp:SftpSource",
    "http": "adapters.builtin.http:HttpSource",
    "files-sink": "adapters.builtin.files_sink:FilesSink",
}

_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def available_adapters() -> dict[str, str]:
    """Every adapter name the hub can use, mapped to its ``module:Class``."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def load_adapter(ref: str) -> type[Source] | type[Sink]:
    """The adapter class for a registered name or a ``module:Class`` reference."""
    target = available_adapters().get(ref, ref)
    if not _REF.match(target):
        known = ", ".join(sorted(available_adapters()))
        raise AdapterError(f"unknown adapter {ref!r}: give module:Class or one of {known}")
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AdapterError(f"cannot import adapter module {module_name!r}: {exc}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Source | Sink)):
        raise AdapterError(f"{target} is not a Source or Sink subclass")
    return cls
