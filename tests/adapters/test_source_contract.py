"""A hand-written source's mistakes (docs/adapters.md §8): each fails the pull with one
message naming adapter, stream, envelope and what is wrong, and nothing of the batch is
stored — instead of a bare AttributeError / StatementError deep in the storing code."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from std_factories import make_case
from typer.testing import CliRunner

from adapters.sdk import AdapterCodeError, AdapterConfig, Envelope, Source, StreamRead
from adapters.sdk.contract import ReadContract, checked_spec
from adapters.sdk.source import StreamSpec
from standards.records import SourceLocation
from standards.validation import Finding
from tongyuan.cli import app
from tongyuan.db import make_engine, make_session_factory, upgrade
from tongyuan.libraries.adapter_states import load_state
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.pulling import pull

runner = CliRunner()
HERE = SourceLocation("rows.csv", 1, 2)


class RogueConfig(AdapterConfig):
    mode: str = "ok"
    kind: str = "case"


def _good() -> Envelope:
    return Envelope("cases", HERE, {"BJBH": "1"}, make_case())


def _yielded(mode: str) -> list[Any]:
    case = make_case()
    return {
        "ok": [_good()],
        "dict": [_good(), Envelope("cases", HERE, {}, case.model_dump(mode="json"))],
        "str_record": [Envelope("cases", HERE, {}, "not a record")],
        "item_in_cases": [Envelope("cases", HERE, {}, None, ["a str finding"])],
        "no_location": [Envelope("cases", None, {}, case)],  # type: ignore[arg-type]
        "not_envelope": [{"record": 1}],
        "raw_list": [Envelope("cases", HERE, [1, 2], case)],  # type: ignore[arg-type]
        "other_stream": [Envelope("items", HERE, {}, case)],
        "nothing_said": [Envelope("cases", HERE, {}, None, [])],
        "findings_str": [Envelope("cases", HERE, {}, None, "bad")],  # type: ignore[arg-type]
    }.get(mode, [_good()])


def _ctrl_c(handling: str) -> None:
    """A real Ctrl-C (SIGINT to this process) while the source reads; ``handling`` is what
    the source makes of the KeyboardInterrupt: nothing, or an exit or error of its own."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        if handling == "swallow":  # a driver's "cancel the query": the read ends early
            return
        if handling == "exit":
            sys.exit(1)
        if handling == "error":
            raise RuntimeError("interrupted") from None
        raise


class _Read(StreamRead):
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __iter__(self) -> Iterator[Envelope]:
        if self.mode == "exit_iter":
            yield _good()
            sys.exit(3)  # a department's driver ending "the program" mid-read
        if self.mode.startswith("kbd_iter"):
            yield _good()
            raise KeyboardInterrupt  # raised by the source itself: no Ctrl-C arrived
        if self.mode.startswith("ctrl_c_"):
            yield _good()
            _ctrl_c(self.mode.removeprefix("ctrl_c_"))
        if self.mode.startswith("graceful_"):  # SIGINT to a handler that only notes it
            yield _good()
            os.kill(os.getpid(), signal.SIGINT)
            if self.mode == "graceful_exit":
                sys.exit(3)
        yield from _yielded(self.mode)

    def close(self) -> None:
        if self.mode == "close_exit":
            sys.exit(4)
        if self.mode.endswith("close_error"):
            raise RuntimeError("driver already closed")

    def state(self) -> Any:
        if self.mode == "exit_state":
            raise SystemExit("state store gone")
        if self.mode == "datetime_state":
            return {"n": 1, "at": dt.datetime(2025, 1, 1)}
        if self.mode == "list_state":
            return [1]
        if self.mode == "nan_state":
            return {"x": float("nan")}
        return {"n": 1}


class RogueSource(Source):
    name = "rogue"
    Config = RogueConfig

    def streams(self) -> list[StreamSpec]:
        return [StreamSpec("cases", self.config.kind, ("source_system", "dept_case_no"))]

    def check(self) -> None:
        pass

    def read(self, stream: str, state: dict[str, Any] | None = None) -> StreamRead:
        if self.config.mode == "exit_read":
            sys.exit(0)
        return _Read(self.config.mode)


LABEL = f"adapter {__name__}:RogueSource, stream cases"


def _pull(settings, mode: str, kind: str = "case"):  # type: ignore[no-untyped-def]
    upgrade(settings.database_url)
    source = RogueSource(RogueConfig(mode=mode, kind=kind))
    return pull(settings, source, "cases", source_name="rogue")


def _stored(settings) -> tuple[int, int, dict | None]:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as s:
            return (
                s.scalar(select(func.count()).select_from(CaseRow)) or 0,
                s.scalar(select(func.count()).select_from(QuarantineEntry)) or 0,
                load_state(s, "rogue", "cases"),
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("dict", "envelope 2: record is dict, expected a standard Case"),
        ("str_record", "envelope 1: record is str, expected a standard Case"),
        (
            "item_in_cases",
            "envelope 1: findings[0] is str, expected a standards.validation.Finding",
        ),
        ("findings_str", "envelope 1: findings is str, expected a list of Finding"),
        ("no_location", "envelope 1: location is None, expected a SourceLocation"),
        ("not_envelope", "envelope 1: yielded dict, expected an Envelope"),
        ("raw_list", "envelope 1: raw is list, expected a dict of the source row"),
        ("other_stream", "envelope 1: the envelope says stream 'items'"),
        ("nothing_said", "envelope 1: no record and no findings"),
        ("datetime_state", "state(): state['at'] is a datetime"),
        ("list_state", "state() returned list, expected a dict"),
        ("nan_state", "state(): state['x'] is nan"),
    ],
)
def test_a_programming_error_fails_the_pull_naming_where(settings, mode, message):
    result = _pull(settings, mode)
    assert result.status == "failed"
    assert result.error is not None
    assert LABEL in result.error and message in result.error, result.error
    assert _stored(settings) == (0, 0, None)  # nothing half-stored, state not advanced


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("exit_read", "read() raised SystemExit: 0 (it tried to end the process"),
        ("exit_iter", "reading raised SystemExit: 3 (it tried to end the process"),
        ("kbd_iter", "reading raised KeyboardInterrupt (raised by the package itself"),
        ("exit_state", "state() raised SystemExit: state store gone"),
    ],
)
def test_a_source_ending_the_process_fails_its_pull_only(settings, mode, message):
    """Before, only Exception was caught: a SystemExit from the source's read ended the
    whole run (every department's ingest) instead of failing this pull."""
    before = signal.getsignal(signal.SIGINT)
    result = _pull(settings, mode)
    assert result.status == "failed"
    assert result.error is not None and LABEL in result.error and message in result.error
    assert _stored(settings) == (0, 0, None)
    assert signal.getsignal(signal.SIGINT) is before  # the Ctrl-C watch is undone


@pytest.mark.parametrize("handling", ["none", "exit", "error"])
def test_a_real_ctrl_c_while_reading_still_stops_the_pull(settings, handling):
    """The operator's Ctrl-C is no source failure, also when the source turns it into an
    exit or an error of its own: it propagates, and nothing is stored."""
    with pytest.raises(KeyboardInterrupt):
        _pull(settings, f"ctrl_c_{handling}")
    assert _stored(settings) == (0, 0, None)


def test_a_ctrl_c_the_read_swallows_is_not_committed(settings):
    """Before, a driver catching the Ctrl-C and ending its read quietly had the cut-short
    batch committed and the command carried on; the watch had seen the SIGINT."""
    with pytest.raises(KeyboardInterrupt):
        _pull(settings, "ctrl_c_swallow")
    assert _stored(settings) == (0, 0, None)


@pytest.fixture
def graceful_sigint():  # type: ignore[no-untyped-def]
    """A SIGINT handler that notes the request and returns (a graceful shutdown's)."""
    noted: list[int] = []
    before = signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_sigint_the_process_handler_only_notes_interrupts_nothing(settings, graceful_sigint):
    """Before, the watch marked every SIGINT, also one whose handler returned: a later
    SystemExit of the read came out as a KeyboardInterrupt (no failed batch), and with
    the check before commit a completed read would not have been stored."""
    failed = _pull(settings, "graceful_exit")
    assert failed.status == "failed" and failed.error is not None
    assert "reading raised SystemExit: 3" in failed.error
    assert graceful_sigint == [signal.SIGINT]
    assert _pull(settings, "graceful_ok").status == "committed"
    assert _stored(settings)[2] == {"n": 1}


def test_close_failing_after_the_commit_is_a_problem_not_the_end_of_the_run(settings):
    """Before, close() ran outside the pull's error handling: its SystemExit came out of
    pull() as an AdapterCodeError after the batch was committed, ending the caller's run
    of every department. Now the committed pull says it as a problem, masked."""
    before = signal.getsignal(signal.SIGINT)
    for mode, said in (
        ("close_exit", "close() raised SystemExit: 4 (it tried to end the process"),
        ("close_error", "close() raised RuntimeError: driver already closed"),
    ):
        result = _pull(settings, mode)
        assert result.status == "committed" and result.error is None
        assert len(result.problems) == 1 and LABEL in result.problems[0]
        assert said in result.problems[0]
    assert _stored(settings)[2] == {"n": 1}
    assert signal.getsignal(signal.SIGINT) is before


def test_close_failing_after_a_failed_read_keeps_the_first_error(settings):
    result = _pull(settings, "kbd_iter_close_error")
    assert result.status == "failed" and result.error is not None
    assert "reading raised KeyboardInterrupt" in result.error and not result.problems
    assert _stored(settings) == (0, 0, None)


def test_a_stream_list_ending_the_process_is_named():
    class Exiting(RogueSource):
        def streams(self) -> list[StreamSpec]:
            sys.exit(2)

    with pytest.raises(AdapterCodeError, match=r"streams\(\) raised SystemExit: 2 \(it tried"):
        checked_spec(Exiting(RogueConfig()), "cases")


def test_a_correct_source_still_pulls(settings):
    result = _pull(settings, "ok")
    assert result.status == "committed", result.error
    assert result.state == {"n": 1}


def test_an_unknown_stream_kind_is_refused_before_reading():
    source = RogueSource(RogueConfig(kind="banana"))
    with pytest.raises(AdapterCodeError, match="declares kind 'banana'; a stream yields one of"):
        checked_spec(source, "cases")


def test_a_stream_list_raising_is_named():
    class Broken(RogueSource):
        def streams(self) -> list[StreamSpec]:
            raise RuntimeError("catalogue offline")

    with pytest.raises(AdapterCodeError, match="streams\\(\\) raised RuntimeError: catalogue"):
        checked_spec(Broken(RogueConfig()), "cases")


def test_a_file_name_with_undecodable_bytes_is_escaped_for_storage():
    source = RogueSource(RogueConfig())
    contract = ReadContract(source, checked_spec(source, "cases"))
    name = b"cases_\xb0.csv".decode("utf-8", "surrogateescape")
    envelope = Envelope("cases", SourceLocation(name, 1), {}, None, [Finding("x", "y")])
    assert contract.envelope(envelope, 1).location.file == "cases_\\udcb0.csv"


def _config(tmp_path: Path, mode: str = "ok", kind: str = "case") -> Path:
    path = tmp_path / "rogue.yaml"
    path.write_text(f"mode: {mode}\nkind: {kind}\n", encoding="utf-8")
    return path


def test_pull_cli_unknown_stream_is_one_line_exit_2(tmp_path):
    args = ["pull", f"{__name__}:RogueSource", "--config", str(_config(tmp_path)),
            "--stream", "nosuch"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert not isinstance(result.exception, KeyError)
    assert "RogueSource has no stream 'nosuch' (streams: cases)" in result.output


def test_pull_cli_unknown_kind_is_one_line_exit_2(tmp_path):
    args = ["pull", f"{__name__}:RogueSource", "--config", str(_config(tmp_path, kind="banana")),
            "--stream", "cases"]  # fmt: skip
    result = runner.invoke(app, args, terminal_width=300)
    assert result.exit_code == 2
    assert "declares kind 'banana'" in result.output
