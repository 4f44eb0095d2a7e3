"""Quarantine: listing, inspecting and replaying records that broke a rule.

The entries themselves live in :mod:`tongyuan.libraries.quarantine`; this package holds
what people and tasks do with them (:mod:`.selection`, :mod:`.views`, :mod:`.replay`) and
what a pull records so that a replay can rebuild a record (:mod:`.origin`). Submodules are
imported where used: :mod:`tongyuan.pulling` needs only :mod:`.origin`.
"""
