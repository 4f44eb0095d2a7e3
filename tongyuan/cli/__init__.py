"""The ``tongyuan`` command line."""

from tongyuan.cli.app import app, main

__all__ = ["app", "main"]
