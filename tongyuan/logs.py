"""Logging for the hub: one file under the data directory, personal IDs always masked.

The masking filter sits on the handlers, not on individual call sites, so a careless
log line elsewhere still cannot write a clear 身份证号 to disk or to the console.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from standards.privacy import mask_text

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MaskingFilter(logging.Filter):
    """Rewrites each record's final message with every citizen ID number masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


def configure_logging(logs_dir: Path, *, level: int = logging.INFO) -> Path:
    """Send ``tongyuan`` logs to ``logs_dir/tongyuan.log`` (rotated), masked. Idempotent."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = logs_dir / "tongyuan.log"
    logger = logging.getLogger("tongyuan")
    logger.setLevel(level)
    for handler in logger.handlers:
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path
    handler = RotatingFileHandler(path, maxBytes=20 << 20, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(MaskingFilter())
    logger.addHandler(handler)
    return path
