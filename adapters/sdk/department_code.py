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
through a handler that does what the process's handler did and notes it when that raised
(the interrupt was delivered into the package's code; a handler that returns, a graceful
shutdown's, interrupted nothing); a KeyboardInterrupt seen after that note propagates,
and so does a Ctrl-C the package turned into something else (``except
KeyboardInterrupt: sys.exit(1)``): after the note, whatever the code raised becomes a
KeyboardInterrupt, and a read that swallowed it (``except KeyboardInterrupt: return``) is
not committed (:meth:`Watch.raise_if_interrupted`). Where no note can be taken (a SIGINT
handler set outside Python) every KeyboardInterrupt propagates, as before. An error
raised while a KeyboardInterrupt was being handled (its ``__context__`` or ``__cause__``
chain holds one) is a Ctrl-C turned into something else too, even with no note taken (a
SIGINT handler of the package's own, a handler set outside Python): it propagates as the
KeyboardInterrupt.

A package's own files are its code as well: a ``mapping.yaml`` shipped inside its folder
that is not valid YAML or maps onto an unknown standard field raises ConfigError while the
class is built (or lists its streams), but the operator's configuration is not what is
wrong. :func:`package_file_error` tells the two apart by where the file lies.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from adapters.sdk.errors import AdapterCodeError, ConfigError

# What a package may raise that the hub reports as its failure (KeyboardInterrupt only
# when no Ctrl-C arrived, see Watch.failed).
_FAILURES: tuple[type[BaseException], ...] = (Exception, SystemExit, GeneratorExit)


@dataclass(slots=True)
class Watch:
    """Whether a Ctrl-C was delivered into department code, and whether one could be seen.

    Calling it is :meth:`failed`. ``signalled`` is set only when the process's own SIGINT
    handler raised (Python's default one raises KeyboardInterrupt): a handler that returns
    (a graceful shutdown noting the request for later) delivered no interrupt, and what
    the department's code raises afterwards is still its own failure.
    """

    can_tell: bool
    signalled: bool = False

    def __call__(self, exc: BaseException) -> bool:
        return self.failed(exc)

    def raise_if_interrupted(self) -> None:
        """Raise KeyboardInterrupt when a Ctrl-C was delivered into the department's code
        and did not come out of it: a driver that caught it (``except KeyboardInterrupt:
        return``) ended its read early, and that cut-short read must not be committed."""
        if self.signalled:
            raise KeyboardInterrupt

    def failed(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the department code failing (to report), not a Ctrl-C or
        another signal of the process's own (to let through).

        After a delivered SIGINT, whatever came out is the Ctrl-C: a package catching the
        KeyboardInterrupt and turning it into ``sys.exit(1)`` or an exception of its own
        (an AdapterError included) would otherwise be reported as its failure while the
        hub carried on. Raises KeyboardInterrupt (chained to ``exc``) then, and also when
        ``exc`` was raised while a KeyboardInterrupt was handled (see :func:`_interrupted`).
        """
        if isinstance(exc, KeyboardInterrupt):
            return self.can_tell and not self.signalled
        if self.signalled or _interrupted(exc):
            raise KeyboardInterrupt from exc
        return isinstance(exc, _FAILURES)


def _interrupted(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in what ``exc`` was raised from or while handling.

    The Ctrl-C a package turned into an error of its own where the hub could not note the
    SIGINT (the package set its own handler, or one was set outside Python): without this,
    the operator's Ctrl-C became a problem line and the command went on.
    """
    seen: set[int] = set()
    stack = [exc.__cause__, exc.__context__]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        stack += [current.__cause__, current.__context__]
    return False


def _watch_handler(watch: Watch, previous: Callable[[int, FrameType | None], Any]):  # type: ignore[no-untyped-def]
    def handler(signum: int, frame: FrameType | None) -> Any:
        try:
            return previous(signum, frame)
        except BaseException:  # the interrupt is delivered into the department's code
            watch.signalled = True
            raise

    return handler


@contextmanager
def department_code() -> Iterator[Watch]:
    """Run the body (a department's code); yields the :class:`Watch`, whose ``failed(exc)``
    (or calling it) says whether what the body raised is the package's failure, to turn
    into an AdapterCodeError naming it.

    Outside the main thread no signal raises KeyboardInterrupt in this thread, so one seen
    there is the code's own; with SIGINT ignored or at its default, none is raised either.
    """
    if threading.current_thread() is not threading.main_thread():
        yield Watch(can_tell=True)
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        # None: a handler set outside Python, which may raise it: cannot tell, let it go.
        yield Watch(can_tell=previous is not None)
        return
    watch = Watch(can_tell=True)
    signal.signal(signal.SIGINT, _watch_handler(watch, previous))
    try:
        yield watch
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


# The hub's own top-level packages: a file in them is never a department package's.
_HUB_PACKAGES = frozenset({"adapters", "signing", "standards", "tongyuan"})


def _package_folders(cls: type) -> list[Path]:
    """The folders of the top-level package ``cls`` comes from; none for the hub's own
    classes and for a single-file module (no folder of its own to ship files in)."""
    top = cls.__module__.partition(".")[0]
    if top in _HUB_PACKAGES:
        return []
    paths = getattr(sys.modules.get(top), "__path__", None) or []
    return [Path(path).resolve() for path in paths]


def package_file(cls: type, named: str) -> Path | None:
    """The file ``named`` (a ConfigError's ``source``) when it lies inside the folder of
    the department package ``cls`` comes from: a file it ships, not the operator's."""
    folders = _package_folders(cls)
    if not folders or not Path(named).is_absolute():
        return None
    path = Path(named).resolve()
    return path if any(path.is_relative_to(folder) for folder in folders) else None


def package_file_error(cls: type, exc: BaseException) -> AdapterCodeError | None:
    """``exc`` as the package's failure when it is a ConfigError about a file inside the
    package (its ``mapping.yaml`` broken); None for any other error, and for a ConfigError
    that is the operator's configuration's problem.

    One line naming the adapter, its package, the file and every problem in it, for the
    problem line of ``sync check`` and a failed department's batch.
    """
    path = package_file(cls, exc.source) if isinstance(exc, ConfigError) else None
    if path is None:
        return None
    assert isinstance(exc, ConfigError)
    # One line: a message spread over lines (PyYAML's) is joined with spaces.
    problems = "; ".join(
        " ".join((f"{where}: {message}" if where else message).split())
        for where, message in exc.problems
    )
    package = cls.__module__.partition(".")[0]
    return AdapterCodeError(
        f"adapter {cls.__module__}:{cls.__qualname__}: a file of its package {package!r} is "
        f"broken: {path}: {problems}"
    )


__all__ = ["Watch", "department_code", "failure_text", "package_file", "package_file_error"]
