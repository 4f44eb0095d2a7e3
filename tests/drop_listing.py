"""Drop-folder listings for tests, without the conformance kit's scratch-folder mark."""

from __future__ import annotations

import os
from pathlib import Path

from adapters.conformance.scratch import MARK


def listing(folder: Path) -> list[str]:
    """The folder's names, sorted, without the conformance kit's mark."""
    return sorted(name for name in os.listdir(folder) if name != MARK)


def tree(folder: Path) -> list[str]:
    """Every path under the folder, relative and sorted, without the kit's mark."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name != MARK)
