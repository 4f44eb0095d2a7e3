"""Record-level rules of the standard, and the findings they produce."""

from standards.validation.findings import Finding, Severity
from standards.validation.options import CheckOptions
from standards.validation.rules import RULES, Rule, rule_title

__all__ = ["RULES", "CheckOptions", "Finding", "Rule", "Severity", "rule_title"]
