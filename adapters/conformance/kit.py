"""The conformance checks: the incremental-sync failures users of other tools hit most.

Each check starts from an empty source system (``Harness.reset``), drives it through the
harness, reads the stream the way the hub does (iterate, ``state()``, ``commit()``,
``close()``, state stored as JSON) and compares what came out with what went in. A
failed check says what it saw — which keys were duplicated, how many rows were lost,
what a run that should have yielded nothing yielded — so the engineer can find the bug
without reading the kit.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from adapters.conformance.harness import BOUNDARY_CURSOR_VALUE, Harness
from adapters.sdk.config import SecretResolver
from adapters.sdk.envelope import Envelope
from adapters.sdk.errors import ConfigError, ConnectionCheckError
from adapters.sdk.source import Source, State, StreamSpec
from standards.records import SourceLocation, StandardRecord
from standards.safe_yaml import read_yaml_file
from standards.validation import Severity
from standards.validation.record_checks import check_record

Status = Literal["pass", "fail", "error"]

MIB = 1024 * 1024
DEFAULT_BULK_ROWS = 1_000_000
DEFAULT_MEMORY_BOUND_MIB = 256
DEFAULT_SAMPLE_ROWS = 50
TRACED_ROWS = 100_000  # rows the memory check reads under tracemalloc (it slows reads ~10x)
NO_HARNESS = "no conformance harness: implement conformance_harness()"

_SHOWN = 5  # examples quoted in a failure reason


class CheckFailed(Exception):
    """The adapter broke the rule a check tests; ``reason`` says how, for a person."""

    def __init__(self, reason: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = dict(details or {})


@dataclass(slots=True)
class CheckResult:
    """The outcome of one check; ``error`` means the check could not run to its end."""

    name: str
    title: str
    status: Status
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "reason": self.reason,
            "details": self.details,
            "seconds": round(self.seconds, 3),
        }


@dataclass(slots=True)
class KitReport:
    """Every check of one kit run against one adapter and stream."""

    adapter: str
    config: str
    stream: str | None
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.status == "pass" for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def result(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no check named {name!r} in this report")

    def as_dict(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "config": self.config,
            "stream": self.stream,
            "passed": self.passed,
            "counts": dict(Counter(r.status for r in self.results)),
            "checks": [r.as_dict() for r in self.results],
        }


# --------------------------------------------------------------------------- reading


@dataclass(slots=True)
class _Read:
    """One finished read: what it yielded and the state the hub would store."""

    envelopes: list[Envelope]
    state: State

    @property
    def good(self) -> list[Envelope]:
        return [e for e in self.envelopes if e.ok]


Key = tuple[str, ...]


def _norm_key(values: Iterable[Any]) -> Key:
    """Keys compared as text: a harness may hand back ints where the record holds str."""
    return tuple(str(v) for v in values)


def _n(count: int, noun: str) -> str:
    """``1 record``, ``3 records``: failure reasons are read by people."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _fmt_key(key: Key) -> str:
    return "(" + ", ".join(key) + ")"


def _fmt_keys(keys: Iterable[Key], total: int | None = None) -> str:
    listed = list(keys)
    shown = ", ".join(_fmt_key(k) for k in listed[:_SHOWN])
    more = (total if total is not None else len(listed)) - min(len(listed), _SHOWN)
    return shown + (f" and {more} more" if more > 0 else "")


def _json_state(state: Any) -> State:
    """The state as the hub stores it: through JSON. Not JSON-able is a failure."""
    try:
        text = json.dumps(state, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"state() is not JSON-serialisable: {exc}") from None
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise CheckFailed(f"state() must be a dict, got {type(state).__name__}")
    return loaded


class KitRun:
    """One run of the kit: the adapter, its configuration, and the harness it exposes.

    Sources are built afresh for each check (the hub builds one per run), all from the
    same configuration; the harness comes from the first and is shared by every check.
    """

    def __init__(
        self,
        adapter: type[Source],
        config: Mapping[str, Any] | Path | str,
        *,
        stream: str | None = None,
        bulk_rows: int = DEFAULT_BULK_ROWS,
        sample_rows: int = DEFAULT_SAMPLE_ROWS,
        memory_bound_mib: float = DEFAULT_MEMORY_BOUND_MIB,
        base_dir: Path | None = None,
        secrets: SecretResolver | None = None,
    ) -> None:
        if bulk_rows < 1 or sample_rows < 10:
            raise ValueError("bulk_rows must be ≥ 1 and sample_rows ≥ 10")
        self.adapter = adapter
        self.config = config
        self.requested_stream = stream
        self.bulk_rows = bulk_rows
        self.sample_rows = sample_rows
        self.memory_bound_mib = memory_bound_mib
        self.secrets = secrets
        if base_dir is None and isinstance(config, Path | str):
            base_dir = Path(config).resolve().parent
        self.base_dir = base_dir
        self._harness: Harness | None = None
        self._harness_error: CheckFailed | None = None
        self._harness_tried = False
        self._stream: str | None = None

    # -- building blocks every check uses

    def new_source(self) -> Source:
        """A new Source from the configuration, as the hub builds one for each run."""
        return self.adapter.from_config(self.config, secrets=self.secrets, base_dir=self.base_dir)

    def config_data(self) -> dict[str, Any]:
        """The configuration as a plain dict (read from YAML when given a path)."""
        if isinstance(self.config, Mapping):
            return dict(self.config)
        path = Path(self.config)
        try:
            data = read_yaml_file(path) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise CheckFailed(f"cannot read configuration {path}: {exc}") from None
        if not isinstance(data, dict):
            raise CheckFailed(f"configuration {path} is not a mapping at the top level")
        return data

    def harness(self) -> Harness:
        """The source's harness, asked for once; CheckFailed when the source has none."""
        if not self._harness_tried:
            self._harness_tried = True
            try:
                self._harness = self._make_harness()
            except CheckFailed as exc:
                self._harness_error = exc
            except Exception as exc:  # the adapter's own error: say where it came from
                self._harness_error = CheckFailed(
                    f"cannot get the conformance harness: {type(exc).__name__}: {exc}"
                )
        if self._harness_error is not None:
            raise self._harness_error
        assert self._harness is not None
        return self._harness

    def _make_harness(self) -> Harness:
        factory = getattr(self.new_source(), "conformance_harness", None)
        if not callable(factory):
            raise CheckFailed(NO_HARNESS)
        harness = factory()
        if not isinstance(harness, Harness):
            raise CheckFailed(
                f"conformance_harness() returned {type(harness).__name__}, "
                "not an adapters.conformance.Harness"
            )
        return harness

    def has_harness(self) -> bool:
        try:
            self.harness()
        except CheckFailed:
            return False
        return True

    @property
    def stream(self) -> str:
        """The stream under test: asked for, else the harness's, else the only one."""
        if self._stream is None:
            if self.requested_stream is not None:
                self._stream = self.requested_stream
            elif self.has_harness():
                self._stream = self.harness().stream
            else:
                self._stream = self.new_source().streams()[0].name
        return self._stream

    def spec(self, source: Source | None = None) -> StreamSpec:
        source = source or self.new_source()
        try:
            return source.stream(self.stream)
        except KeyError as exc:
            raise CheckFailed(str(exc.args[0])) from None

    def driven(self) -> Harness:
        """The harness, reset, for a check that drives the system."""
        harness = self.harness()
        if harness.stream != self.stream:
            raise CheckFailed(
                f"the harness drives stream {harness.stream!r}, the kit checks {self.stream!r}"
            )
        harness.reset()
        return harness

    def read(self, state: State | None, source: Source | None = None) -> _Read:
        """Read the stream to its end as the hub does, and acknowledge it."""
        source = source or self.new_source()
        stream_read = source.read(self.stream, state)
        try:
            envelopes = list(stream_read)
            new_state = _json_state(stream_read.state())
            stream_read.commit()
        finally:
            stream_read.close()
        return _Read(envelopes, new_state)

    def keys(self, envelopes: Iterable[Envelope], spec: StreamSpec) -> list[Key]:
        """Primary keys of the mapped records, by the stream's declared key fields."""
        out = []
        for env in envelopes:
            if env.record is not None:
                out.append(_norm_key(getattr(env.record, f, None) for f in spec.primary_key))
        return out

    def close(self) -> None:
        if self._harness is not None:
            try:
                self._harness.reset()
            finally:
                self._harness.close()


# --------------------------------------------------------------------------- checks


def _compare(
    got: list[Key], expected: Iterable[Key], *, what: str
) -> tuple[dict[str, Any], list[str]]:
    """What a read yielded against what it should have: extra, missing, duplicated keys."""
    expected_set = set(expected)
    counts = Counter(got)
    duplicated = sorted(k for k, c in counts.items() if c > 1)
    extra = sorted(set(counts) - expected_set)
    missing = sorted(expected_set - set(counts))
    problems = []
    if duplicated:
        problems.append(
            f"{_n(len(duplicated), 'key')} yielded more than once: {_fmt_keys(duplicated)}"
        )
    if extra:
        problems.append(
            f"{_n(len(extra), 'record')} yielded that {'was' if len(extra) == 1 else 'were'} "
            f"not {what}: {_fmt_keys(extra)}"
        )
    if missing:
        problems.append(
            f"{len(missing)} {what} {'record' if len(missing) == 1 else 'records'} lost "
            f"(not yielded): {_fmt_keys(missing)}"
        )
    details = {
        "expected": len(expected_set),
        "yielded": len(got),
        "duplicated": [list(k) for k in duplicated[:_SHOWN]],
        "extra": [list(k) for k in extra[:_SHOWN]],
        "missing": [list(k) for k in missing[:_SHOWN]],
        "duplicated_count": len(duplicated),
        "extra_count": len(extra),
        "missing_count": len(missing),
    }
    return details, problems


def _not_ok(envelopes: Iterable[Envelope]) -> list[str]:
    out = []
    for env in envelopes:
        if not env.ok:
            first = env.findings[0] if env.findings else None
            why = f"{first.rule} {first.field or ''}: {first.message}" if first else "no findings"
            out.append(f"{env.location}: {why}")
    return out


def load_mappings(source: Source) -> None:
    """Load every stream's mapping now; ConfigError naming the file and its problems.

    SQL and HTTP sources load their mappings when they are built, drop folders only when
    a stream is read: without this a broken or missing mapping file would pass the
    configuration check and only show as an error of the first read.
    """
    specs = source.streams()
    loader = getattr(source, "mapping_for", None)
    if callable(loader):
        for spec in specs:
            loader(spec.name)


def check_config(run: KitRun) -> str:
    """The configuration and its mappings load; an unknown key and a missing required
    field are refused."""
    data = run.config_data()
    try:
        source = run.new_source()
    except ConfigError as exc:
        raise CheckFailed(f"the given configuration does not load: {exc}") from None
    try:
        load_mappings(source)
    except ConfigError as exc:
        raise CheckFailed(f"the mapping does not load: {exc}") from None
    notes = []
    bogus = "conformance_kit_unknown_key"
    try:
        run.adapter.from_config({**data, bogus: "x"}, secrets=run.secrets, base_dir=run.base_dir)
    except ConfigError as exc:
        if not any(bogus in path or bogus in msg for path, msg in exc.problems):
            raise CheckFailed(
                f"an unknown key was refused, but the error does not name it: {exc}"
            ) from None
    else:
        raise CheckFailed(
            f"an unknown configuration key ({bogus!r}) was accepted: typos would go "
            "unnoticed (derive Config from AdapterConfig, which forbids extra keys)"
        )
    required = [
        name for name, info in run.adapter.Config.model_fields.items() if info.is_required()
    ]
    for name in required:
        alias = run.adapter.Config.model_fields[name].alias or name
        reduced = {k: v for k, v in data.items() if k not in (name, alias)}
        try:
            run.adapter.from_config(reduced, secrets=run.secrets, base_dir=run.base_dir)
        except ConfigError:
            continue
        raise CheckFailed(f"a configuration without the required field {name!r} was accepted")
    if required:
        notes.append(f"required fields refused when missing: {', '.join(required)}")
    else:
        notes.append("Config has no required field")
    return "; ".join(["loads", "unknown key refused", *notes])


def check_connection(run: KitRun) -> str:
    """``check()`` reaches the system, or says why not."""
    source = run.new_source()
    try:
        source.check()
    except ConnectionCheckError as exc:
        raise CheckFailed(f"connection check failed: {exc}") from None
    return "check() succeeded"


def check_records(run: KitRun) -> str:
    """Every mapped record is of the stream's kind, has a location, and passes the standard."""
    source = run.new_source()
    spec = run.spec(source)
    expected: list[Key] | None = None
    if run.has_harness():
        expected = [_norm_key(k) for k in run.driven().add(run.sample_rows)]
    result = run.read(None, source)
    if not result.envelopes:
        raise CheckFailed(
            "the stream yielded no records"
            + ("" if expected is not None else " — add rows, or implement conformance_harness()")
        )
    problems: list[str] = []
    for env in result.envelopes:
        where = str(env.location) if isinstance(env.location, SourceLocation) else "?"
        if env.stream != run.stream:
            problems.append(f"{where}: envelope names stream {env.stream!r}")
        if not isinstance(env.location, SourceLocation) or not env.location.file:
            problems.append(f"record {where}: no SourceLocation with a file name")
        elif env.location.record < 1:
            problems.append(f"{where}: location.record must be 1-based")
        if env.record is None:
            continue
        if not isinstance(env.record, StandardRecord) or env.record.kind != spec.kind:
            problems.append(
                f"{where}: a {type(env.record).__name__} in a stream of kind {spec.kind!r}"
            )
            continue
        errors = [f for f in check_record(env.record) if f.severity is Severity.ERROR]
        if errors:
            e = errors[0]
            problems.append(f"{where}: {e.rule} {e.field or ''}: {e.message}")
    if expected is not None:
        bad = _not_ok(result.envelopes)
        if bad:
            problems.append(
                f"{len(bad)} of {len(expected)} valid rows were not mapped: {'; '.join(bad[:3])}"
            )
        got = run.keys(result.good, spec)
        if len(got) != len(expected):
            problems.append(f"added {len(expected)} valid rows, read {len(got)} records")
    if problems:
        raise CheckFailed(
            f"{len(problems)} problems: " + "; ".join(problems[:_SHOWN]),
            {"problems": problems[:50]},
        )
    return f"{len(result.envelopes)} records conform to the standard ({spec.kind})"


def check_primary_keys(run: KitRun) -> str:
    """No two records of one read share a primary key."""
    source = run.new_source()
    spec = run.spec(source)
    if run.has_harness():
        run.driven().add(run.sample_rows)
    result = run.read(None, source)
    keys = run.keys(result.envelopes, spec)
    counts = Counter(keys)
    duplicated = sorted(k for k, c in counts.items() if c > 1)
    if duplicated:
        raise CheckFailed(
            f"duplicate primary keys {spec.primary_key} within one read: "
            + ", ".join(f"{_fmt_key(k)} ×{counts[k]}" for k in duplicated[:_SHOWN])
            + (f" ({len(duplicated)} keys duplicated)" if len(duplicated) > _SHOWN else ""),
            {"duplicated": [[*k, counts[k]] for k in duplicated[:50]]},
        )
    if not keys:
        raise CheckFailed("the stream yielded no records to compare keys of")
    return f"{len(keys)} records, {len(keys)} distinct keys {spec.primary_key}"


def check_no_change(run: KitRun) -> str:
    """A second incremental run with nothing changed yields nothing."""
    harness = run.driven()
    harness.add(run.sample_rows)
    first = run.read(None)
    second = run.read(first.state)
    if second.envelopes:
        spec = run.spec()
        keys = run.keys(second.envelopes, spec)
        raise CheckFailed(
            f"the second run with no change yielded {_n(len(second.envelopes), 'record')} "
            f"(of {len(first.envelopes)} in the first): {_fmt_keys(keys)} — is the state "
            "advanced to the last row read?",
            {"first": len(first.envelopes), "second": len(second.envelopes), "state": first.state},
        )
    return f"first run {len(first.envelopes)} records, second run 0"


def check_change(run: KitRun) -> str:
    """After changing some records the next run yields exactly those."""
    harness = run.driven()
    added = harness.add(run.sample_rows)
    first = run.read(None)
    changed = [k for i, k in enumerate(added) if i % 5 == 2]
    harness.change(changed)
    second = run.read(first.state)
    spec = run.spec()
    details, problems = _compare(
        run.keys(second.envelopes, spec), [_norm_key(k) for k in changed], what="changed"
    )
    if problems:
        raise CheckFailed(
            f"changed {len(changed)} of {len(added)} records, the next run yielded "
            f"{len(second.envelopes)}: " + "; ".join(problems),
            details,
        )
    return f"changed {len(changed)} of {len(added)}, the next run yielded exactly those"


def check_restart(run: KitRun) -> str:
    """State through JSON into a new Source instance: nothing old again, everything new."""
    harness = run.driven()
    harness.add(run.sample_rows)
    first = run.read(None, run.new_source())
    stored = json.loads(json.dumps(first.state))
    again = run.read(stored, run.new_source())
    spec = run.spec()
    if again.envelopes:
        raise CheckFailed(
            f"after a restart from the stored state the source yielded "
            f"{_n(len(again.envelopes), 'record')} already read: "
            f"{_fmt_keys(run.keys(again.envelopes, spec))}",
            {"state": stored, "yielded": len(again.envelopes)},
        )
    added = [_norm_key(k) for k in harness.add(7)]
    later = run.read(json.loads(json.dumps(again.state)), run.new_source())
    details, problems = _compare(run.keys(later.envelopes, spec), added, what="newly added")
    if problems:
        raise CheckFailed(
            "after a restart, adding 7 rows, the next run: " + "; ".join(problems), details
        )
    return "a new instance from the stored state yielded nothing old and exactly the 7 new rows"


def check_boundary(run: KitRun) -> str:
    """Rows sharing the cursor value of the last row read are neither duplicated nor lost."""
    harness = run.driven()
    spec = run.spec()
    first_keys = [_norm_key(k) for k in harness.add(10, cursor_value=BOUNDARY_CURSOR_VALUE)]
    first = run.read(None)
    details, problems = _compare(run.keys(first.envelopes, spec), first_keys, what="added")
    if problems:
        raise CheckFailed(
            "10 rows sharing one cursor value, first read: " + "; ".join(problems), details
        )
    second_keys = [_norm_key(k) for k in harness.add(10, cursor_value=BOUNDARY_CURSOR_VALUE)]
    second = run.read(first.state)
    got = run.keys(second.envelopes, spec)
    details, problems = _compare(got, second_keys, what="new")
    if problems:
        old = set(first_keys) & set(got)
        hints = []
        if old:
            hints.append(
                f"{len(old)} rows of the first batch yielded again (duplicates at the "
                "boundary: a `>=` cursor comparison without a tie-breaker?)"
            )
        lost = set(second_keys) - set(got)
        if lost:
            hints.append(
                f"{len(lost)} of the 10 new rows with the boundary cursor value lost "
                "(a `>` cursor comparison without a tie-breaker?)"
            )
        raise CheckFailed(
            f"10 more rows with the same cursor value {BOUNDARY_CURSOR_VALUE.isoformat()}, "
            f"the next read yielded {len(second.envelopes)}: " + "; ".join(hints + problems),
            {**details, "state": first.state},
        )
    return "10 + 10 rows on one cursor value: exactly the 10 new ones on the second read"


def check_bad_rows(run: KitRun) -> tuple[str, dict[str, Any]]:
    """Rows that cannot be mapped come out with findings; none are dropped."""
    harness = run.driven()
    bad = max(3, run.sample_rows // 10)
    added = harness.add(run.sample_rows, bad=bad)
    result = run.read(None)
    reported = [e for e in result.envelopes if not e.ok]
    silent = [e for e in reported if not e.findings]
    good = result.good
    problems = []
    if len(reported) < bad:
        problems.append(
            f"added {bad} bad rows, {len(reported)} reported with findings: "
            f"{bad - len(reported)} dropped"
        )
    if silent:
        problems.append(
            f"{len(silent)} unmapped rows carry no finding saying why "
            f"(first at {silent[0].location})"
        )
    raw_missing = [e for e in reported if not e.raw]
    if raw_missing:
        problems.append(f"{len(raw_missing)} unmapped rows without their raw row (for replay)")
    if len(good) != len(added):
        problems.append(f"added {len(added)} valid rows, {len(good)} mapped")
    details = {
        "bad_added": bad,
        "bad_reported": len(reported),
        "valid_added": len(added),
        "valid_read": len(good),
        "envelopes": len(result.envelopes),
    }
    if reported:
        f = reported[0].findings[0] if reported[0].findings else None
        if f is not None:
            details["example"] = {
                "location": str(reported[0].location),
                "rule": f.rule,
                "field": f.field,
                "message": f.message,
            }
    if problems:
        raise CheckFailed("; ".join(problems), details)
    return (
        f"{bad} bad rows reported with findings, {len(added)} valid rows mapped, none dropped",
        details,
    )


def _rss() -> int:
    import psutil  # only the memory check needs it

    return int(psutil.Process().memory_info().rss)


def check_memory(run: KitRun) -> tuple[str, dict[str, Any]]:
    """Streaming many rows keeps memory bounded: no read holds the whole stream.

    Two measures, because each misses what the other sees: tracemalloc counts Python
    allocations exactly (a read that fetches the whole result into a list shows at once)
    but slows allocation several-fold, so it traces the read's start and first
    :data:`TRACED_ROWS` rows; process RSS, sampled over the whole stream, catches
    memory a C driver buffers and anything that grows row by row.
    """
    harness = run.driven()
    n = run.bulk_rows
    harness.add_bulk(n)
    bound = run.memory_bound_mib * MIB
    gc.collect()
    source = run.new_source()
    rss_start = rss_peak = _rss()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    traced_start = tracemalloc.get_traced_memory()[0]
    traced_peak = 0
    tracing = True
    started = time.perf_counter()
    count = 0
    unmapped = 0
    try:
        stream_read = source.read(run.stream, None)
        try:
            for env in stream_read:
                count += 1
                if not env.ok:
                    unmapped += 1
                if count % 10_000 == 0:
                    rss_peak = max(rss_peak, _rss())
                if tracing and count >= TRACED_ROWS:
                    traced_peak = tracemalloc.get_traced_memory()[1] - traced_start
                    tracing = False
                    if not was_tracing:
                        tracemalloc.stop()
            _json_state(stream_read.state())
            stream_read.commit()
        finally:
            stream_read.close()
        rss_peak = max(rss_peak, _rss())
        if tracing:
            traced_peak = tracemalloc.get_traced_memory()[1] - traced_start
    finally:
        if tracing and not was_tracing:
            tracemalloc.stop()
    seconds = time.perf_counter() - started
    traced_rows = min(count, TRACED_ROWS)
    details = {
        "rows": n,
        "yielded": count,
        "unmapped": unmapped,
        "seconds": round(seconds, 2),
        "rows_per_second": round(count / seconds) if seconds > 0 else None,
        "tracemalloc_peak_mib": round(traced_peak / MIB, 1),
        "traced_rows": traced_rows,
        "rss_growth_mib": round((rss_peak - rss_start) / MIB, 1),
        "bound_mib": run.memory_bound_mib,
    }
    problems = []
    if count != n:
        problems.append(f"added {n} rows, the read yielded {count}")
    if unmapped:
        problems.append(f"{unmapped} of {n} valid rows were not mapped")
    if traced_peak > bound:
        problems.append(
            f"Python allocations peaked at {traced_peak / MIB:.0f} MiB within the first "
            f"{traced_rows} rows (bound {run.memory_bound_mib:g} MiB) — does the read "
            "fetch every row before yielding the first?"
        )
    if rss_peak - rss_start > bound:
        problems.append(
            f"process memory grew by {(rss_peak - rss_start) / MIB:.0f} MiB while streaming "
            f"{count} rows (bound {run.memory_bound_mib:g} MiB) — is the whole result "
            "buffered (client-side cursor) or kept row by row?"
        )
    harness.reset()
    if problems:
        raise CheckFailed("; ".join(problems), details)
    return (
        f"{count} rows streamed in {seconds:.1f} s ({count / max(seconds, 1e-9):.0f}/s); "
        f"tracemalloc peak {traced_peak / MIB:.0f} MiB over the first {traced_rows} rows, "
        f"RSS +{(rss_peak - rss_start) / MIB:.0f} MiB (bound {run.memory_bound_mib:g} MiB)",
        details,
    )


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    title: str
    run: Callable[[KitRun], str | tuple[str, dict[str, Any]]]
    needs_harness: bool


CHECKS: tuple[Check, ...] = (
    Check("config", "configuration validation", check_config, False),
    Check("connection", "connection check", check_connection, False),
    Check("records", "records conform to the standard", check_records, False),
    Check("primary_keys", "primary keys unique within a read", check_primary_keys, False),
    Check("no_change", "second run with no change yields nothing", check_no_change, True),
    Check("change", "a change yields exactly the changed records", check_change, True),
    Check("restart", "state survives a restart", check_restart, True),
    Check("boundary", "rows sharing a boundary cursor value", check_boundary, True),
    Check("bad_rows", "bad rows reported, not dropped", check_bad_rows, True),
    Check("memory", "memory bounded while streaming", check_memory, True),
)

CHECK_NAMES: tuple[str, ...] = tuple(c.name for c in CHECKS)


def run_check(run: KitRun, check: Check) -> CheckResult:
    """One check, with every way it can end turned into a result."""
    started = time.perf_counter()
    try:
        if check.needs_harness:
            run.harness()
        outcome = check.run(run)
        status: Status = "pass"
        reason, details = outcome if isinstance(outcome, tuple) else (outcome, {})
    except CheckFailed as exc:
        status, reason, details = "fail", exc.reason, exc.details
    except Exception as exc:  # the adapter's own bug: report it, go on with the next check
        status, reason, details = "error", f"{type(exc).__name__}: {exc}", {}
    return CheckResult(
        check.name, check.title, status, reason, details, time.perf_counter() - started
    )


def run_kit(
    adapter: type[Source],
    config: Mapping[str, Any] | Path | str,
    *,
    stream: str | None = None,
    rows: int = DEFAULT_BULK_ROWS,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    memory_bound_mib: float = DEFAULT_MEMORY_BOUND_MIB,
    base_dir: Path | None = None,
    secrets: SecretResolver | None = None,
    only: Iterable[str] | None = None,
    progress: Callable[[Check], None] | None = None,
) -> KitReport:
    """Run the conformance checks (all, or those named in ``only``) against an adapter.

    ``rows`` is how many rows the memory check streams; ``sample_rows`` how many the
    other checks add. Checks do not stop at the first failure: the report lists every
    check with its outcome.
    """
    selected = list(CHECKS)
    if only is not None:
        wanted = list(only)
        unknown = sorted(set(wanted) - set(CHECK_NAMES))
        if unknown:
            raise ValueError(f"unknown checks {unknown}; known: {', '.join(CHECK_NAMES)}")
        selected = [c for c in CHECKS if c.name in wanted]
    name = f"{adapter.__module__}:{adapter.__qualname__}"
    where = str(config) if isinstance(config, Path | str) else "(mapping)"
    run = KitRun(
        adapter,
        config,
        stream=stream,
        bulk_rows=rows,
        sample_rows=sample_rows,
        memory_bound_mib=memory_bound_mib,
        base_dir=base_dir,
        secrets=secrets,
    )
    report = KitReport(name, where, stream)
    try:
        loads = _loads(run)
        if loads is None:
            # The harness prepares the system it drives (a test database, a drop folder);
            # ask for it before the connection check, which may need that system.
            run.has_harness()
        for check in selected:
            if progress is not None:
                progress(check)
            if loads is not None and check is not CHECKS[0]:
                report.results.append(
                    CheckResult(check.name, check.title, "error", f"not run: {loads}")
                )
                continue
            report.results.append(run_check(run, check))
        if loads is None:
            try:
                report.stream = run.stream
            except Exception:  # the stream could not be determined; the checks said why
                report.stream = stream
    finally:
        run.close()
    return report


def _loads(run: KitRun) -> str | None:
    """None when a Source can be built from the configuration, else why not."""
    try:
        source = run.new_source()
    except Exception as exc:
        return f"the configuration does not load ({type(exc).__name__}: {exc})"
    try:
        load_mappings(source)
    except ConfigError as exc:
        return f"the mapping does not load ({exc})"
    except Exception:  # streams() of the adapter's own failing: the checks report it
        return None
    return None


__all__ = [
    "CHECKS",
    "CHECK_NAMES",
    "DEFAULT_BULK_ROWS",
    "DEFAULT_MEMORY_BOUND_MIB",
    "NO_HARNESS",
    "Check",
    "CheckFailed",
    "CheckResult",
    "KitReport",
    "KitRun",
    "load_mappings",
    "run_check",
    "run_kit",
]
