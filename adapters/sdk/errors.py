"""Errors an adapter raises; each message says what is wrong and where to fix it."""

from __future__ import annotations


class AdapterError(Exception):
    """Something an adapter cannot do (as opposed to a bad record, which is a finding)."""


class ConfigError(AdapterError):
    """Invalid adapter configuration. ``problems`` lists ``(field path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path or '(top level)'}: {msg}" for path, msg in problems)
        super().__init__(f"invalid adapter configuration in {source}:\n{lines}")


class ConnectionCheckError(AdapterError):
    """The system the adapter talks to cannot be reached or refused us."""


class AdapterCodeError(AdapterError):
    """An adapter's own code raised something other than an AdapterError: its module on
    import, its class while built, or what a source handed the hub breaking the SDK's
    contract. The message names the adapter and what went wrong, for a problem line."""
