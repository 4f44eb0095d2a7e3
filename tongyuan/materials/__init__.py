"""Materials: admission of files (limits, content type, archive safety) and their reuse.

The manifests and the blob store live in :mod:`tongyuan.libraries.materials`; here are the
checks a file passes before it is kept (:mod:`.intake`, :mod:`.archive`, :mod:`.sniff`,
:mod:`.limits`) and the holder query that spares applicants a second submission
(:mod:`.holder`).
"""
