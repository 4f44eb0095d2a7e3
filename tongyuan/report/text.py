"""Text as every report output shows it: personal IDs masked, invisible controls visible.

One helper for the HTML pages, the CSV/XLSX exports and the PDF, so the four show the
same thing. Two things are done to every value:

- Unicode direction controls (LRE/RLE/PDF/LRO/RLO U+202A–U+202E, the isolates
  U+2066–U+2069, LRM/RLM U+200E/U+200F, ALM U+061C) are shown as ``〈U+202E〉`` (CJK
  angle brackets: the PDF's font, Adobe-GB1, has them). Left in,
  an RLO in an issuer's or an item's name reversed the text after it, so that a value
  appeared to belong to another system (``440000=甲 ≠ 440304=乙`` read backwards), in
  the browser, in Excel and WPS, and in the PDF. Other invisible characters that can
  split or hide text (zero-width space and joiners, word joiner, BOM, soft hyphen, and
  C0/C1 control characters other than tab and line ends) are shown the same way: a
  name that carries them was not typed by a person, and an auditor should see that.
- Citizen IDs are masked (:func:`standards.privacy.mask_text`) both as the text reads
  with those characters taken out (an ID split by an invisible character is still the
  ID a reader sees) and with each read as a separator; so is the head of an ID that a
  cut ended (``11010519491231002…``: see :data:`_CUT_ID_HEAD`).
"""

from __future__ import annotations

import re

from standards.privacy import mask_text

# Direction controls (formatting of bidirectional text) and other invisible characters.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_C0_C1 = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_HIDDEN = re.compile(f"[{BIDI_CONTROLS}{INVISIBLE}{_C0_C1}]")
# The head of a citizen ID cut off by an ellipsis: 6 digits of region and at least the
# century of a birth year, up to all 17 digits before the check character. Quality cut
# finding values before masking them until the cut moved after masking; keys stored
# by such runs hold these heads (17 digits give away the 18th), and the report shows
# them masked like the IDs they are. Only digits right before "…" are taken.
_CUT_ID_HEAD = re.compile(r"(?<![0-9A-Za-z])([0-9]{4})([0-9]{2}(?:19|20)[0-9]{0,9})(?=…)")


def visible(char: str) -> str:
    """How one hidden character is shown: ``〈U+202E〉``."""
    return f"〈U+{ord(char):04X}〉"


def shown_text(value: str) -> str:
    """``value`` as the report shows it: IDs masked, hidden characters made visible.

    Masking looks at the text twice, both times keeping its length (``mask_text`` stars
    character for character): without the hidden characters, as a reader sees it, and
    with each one read as a space, as it separates what stands either side. A character
    either starred is starred; each hidden character is then shown where it stood.
    """
    if _HIDDEN.search(value) is None:
        return _mask_cut_ids(mask_text(value))
    apart = mask_text(_HIDDEN.sub(" ", value))
    joined = iter(mask_text(_HIDDEN.sub("", value)))
    pieces: list[str] = []
    for char, seen_apart in zip(value, apart, strict=True):
        if _HIDDEN.fullmatch(char):
            pieces.append(visible(char))
            continue
        seen_joined = next(joined)
        pieces.append("*" if "*" in (seen_apart, seen_joined) else char)
    return _mask_cut_ids("".join(pieces))


def _mask_cut_ids(text: str) -> str:
    """``text`` with the head of an ID cut off by an ellipsis masked: ``1101*********…``."""
    if "…" not in text:
        return text
    return _CUT_ID_HEAD.sub(lambda m: m.group(1) + "*" * len(m.group(2)), text)
