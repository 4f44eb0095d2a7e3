"""The Tongyuan data standard: record models, code tables, identifier checks, exchange formats.

Nothing in this package imports the rest of Tongyuan, so department adapters and outside
tools can depend on the standard alone.
"""
