"""Record-level rules of the standard, and the findings they produce."""

from standards.validation.findings import Finding, Severity
from standards.validation.rules import RULES, Rule

__all__ = ["RULES", "Finding", "Rule", "Severity"]
