"""What the hub checks of everything a source hands it, before using any of it.

A hand-written source (docs/adapters.md §8) is Python the hub cannot type-check ahead of
time. Without these checks its mistakes surfaced deep in the storing code as bare Python
errors (``'dict' object has no attribute '__dict__'``, ``Object of type datetime is not
JSON serializable``) naming neither the adapter, the stream nor the envelope. Here each
is one :class:`~adapters.sdk.errors.AdapterCodeError` saying what and where::

    adapter rogue_src:RogueSource, stream cases, envelope 1: record is dict,
    expected a standard Case (or None with findings)

Such a mistake is a programming error, not a bad row: the pull fails as a whole (nothing
of the batch is stored, the state is not advanced, nothing is acknowledged) and the next
run reads the same data once the adapter is fixed. Bad *data* stays a finding.

The source's code runs inside the hub's process: a SystemExit (a ``sys.exit()`` deep in a
department's driver), a GeneratorExit or a KeyboardInterrupt it raises itself while it
lists its streams or reads is its failure too, an AdapterCodeError like the others, and
not the end of the whole run of every department. A real Ctrl-C still stops the command
(:mod:`adapters.sdk.department_code`): :meth:`ReadContract.open` watches for one from
``read()`` to :meth:`ReadContract.close`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from adapters.sdk.department_code import (
    Watch,
    department_code,
    failure_text,
    package_file_error,
)
from adapters.sdk.envelope import Envelope
from adapters.sdk.errors import AdapterCodeError, AdapterError
from adapters.sdk.source import Source, State, StreamRead, StreamSpec
from standards.records import RECORD_KINDS, SourceLocation
from standards.surrogates import escape_surrogates, has_surrogate
from standards.validation import Finding


def _label(source: Source) -> str:
    cls = type(source)
    return f"adapter {cls.__module__}:{cls.__qualname__}"


def _type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


def checked_spec(source: Source, stream: str) -> StreamSpec:
    """The spec of ``stream``: KeyError (the source's own message) when it has none,
    AdapterCodeError when the spec it declares is not one the hub can store, or when its
    ``streams()`` raised (a SystemExit included) or found its package's own mapping file
    broken."""
    with department_code() as failed:
        try:
            spec = source.stream(stream)
        except BaseException as exc:  # the adapter's own streams(): name it, not a traceback
            if not failed(exc):  # a real Ctrl-C, whatever the source made of it
                raise
            shipped = package_file_error(type(source), exc)
            if shipped is not None:  # a mapping file its package ships is broken
                raise shipped from exc
            if isinstance(exc, KeyError | AdapterError):
                raise
            raise AdapterCodeError(
                f"{_label(source)}: streams() raised {failure_text(exc)}"
            ) from exc
    if not isinstance(spec, StreamSpec):
        raise AdapterCodeError(
            f"{_label(source)}, stream {stream}: streams() gave {_type_name(spec)}, "
            "expected a StreamSpec"
        )
    if spec.kind not in RECORD_KINDS:
        raise AdapterCodeError(
            f"{_label(source)}, stream {stream}: its StreamSpec declares kind "
            f"{spec.kind!r}; a stream yields one of {', '.join(sorted(RECORD_KINDS))}"
        )
    return spec


class ReadContract:
    """The checks of one read of one stream: each envelope as it comes, then the state.

    With :meth:`open` … :meth:`close` the read's own calls (``read()``, its iteration,
    ``state()``, ``commit()``, ``close()``) run as department code: what other than an
    Exception they raise (a SystemExit) is an AdapterCodeError naming adapter and stream.
    """

    def __init__(self, source: Source, spec: StreamSpec) -> None:
        self.label = f"{_label(source)}, stream {spec.name}"
        self.stream = spec.name
        self.record_type = RECORD_KINDS[spec.kind]
        self._watch = ExitStack()
        self._failed: Watch | None = None

    def open(self, source: Source, state: State | None) -> StreamRead:
        """``source.read(stream, state)``, watched until :meth:`close` for a real Ctrl-C
        (one watch for the whole read, not a signal handler set per record)."""
        self._failed = self._watch.enter_context(department_code())
        try:
            with self._department("read()"):
                return source.read(self.stream, state)
        except BaseException:
            self._watch.close()
            raise

    def envelopes(self, read: StreamRead) -> Iterator[Envelope]:
        """What ``read`` yields, each checked by :meth:`envelope`; the read raising other
        than an Exception is an AdapterCodeError (an Exception, which fails the pull)."""
        with self._department("iter()"):
            items = iter(read)
        index = 0
        while True:
            try:
                item = next(items)
            except StopIteration:
                return
            except BaseException as exc:  # inline, not _department: this runs per record
                if not self._is_failure(exc) or isinstance(exc, Exception):
                    raise
                raise self._code_error(exc, "reading") from exc
            index += 1
            yield self.envelope(item, index)

    def read_state(self, read: StreamRead) -> dict[str, Any]:
        """``read.state()`` as :meth:`state` checks it; KeyboardInterrupt instead when a
        Ctrl-C was delivered into the read and it ended quietly (a driver catching it to
        "cancel the query"): what it yielded is cut short and must not be committed."""
        with self._department("state()"):
            state = read.state()
        self._raise_if_interrupted()
        return self.state(state)

    def commit(self, read: StreamRead) -> None:
        """``read.commit()``: the source acknowledges what the hub committed (not after a
        Ctrl-C the read swallowed: the operator asked to stop)."""
        self._raise_if_interrupted()
        with self._department("commit()"):
            read.commit()

    def close(self, read: StreamRead | None) -> None:
        """``read.close()`` (when :meth:`open` gave one), then the Ctrl-C watch ends.

        What close() raises (an Exception included) is an AdapterCodeError naming adapter,
        stream and close(): the pull has decided by then, and its caller reports it
        without letting it end anything else. A real Ctrl-C propagates."""
        try:
            if read is not None:
                try:
                    with self._department("close()"):
                        read.close()
                except AdapterCodeError:
                    raise
                except Exception as exc:
                    raise self._code_error(exc, "close()") from exc
        finally:
            self._watch.close()
            self._failed = None

    @contextmanager
    def _department(self, what: str) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            if not self._is_failure(exc) or isinstance(exc, Exception):
                raise  # an Exception fails the pull as it is
            raise self._code_error(exc, what) from exc

    def _raise_if_interrupted(self) -> None:
        if self._failed is not None:
            self._failed.raise_if_interrupted()

    def _is_failure(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the source failing; False for a real Ctrl-C, and
        KeyboardInterrupt raised instead when the source turned one into something else
        (an Exception too). Outside open() … close() a KeyboardInterrupt, SystemExit …
        is let through as before."""
        if self._failed is None:
            return isinstance(exc, Exception)
        return self._failed(exc)

    def _code_error(self, exc: BaseException, what: str) -> AdapterCodeError:
        return AdapterCodeError(f"{self.label}: {what} raised {failure_text(exc)}")

    def envelope(self, item: object, index: int) -> Envelope:
        """``item`` (the ``index``-th the read yielded, from 1) as the hub may store it.

        A location whose file name holds lone surrogates (bytes of a name that is not
        UTF-8, as the file system hands them over) is escaped: the database cannot store
        such text, and the name is still recognisable with ``\\udcb0`` in it.
        """
        where = f"{self.label}, envelope {index}"
        if not isinstance(item, Envelope):
            raise AdapterCodeError(f"{where}: yielded {_type_name(item)}, expected an Envelope")
        if item.stream != self.stream:
            raise AdapterCodeError(
                f"{where}: the envelope says stream {item.stream!r}, but the hub is reading "
                f"stream {self.stream!r}"
            )
        location = item.location
        if not isinstance(location, SourceLocation):
            raise AdapterCodeError(
                f"{where}: location is {_type_name(location)}, expected a SourceLocation "
                "(file, record, line) saying where the row came from"
            )
        if not isinstance(item.raw, Mapping):
            raise AdapterCodeError(
                f"{where}: raw is {_type_name(item.raw)}, expected a dict of the source row"
            )
        record = item.record
        if record is not None and not isinstance(record, self.record_type):
            expected = self.record_type.__name__
            raise AdapterCodeError(
                f"{where}: record is {_type_name(record)}, expected a standard {expected} "
                "(or None with findings)"
            )
        findings = item.findings
        if not isinstance(findings, list | tuple):
            raise AdapterCodeError(
                f"{where}: findings is {_type_name(findings)}, expected a list of Finding"
            )
        for i, finding in enumerate(findings):
            if not isinstance(finding, Finding):
                raise AdapterCodeError(
                    f"{where}: findings[{i}] is {_type_name(finding)}, expected a "
                    "standards.validation.Finding (rule, message, field)"
                )
        if record is None and not findings:
            raise AdapterCodeError(
                f"{where}: no record and no findings; a row that cannot be mapped is yielded "
                "with the findings that say why"
            )
        if isinstance(location.file, str) and has_surrogate(location.file):
            item.location = SourceLocation(
                escape_surrogates(location.file), location.record, location.line
            )
        return item

    def state(self, state: object) -> dict[str, Any]:
        """The read's ``state()`` when the hub can store it as JSON; else AdapterCodeError
        naming the first value that cannot be stored."""
        where = f"{self.label}: state()"
        if not isinstance(state, dict):
            raise AdapterCodeError(f"{where} returned {_type_name(state)}, expected a dict")
        problem = _json_problem(state, "state")
        if problem is not None:
            raise AdapterCodeError(
                f"{where}: {problem}; state is stored as JSON (str, int, float, bool, None, "
                "lists and dicts with str keys); a datetime, for one, as its isoformat()"
            )
        return state


def _json_problem(value: object, path: str) -> str | None:
    """The first part of ``value`` JSON cannot hold (or the database cannot store)."""
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, dict):
            for key in current:
                if not isinstance(key, str):
                    return f"{where} has a key of type {_type_name(key)} ({key!r})"
            # reversed: the first value in the dict is the first one reported
            stack.extend((child, f"{where}[{key!r}]") for key, child in reversed(current.items()))
        elif isinstance(current, list | tuple):
            stack.extend(
                (child, f"{where}[{i}]") for i, child in reversed(list(enumerate(current)))
            )
        elif isinstance(current, str):
            if has_surrogate(current):
                return f"{where} holds a lone surrogate (not a character)"
        elif isinstance(current, float):
            if not math.isfinite(current):
                return f"{where} is {current}, which JSON cannot hold"
        elif current is not None and not isinstance(current, bool | int):
            return f"{where} is a {_type_name(current)}"
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:  # pragma: no cover - the walk finds these first
        return str(exc)
    return None


__all__ = ["ReadContract", "checked_spec"]
