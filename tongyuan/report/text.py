"""Text as every report output shows it: personal IDs masked, invisible controls visible.

One helper for the HTML pages, the CSV/XLSX exports and the PDF, so the four show the
same thing. Two things are done to every value:

- Citizen IDs are masked (:func:`standards.privacy.mask_text`: also an ID split by an
  invisible character, and the head of an ID a cut ended, ``4403*************…``).
- Unicode direction controls (LRE/RLE/PDF/LRO/RLO U+202A–U+202E, the isolates
  U+2066–U+2069, LRM/RLM U+200E/U+200F, ALM U+061C) are shown as ``〈U+202E〉`` (CJK
  angle brackets: the PDF's font, Adobe-GB1, has them). Left in,
  an RLO in an issuer's or an item's name reversed the text after it, so that a value
  appeared to belong to another system (``440000=甲 ≠ 440304=乙`` read backwards), in
  the browser, in Excel and WPS, and in the PDF. The other characters that only hide
  (:data:`standards.privacy.SHOWN_AS_CODE_POINT`: zero-width space and joiners, word
  joiner, invisible operators, BOM, soft hyphen, U+034F, the Hangul fillers U+3164 and
  U+FFA0, tags, control characters other than tab and line ends) are shown the same
  way: a name that carries them was not typed by a person, and an auditor should see
  that. Characters people do write are left as they are, though masking still reads an
  ID across them: variation selectors (emoji U+FE0F; U+E0100–E01EF, a rare character's
  glyph in a Chinese name), the Mongolian ones U+180B–180F, and Arabic, Syriac and
  Kaithi marks that are drawn (U+0600–0605, U+06DD, U+070F, U+08E2, U+110BD).
"""

from __future__ import annotations

from standards.privacy import SHOWN_AS_CODE_POINT, mask_text


def visible(char: str) -> str:
    """How one hidden character is shown: ``〈U+202E〉``."""
    return f"〈U+{ord(char):04X}〉"


def shown_text(value: str) -> str:
    """``value`` as the report shows it: IDs masked, hidden characters made visible."""
    return SHOWN_AS_CODE_POINT.sub(lambda m: visible(m.group()), mask_text(value))
