"""Adapters: the SDK department IT teams build on, and the built-in adapters.

Only :mod:`standards` is imported from the rest of Tongyuan, so an adapter package
depends on the data standard, not on the hub's internals.
"""
