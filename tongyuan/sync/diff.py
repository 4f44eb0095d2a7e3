"""What a node sync changed (or, in a dry run, would change), element by element.

The diff is collected by the same code that writes, so a dry run reports exactly what the
real run would do. It holds item elements only, but those are free text a system filled
in and may carry a personal ID number: every printed form (``as_dict``, ``format_diffs``)
masks them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from standards.privacy import mask_text
from tongyuan.privacy import mask_payload
from tongyuan.sync.ownership import as_json

ChangeKind = Literal["added", "changed", "cancelled"]
_ELEMENT_ORDER = (
    "basic_code", "name", "item_type", "legal_basis", "statutory_limit_days", "conditions",
    "promised_limit_days", "location", "process", "fees", "query_channels",
    "consult_channels", "complaint_channels", "materials", "authority_name",
    "authority_uscc", "exercise_level", "region_code", "handling_code", "status",
    "updated_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ElementChange:
    """One element of one item: its value before and after (``None`` = absent)."""

    element: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class ItemChange:
    """One item the library gains, changes or cancels."""

    impl_code: str
    name: str
    kind: ChangeKind
    elements: tuple[ElementChange, ...] = ()


def element_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> tuple[ElementChange, ...]:
    """Every element whose value differs, in the standard's element order."""
    old = as_json(before) if before is not None else {}
    new = as_json(after)
    names = [n for n in _ELEMENT_ORDER if n in old or n in new]
    names += sorted((set(old) | set(new)) - set(names) - {"impl_code"})
    return tuple(
        ElementChange(n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n)
    )


@dataclass(slots=True)
class NodeDiff:
    """Per node: items added, changed (with element-level before/after) and cancelled."""

    node: str
    added: list[ItemChange] = field(default_factory=list)
    changed: list[ItemChange] = field(default_factory=list)
    cancelled: list[ItemChange] = field(default_factory=list)

    def record(self, change: ItemChange) -> None:
        getattr(self, change.kind).append(change)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.cancelled)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``--json`` output and reports), personal IDs masked.

        Element values are free text an item system filled in (a contact's ID number in
        办理地点, say): this form is printed, so every value passes through
        :func:`tongyuan.privacy.mask_payload`.
        """

        def one(change: ItemChange) -> dict[str, Any]:
            return {
                "impl_code": change.impl_code,
                "name": mask_text(change.name),
                "elements": [
                    {
                        "element": e.element,
                        "before": mask_payload(e.before),
                        "after": mask_payload(e.after),
                    }
                    for e in change.elements
                ],
            }

        return {
            "node": self.node,
            "added": [one(c) for c in self.added],
            "changed": [one(c) for c in self.changed],
            "cancelled": [one(c) for c in self.cancelled],
        }


def _short(value: Any, limit: int = 60) -> str:
    """A value as one short line, personal IDs masked before it is cut (a cut ID would
    no longer be recognised)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = mask_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_diffs(diffs: Iterable[NodeDiff], *, max_items: int = 50) -> str:
    """The diffs as text for a terminal: one block per node, elements indented."""
    lines: list[str] = []
    for diff in diffs:
        lines.append(
            f"node {diff.node}: {len(diff.added)} added, {len(diff.changed)} changed, "
            f"{len(diff.cancelled)} cancelled"
        )
        shown = 0
        for kind, sign in (("added", "+"), ("changed", "~"), ("cancelled", "-")):
            for change in getattr(diff, kind):
                if shown == max_items:
                    lines.append("  …")
                    break
                shown += 1
                lines.append(f"  {sign} {change.impl_code} {mask_text(change.name)}")
                if kind == "changed":
                    lines.extend(
                        f"      {e.element}: {_short(e.before)} → {_short(e.after)}"
                        for e in change.elements
                    )
    return "\n".join(lines)
