"""Tongyuan (同源): data exchange and integration hub for government service data.

The core package: shared libraries, loaders, validation, and the ``tongyuan`` CLI.
"""

__version__ = "0.1.0"
