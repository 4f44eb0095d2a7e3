"""Scratch folders: the only folders a drop-folder harness may empty.

Every check of the kit starts by emptying the system it drives. Pointed by mistake at a
production drop folder, a harness would delete the department's unread exports and its
``done/`` archive. So a harness claims its folder first: a folder that is new or empty is
marked with :data:`MARK` and is the kit's from then on; a folder that holds anything else
and no mark is refused, before anything is written or deleted. The mark starts with a
dot, so drop-folder sources never read it as a delivery.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from adapters.sdk.errors import AdapterError

MARK = ".tongyuan-conformance"
MARK_TEXT = (
    "This folder is a scratch folder of the Tongyuan conformance kit: every check empties "
    "it. Never point a production adapter at it.\n"
)


def check_claim(where: str, names: Iterable[str]) -> bool:
    """Whether a folder holding ``names`` must still be marked (it is empty).

    Raises :class:`AdapterError` when it holds anything without the mark: the kit does
    not know what it is, so it is not the kit's to delete.
    """
    names = sorted(names)
    if MARK in names:
        return False
    if names:
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        raise AdapterError(
            f"the conformance kit empties the folder it drives, and {where} holds files it "
            f"did not put there ({shown}): point the kit at an empty scratch folder, never "
            "at a production drop"
        )
    return True


def claim_folder(folder: Path) -> Path:
    """Create or claim a local scratch folder (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    if check_claim(str(folder), (item.name for item in folder.iterdir())):
        (folder / MARK).write_text(MARK_TEXT, encoding="utf-8")
    return folder


def clear_folder(folder: Path) -> None:
    """Empty a claimed scratch folder, keeping its mark (so it stays claimed)."""
    check_claim(str(folder), (item.name for item in folder.iterdir()))
    for item in folder.iterdir():
        if item.name == MARK:
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        else:
            item.unlink()


__all__ = ["MARK", "MARK_TEXT", "check_claim", "claim_folder", "clear_folder"]
