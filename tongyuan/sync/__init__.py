"""Three-level item sync: each node's item system into the shared item library, and back.

:func:`sync_node` pulls one node's items (change detection, ownership, consistency
findings, tombstones, dry-run diff); delivery up and down and the claim and review
tracking live beside it in this package.
"""

from tongyuan.sync.diff import ElementChange, ItemChange, NodeDiff, format_diffs
from tongyuan.sync.node_sync import (
    CopyEvent,
    CopyObserver,
    register_copy_observer,
    sync_node,
    unregister_copy_observer,
)
from tongyuan.sync.ownership import Ownership, base_issuer
from tongyuan.sync.results import NodeSyncResult
from tongyuan.sync.run_all import sync_all

__all__ = [
    "CopyEvent",
    "CopyObserver",
    "ElementChange",
    "ItemChange",
    "NodeDiff",
    "NodeSyncResult",
    "Ownership",
    "base_issuer",
    "format_diffs",
    "register_copy_observer",
    "sync_all",
    "sync_node",
    "unregister_copy_observer",
]
