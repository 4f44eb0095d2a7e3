"""License verification against the libraries (issue 6 item 5).

A signature says who signed a license; the libraries say whether it still holds: its
status (valid, expired, revoked, superseded), whether its holder applied for it, whether
its item exists. :mod:`tongyuan.licensing.run` chooses which licenses to check and
stores every result; :mod:`tongyuan.licensing.files` keeps their files in the blob store.
Submodules are imported where needed (``signing`` is not loaded by the loader).
"""
