"""The themes an auditor reads the quality results by, and how a rate is computed.

Quality suites are named after what they measure (completeness, consistency, …). The
report groups expectations into themes by suite, except signature checks, which live in
the integrity suite but get their own column because auditors ask for them by name
(签名有效率). Everything here is plain data so the report, the PDF and the auditors' guide
(docs/auditors.md) describe the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Theme:
    key: str
    label: str  # Chinese, as shown in the report
    meaning: str  # English, for the auditors' guide


SIGNATURE = "signature"

# The four the issue names first, then the other suites in a stable order.
KNOWN_THEMES: tuple[Theme, ...] = (
    Theme("completeness", "完整性", "required elements of items and cases are filled"),
    Theme(
        "consistency", "一致性（四级四同）", "the same item has the same elements at every level"
    ),
    Theme("timeliness", "及时性", "cases, claims and reviews finished within their time limits"),
    Theme(SIGNATURE, "签名有效性", "e-licenses and signed batches verify against the trust store"),
    Theme("rules", "规范性", "codes, serials and identifiers are well formed and valid"),
    Theme("integrity", "真实性与完整性", "blobs match their hashes, the ledger chain is intact"),
)
_BY_KEY = {theme.key: theme for theme in KNOWN_THEMES}

# Expectation ids that measure signature validity, wherever their suite puts them.
_SIGNATURE_MARKERS = ("signature", "signed", "license.verif", "license.indication")


def theme_of(suite: str, expectation: str) -> str:
    """The theme key of one expectation: signature checks apart, otherwise its suite."""
    lowered = expectation.lower()
    if any(marker in lowered for marker in _SIGNATURE_MARKERS):
        return SIGNATURE
    return suite


def theme(key: str) -> Theme:
    """The theme for a key; an unknown suite is shown under its own name."""
    return _BY_KEY.get(key) or Theme(key, key, f"results of the {key} suite")


# Quality suites (``tongyuan quality run --suite``) as the report names them. A suite is
# not a theme: the integrity suite also holds the signature checks, counted under
# 签名有效性. The ids stay only where they are machine keys (data-suite attributes, file
# names of drill-down pages).
SUITE_LABELS: dict[str, str] = {
    "completeness": "完整性",
    "consistency": "一致性（四级四同）",
    "rules": "规范性",
    "timeliness": "及时性",
    "integrity": "真实性与完整性（含签名有效性）",
}
ALL_SUITES_LABEL = "全部规则套件"


def suite_label(suites: str) -> str:
    """The Chinese name of a suite, or of a run's comma-separated suites (全部规则套件 for
    all of them); an unknown suite is shown under its own id."""
    parts = [part.strip() for part in suites.split(",") if part.strip()]
    if not parts:
        return "—"
    if len(parts) > 1 and set(parts) == set(SUITE_LABELS):
        return ALL_SUITES_LABEL
    return "、".join(SUITE_LABELS.get(part, part) for part in parts)


# Themes where a single failure is a finding in itself (a changed blob, a broken ledger
# chain, a forged signature), not a share of sloppy records: no threshold colours them
# as good once anything failed.
ZERO_TOLERANCE_THEMES = frozenset({"integrity", SIGNATURE})


def ordered_themes(keys: Iterable[str]) -> list[Theme]:
    """Known themes in their fixed order, then unknown ones alphabetically."""
    present = set(keys)
    known = [t for t in KNOWN_THEMES if t.key in present]
    extra = sorted(present - {t.key for t in known})
    return known + [theme(key) for key in extra]


def pooled_rate(evaluated: int, failed: int) -> float | None:
    """Share of evaluated records that passed, pooled over rows (not an average of rates).

    Pooling weighs a district with 10,000 cases more than one with 10, which is what an
    auditor means by "the rate of the region". Nothing evaluated gives None (shown as —),
    never 100 %.
    """
    if evaluated <= 0:
        return None
    return max(0.0, min(1.0, (evaluated - failed) / evaluated))


# What the one-decimal display shows instead of 100.0 % / 0.0 % when the rate is not
# exactly that: the nearest value that does not claim "all passed" / "none passed".
_BELOW_ALL = "99.9%"
_ABOVE_NONE = "0.1%"


def format_rate(rate: float | None) -> str:
    """A rate as shown in every output: one decimal percent, or an em dash for none.

    Plain rounding would print one tampered ledger record in 21,933 as "100.0%", which an
    auditor reads as "nothing failed". So a rate below 1 never shows as 100.0 % (it shows
    99.9 %) and a rate above 0 never as 0.0 % (it shows 0.1 %); everything else is
    rounded to one decimal. The shown value is off by at most 0.05 points, as rounding is.
    """
    if rate is None:
        return "—"
    shown = f"{rate * 100:.1f}%"
    if rate < 1.0 and shown == "100.0%":
        return _BELOW_ALL
    if rate > 0.0 and shown == "0.0%":
        return _ABOVE_NONE
    return shown
