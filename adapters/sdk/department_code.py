"""Where the hub runs a department's own code: what may come out of it, and what not.

A department's adapter package runs inside the hub's processes (the CLI, the DAG files
Airflow parses). ``except Exception`` is not enough at these boundaries: a module calling
``sys.exit(0)`` at import, or running ``argparse`` there, raises SystemExit, which made
``tongyuan sync check``, ``ingest`` and ``sync items`` end with exit 0 and no output,
and Airflow turns it into an import error of the whole DAG file — every department's
tasks gone over one package. So the boundaries (importing the module, building the
class, asking its ``streams()``) treat SystemExit, GeneratorExit and a KeyboardInterrupt
the package raised itself as the package failing, like any exception.

A real Ctrl-C must still stop the command. While department code runs, SIGINT goes
through a handler that notes it and then does what the process's handler did; a
KeyboardInterrupt seen after that note propagates, and so does a Ctrl-C the package turned
into something else (``except KeyboardInterrupt: sys.exit(1)``): after the note, whatever
the code raised becomes a KeyboardInterrupt. Where no note can be taken (a SIGINT
handler set outside Python) every KeyboardInterrupt propagates, as before.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

# What a package may raise that the hub reports as its failure (KeyboardInterrupt only
# when no Ctrl-C arrived, see _Watch.failed).
_FAILURES: tuple[type[BaseException], ...] = (Exception, SystemExit, GeneratorExit)


@dataclass(slots=True)
class _Watch:
    """Whether a SIGINT arrived while department code ran, and whether one could be seen."""

    can_tell: bool
    signalled: bool = False

    def failed(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the department code failing (to report), not a Ctrl-C or
        another signal of the process's own (to let through).

        After a SIGINT, whatever came out is the Ctrl-C: a package catching the
        KeyboardInterrupt and turning it into ``sys.exit(1)`` or an exception of its own
        would otherwise be reported as its failure while the hub carried on. Raises
        KeyboardInterrupt (chained to ``exc``) then.
        """
        if self.signalled:
            if isinstance(exc, KeyboardInterrupt):
                return False
            raise KeyboardInterrupt from exc
        if isinstance(exc, KeyboardInterrupt):
            return self.can_tell
        return isinstance(exc, _FAILURES)


def _watch_handler(watch: _Watch, previous: Callable[[int, FrameType | None], Any]):  # type: ignore[no-untyped-def]
    def handler(signum: int, frame: FrameType | None) -> Any:
        watch.signalled = True
        return previous(signum, frame)

    return handler


@contextmanager
def department_code() -> Iterator[Callable[[BaseException], bool]]:
    """Run the body (a department's code); yields ``failed(exc)``, which says whether what
    the body raised is the package's failure, to turn into an AdapterCodeError naming it.

    Outside the main thread no signal raises KeyboardInterrupt in this thread, so one seen
    there is the code's own; with SIGINT ignored or at its default, none is raised either.
    """
    if threading.current_thread() is not threading.main_thread():
        yield _Watch(can_tell=True).failed
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        # None: a handler set outside Python, which may raise it: cannot tell, let it go.
        yield _Watch(can_tell=previous is not None).failed
        return
    watch = _Watch(can_tell=True)
    signal.signal(signal.SIGINT, _watch_handler(watch, previous))
    try:
        yield watch.failed
    finally:
        # Also undoes a SIGINT handler the package set for itself: Ctrl-C stays the hub's.
        signal.signal(signal.SIGINT, previous)


_WHY = {
    SystemExit: "it tried to end the process (sys.exit, exit() or argparse): a package "
    "never ends the hub's process",
    KeyboardInterrupt: "raised by the package itself, no Ctrl-C arrived",
    GeneratorExit: "raised outside a generator's close()",
}


def failure_text(exc: BaseException) -> str:
    """``RuntimeError: text`` — what department code raised, for a problem line; for a
    SystemExit and its kin also why the hub does not obey it."""
    why = next((text for kind, text in _WHY.items() if isinstance(exc, kind)), None)
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"{text} ({why})" if why else text


__all__ = ["department_code", "failure_text"]
