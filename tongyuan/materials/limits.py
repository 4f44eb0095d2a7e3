"""Limits on material files and on what an archive may expand to, from the environment.

Defaults suit scanned documents and OFD/PDF licences; an installation that receives large
drawings raises them with environment variables (one per limit, named below), and a bad
value fails loudly naming the variable instead of silently falling back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from tongyuan.config import ConfigError

MIB = 1024 * 1024

_ENV = {
    "max_file_bytes": "TONGYUAN_MATERIAL_MAX_BYTES",
    "max_entries": "TONGYUAN_ZIP_MAX_ENTRIES",
    "max_total_bytes": "TONGYUAN_ZIP_MAX_TOTAL_BYTES",
    "max_ratio": "TONGYUAN_ZIP_MAX_RATIO",
    "ratio_min_bytes": "TONGYUAN_ZIP_RATIO_MIN_BYTES",
    "max_depth": "TONGYUAN_ZIP_MAX_DEPTH",
}


@dataclass(frozen=True, slots=True)
class MaterialLimits:
    """How big a material may be, and how far a zip may expand when inspected.

    ``max_ratio`` applies to entries that expand beyond ``ratio_min_bytes`` (a tiny file of
    blanks compresses a thousandfold and harms nobody) and to the archive as a whole;
    ``max_depth`` counts archives inside archives (1: a zip may not hold another zip).
    ``max_entries`` and ``max_total_bytes`` count every level of nesting together.
    """

    max_file_bytes: int = 512 * MIB
    max_entries: int = 10_000
    max_total_bytes: int = 1024 * MIB
    max_ratio: int = 200
    ratio_min_bytes: int = 1 * MIB
    max_depth: int = 2

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"material limit {f.name} must be a positive integer: {value!r}")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> MaterialLimits:
        """Defaults, overridden by whichever ``TONGYUAN_…`` limit variables are set."""
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for name, variable in _ENV.items():
            text = env.get(variable)
            if text is None or not text.strip():
                continue
            try:
                values[name] = int(text.strip().replace("_", ""))
            except ValueError:
                raise ConfigError(f"{variable} must be a whole number, got {text!r}") from None
            if values[name] < 1:
                raise ConfigError(f"{variable} must be at least 1, got {text!r}")
        return cls(**values)


def limit_variables() -> dict[str, str]:
    """Limit name → environment variable (for the documentation and error messages)."""
    return dict(_ENV)
