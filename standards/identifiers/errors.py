"""The error every identifier check raises."""

from __future__ import annotations


class InvalidIdentifier(ValueError):
    """An identifier failed a check.

    ``rule`` is a stable dotted id (``uscc.check``, ``citizen_id.birth_date`` …) that reports,
    quarantine entries and tests key on; ``message`` says in English what is wrong.
    Rules ending in ``.check`` mean the structure is sound and only the check character
    disagrees — legacy data may carry such codes legally, so callers may treat them as a
    finding rather than a rejection.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"[{rule}] {message}")
        self.rule = rule
        self.message = message

    @property
    def is_check_only(self) -> bool:
        """True when only the check character is wrong."""
        return self.rule.endswith(".check")
