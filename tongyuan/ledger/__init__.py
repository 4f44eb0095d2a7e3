"""The tamper-evident batch ledger: a hash chain over every batch and the rows it wrote.

See docs/ledger.md for what it holds and how auditors verify it.
"""

from tongyuan.ledger.append import append_batch, checkpoint_every, record_batch_rows
from tongyuan.ledger.checkpoints import write_checkpoint
from tongyuan.ledger.verify import LedgerUnreadable, LedgerVerification, Problem, verify_ledger

__all__ = [
    "LedgerUnreadable",
    "LedgerVerification",
    "Problem",
    "append_batch",
    "checkpoint_every",
    "record_batch_rows",
    "verify_ledger",
    "write_checkpoint",
]
