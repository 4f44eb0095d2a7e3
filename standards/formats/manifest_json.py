"""The JSON of a batch manifest (``MANIFEST.json``), read the same way everywhere.

Two readers take a manifest: the drop folder's (``adapters.builtin.drop_folder``) and the
signed batch's (``signing.manifest``, which ``tongyuan verify`` and signed ingestion use).
They must never disagree about which files a manifest lists, so both decode and name-check
through this module:

- a UTF-8 byte order mark is accepted (editors on Windows write one); the signature of a
  signed batch is over the bytes, BOM included, so accepting it changes nothing it proves;
- a key given twice in any object is refused: ``json.loads`` keeps the last one silently,
  so a manifest could list ``a.xml`` twice and a reader see only one of the two;
- two names that differ only by case or by Unicode normalisation (NFC/NFD) are refused:
  on a case-insensitive or normalising file system they are the same file, so one entry
  would vouch for the other's content.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

Show = Callable[[str], str]


class ManifestJsonError(ValueError):
    """A manifest that cannot be accepted: not UTF-8 JSON, a key repeated, or two names
    for the same file.

    ``str()`` quotes names with ``repr``; ``describe(show)`` lets a caller quote them its
    own way (masked, shortened).
    """

    def __init__(self, template: str, *names: str) -> None:
        self.template = template
        self.names = names
        super().__init__(self.describe(repr))

    def describe(self, show: Show) -> str:
        """The message with each name shown by ``show`` (a template without names is
        the message itself, braces and all)."""
        if not self.names:
            return self.template
        return self.template.format(*(show(n) for n in self.names))


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Repeated(key)
        out[key] = value
    return out


def load_manifest_json(data: bytes) -> Any:
    """The decoded document; ``ManifestJsonError`` for bytes that are not UTF-8 JSON
    (an optional BOM first) or that repeat a key in any object."""
    try:
        return json.loads(data.decode("utf-8-sig"), object_pairs_hook=_unique_pairs)
    except _Repeated as repeated:
        raise ManifestJsonError("{} listed twice", repeated.key) from None
    except UnicodeDecodeError as exc:
        raise ManifestJsonError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ManifestJsonError(f"not JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise ManifestJsonError("not JSON (nested too deeply)") from None


def folded_name(name: str) -> str:
    """The form two names share when a file system may take them for the same file."""
    # lower(), not casefold(): file systems do not fold ß to ss or ﬁ to fi (review r3).
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).lower())


def name_collision(names: Iterable[str]) -> ManifestJsonError | None:
    """The first two names that differ only by case or Unicode normalisation, as an
    error naming both (with each one's normalisation form when that is the difference,
    as the two may print alike); None when every name is distinct under that folding."""
    seen: dict[str, str] = {}
    for name in names:
        first = seen.setdefault(folded_name(name), name)
        if first == name:
            continue
        if first.lower() == name.lower():
            return ManifestJsonError(
                "{} and {} differ only by case, so they name the same file", first, name
            )
        return ManifestJsonError(
            f"{{}} ({_form(first)}) and {{}} ({_form(name)}) differ only by case or Unicode "
            "normalisation, so they name the same file",
            first,
            name,
        )
    return None


def _form(name: str) -> str:
    for form in ("NFC", "NFD"):
        if unicodedata.is_normalized(form, name):
            return form
    return "not normalised"
