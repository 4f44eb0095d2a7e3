"""ingest.*: case XML on disk → checked → case library, against the tools one would use instead.

Every figure is measured in a child process of its own on the same file, the two sides of
a comparison alternated, so a machine busy with other work slows both alike; wall time is
the figure, CPU time (the process and its workers) is printed beside it.

* ``ingest.cases.vs_bare``: Tongyuan's :class:`tongyuan.loading.Loader` (every standard
  and library check, quarantine, encrypted IDs, events, timeliness, ledger entry) against
  a bare lxml iterparse + executemany loop into SQLite that checks nothing.
* ``ingest.cases.vs_pandas``: against ``pandas.read_xml`` + ``to_sql``.
* ``ingest.cases.vs_dlt``: against dlt loading the same records with ``merge``.
* ``ingest.memory_vs_file``: peak RSS (the loader and its workers together) while loading
  one ≥ 1 GB case file, against the file's size.

The dataset (≥ 200k cases, 2 % bad) is generated once per work directory; items and
materials are loaded once into a template hub that each run copies. Run alone:
``python -m benchmarks ingest``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.harness import Result, peak_rss_bytes

CASES = 200_000
BAD_RATE = 0.02
SEED = 2026
BIG_FILE_BYTES = 1 << 30
REPEAT = int(os.environ.get("TONGYUAN_BENCH_REPEAT", "1"))
# Cases of the PostgreSQL figure (the first ones of the same file): enough to measure the
# rate, few enough to keep make bench within its time budget.
PG_CASES = 50_000
# Which parts run (all by default): speed, memory, postgresql.
PARTS = set(os.environ.get("TONGYUAN_BENCH_INGEST_PARTS", "speed,memory,postgresql").split(","))

_CASE_COLUMNS = (
    "source_system", "dept_case_no", "serial", "impl_code", "handling_code", "item_name",
    "applicant_name", "applicant_id_type", "applicant_id_number", "applicant_phone",
    "accepted_at", "decided_at", "decision", "delivered_at", "delivery_method",
    "promised_limit_days", "promised_deadline", "region_code", "material_ids", "updated_at",
)  # fmt: skip
_EVENT_COLUMNS = ("source_system", "dept_case_no", "seq", "state", "at", "actor", "note")


# ---------------------------------------------------------------- dataset and template hub


def dataset(workdir: Path) -> Path:
    """The generated dataset (items, materials, cases; 2 % bad), made once per workdir."""
    from tongyuan.generate import generate_dataset

    out = workdir / f"ingest-{CASES}"
    if not (out / "cases" / "cases.xml").is_file():
        if out.exists():
            shutil.rmtree(out)
        generate_dataset(out, seed=SEED, items=1000, cases=CASES, bad_rate=BAD_RATE)
    return out


def template_home(workdir: Path, data: Path) -> Path:
    """A hub home with the dataset's items and materials loaded (made once, then copied)."""
    home = workdir / "ingest-template"
    done = home / "loaded.json"
    if not done.is_file():
        if home.exists():
            shutil.rmtree(home)
        _run_child("template", str(home), str(data))
    return home


def fresh_home(template: Path, home: Path) -> Path:
    """A copy of the template hub: its database and key copied, its blob store shared."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    for db in template.glob("tongyuan.db*"):
        shutil.copyfile(db, home / db.name)
    shutil.copytree(template / "secrets", home / "secrets")
    (home / "blobs").symlink_to((template / "blobs").resolve(), target_is_directory=True)
    return home


def big_case_file(workdir: Path, source: Path) -> Path:
    """One ≥ 1 GB case file: the dataset's cases repeated with new keys and serials.

    Copy k gives each case the department case number ``<no>K<k>`` and a serial whose
    day sequence is raised by k·100000 (still canonical: wide sequences are written with
    their own digits), so every copy is new to the library and unique in the file.
    """
    out = workdir / "ingest-1gb-v2" / "cases.xml"
    if out.is_file() and out.stat().st_size >= BIG_FILE_BYTES:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_bytes()
    head_end = text.index(b"<case>")
    tail_start = text.rindex(b"</cases>")
    head, body, tail = text[:head_end], text[head_end:tail_start], text[tail_start:]
    copies = -(-BIG_FILE_BYTES // len(body))
    no = re.compile(rb"<dept_case_no>([^<]*)</dept_case_no>")
    # A serial: 31-character implementation code, 8-digit day, day sequence.
    serial = re.compile(rb"<serial>([0-9A-Z]{39})(\d{4,})</serial>")
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        fh.write(head)
        for k in range(copies):
            if k == 0:
                fh.write(body)
                continue
            part = no.sub(b"<dept_case_no>\\1K%d</dept_case_no>" % k, body)
            fh.write(serial.sub(partial(_shift_serial, k * 100000), part))
        fh.write(tail)
    tmp.replace(out)
    return out


def head_case_file(source: Path, count: int, out: Path) -> Path:
    """The first ``count`` cases of ``source`` as a file of their own (made once)."""
    if out.is_file():
        return out
    text = source.read_bytes()
    body_start = text.index(b"<case>")
    end = body_start
    for _ in range(count):
        end = text.index(b"</case>", end) + len(b"</case>")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(text[:end] + b"\n" + text[text.rindex(b"</cases>") :])
    tmp.replace(out)
    return out


def _shift_serial(offset: int, m: re.Match[bytes]) -> bytes:
    return b"<serial>%s%d</serial>" % (m.group(1), int(m.group(2)) + offset)


# ---------------------------------------------------------------- the contenders


def _iter_cases(path: Path) -> Iterator[Any]:
    from lxml import etree

    for _, elem in etree.iterparse(str(path), events=("end",), tag="case"):
        yield elem
        elem.clear(keep_tail=False)
        parent = elem.getparent()
        if parent is not None:
            while elem.getprevious() is not None:
                del parent[0]


def _flat(elem: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row: dict[str, Any] = dict.fromkeys(_CASE_COLUMNS)
    events: list[dict[str, Any]] = []
    for child in elem:
        tag = child.tag
        if tag == "applicant":
            for sub in child:
                row[f"applicant_{sub.tag}"] = sub.text
        elif tag == "events":
            for seq, ev in enumerate(child, 1):
                doc = {"seq": seq, "state": None, "at": None, "actor": None, "note": None}
                for sub in ev:
                    doc[sub.tag] = sub.text
                events.append(doc)
        elif tag == "material_ids":
            row[tag] = ",".join(sub.text or "" for sub in child)
        else:
            row[tag] = child.text
    for doc in events:
        doc["source_system"] = row["source_system"]
        doc["dept_case_no"] = row["dept_case_no"]
    return row, events


def bare_sqlite(path: Path, db: Path) -> int:
    """The baseline: iterparse, flatten, executemany in one transaction; checks nothing."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"CREATE TABLE cases ({', '.join(_CASE_COLUMNS)})")
    conn.execute(f"CREATE TABLE case_events ({', '.join(_EVENT_COLUMNS)})")
    case_sql = f"INSERT INTO cases VALUES ({', '.join(':' + c for c in _CASE_COLUMNS)})"
    event_sql = f"INSERT INTO case_events VALUES ({', '.join(':' + c for c in _EVENT_COLUMNS)})"
    count = 0
    conn.execute("BEGIN")
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for elem in _iter_cases(path):
        row, evs = _flat(elem)
        rows.append(row)
        events += evs
        count += 1
        if len(rows) >= 1000:
            conn.executemany(case_sql, rows)
            conn.executemany(event_sql, events)
            rows, events = [], []
    conn.executemany(case_sql, rows)
    conn.executemany(event_sql, events)
    conn.execute("COMMIT")
    conn.close()
    return count


def bare_postgres(path: Path, url: str) -> int:
    """The same bare loop into PostgreSQL (psycopg executemany)."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg", "postgresql")
    count = 0
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bare_cases, bare_case_events")
        cur.execute(f"CREATE TABLE bare_cases ({', '.join(c + ' text' for c in _CASE_COLUMNS)})")
        cur.execute(
            f"CREATE TABLE bare_case_events ({', '.join(c + ' text' for c in _EVENT_COLUMNS)})"
        )
        case_sql = f"INSERT INTO bare_cases VALUES ({', '.join(f'%({c})s' for c in _CASE_COLUMNS)})"
        event_sql = (
            f"INSERT INTO bare_case_events VALUES ({', '.join(f'%({c})s' for c in _EVENT_COLUMNS)})"
        )
        rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for elem in _iter_cases(path):
            row, evs = _flat(elem)
            rows.append(row)
            events += [{**e, "seq": str(e["seq"])} for e in evs]
            count += 1
            if len(rows) >= 1000:
                cur.executemany(case_sql, rows)
                cur.executemany(event_sql, events)
                rows, events = [], []
        cur.executemany(case_sql, rows)
        cur.executemany(event_sql, events)
        conn.commit()
    return count


def with_pandas(path: Path, db: Path) -> int:
    """``pandas.read_xml`` + ``to_sql`` (nested elements are not flattened by read_xml)."""
    import pandas as pd

    db.unlink(missing_ok=True)
    frame = pd.read_xml(path, xpath="//case", parser="lxml")
    conn = sqlite3.connect(db)
    frame.astype(str).to_sql("cases", conn, index=False, chunksize=10_000)
    conn.commit()
    conn.close()
    return len(frame)


def with_dlt(path: Path, workdir: Path) -> int:
    """dlt 1.31: the same records (nested: applicant, events, materials) merged into SQLite."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    # One load job at a time: parallel jobs into one SQLite file fail with "locked".
    os.environ.setdefault("LOAD__WORKERS", "1")
    import dlt

    base = workdir / "dlt"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    count = 0

    @dlt.resource(
        name="cases", primary_key=("source_system", "dept_case_no"), write_disposition="merge"
    )
    def cases() -> Iterator[dict[str, Any]]:
        nonlocal count
        for elem in _iter_cases(path):
            doc: dict[str, Any] = {}
            for child in elem:
                if child.tag == "applicant":
                    doc["applicant"] = {sub.tag: sub.text for sub in child}
                elif child.tag == "events":
                    doc["events"] = [{sub.tag: sub.text for sub in ev} for ev in child]
                elif child.tag == "material_ids":
                    doc["material_ids"] = [sub.text for sub in child]
                else:
                    doc[child.tag] = child.text
            count += 1
            yield doc

    pipeline = dlt.pipeline(
        pipeline_name="ingest_bench",
        pipelines_dir=str(base / "pipelines"),
        destination=dlt.destinations.sqlalchemy(credentials=f"sqlite:///{base / 'dlt.db'}"),
        dataset_name="main",
    )
    pipeline.run(cases())
    return count


def tongyuan_load(home: Path, path: Path, url: str | None = None) -> dict[str, Any]:
    """Tongyuan's real path: one Loader.load of the case file into a hub with its items."""
    from tongyuan.config import load_settings
    from tongyuan.loading import Loader

    env = {"TONGYUAN_HOME": str(home)}
    if url is not None:
        env["TONGYUAN_DATABASE_URL"] = url
    loader = Loader(load_settings(env))
    try:
        summary = loader.load([path], relative_to=path.parent.parent)
    finally:
        loader.close()
    if summary.failed:
        raise RuntimeError(f"load failed: {summary.failed[0].error}")
    totals = summary.totals()["case"]
    return {"read": totals["read"], "quarantined": totals["quarantined"],
            "added": totals["added"]}  # fmt: skip


def _load_template(home: Path, data: Path, url: str | None = None) -> None:
    from tongyuan.config import load_settings
    from tongyuan.db import upgrade
    from tongyuan.loading import Loader

    env = {"TONGYUAN_HOME": str(home)}
    if url is not None:
        env["TONGYUAN_DATABASE_URL"] = url
    settings = load_settings(env)
    settings.ensure_dirs()
    upgrade(settings.database_url)
    loader = Loader(settings)
    try:
        wanted = [data] if data.name == "items" else [data / "items", data / "materials"]
        summary = loader.load(wanted, relative_to=data.parent if data.name == "items" else data)
    finally:
        loader.close()
    totals = {k: dict(v) for k, v in summary.totals().items()}
    if url is None:
        (home / "loaded.json").write_text(json.dumps(totals), encoding="utf-8")


# ---------------------------------------------------------------- child processes


def _child_main(mode: str, *args: str) -> None:
    import resource

    start = time.perf_counter()
    out: dict[str, Any] = {}
    if mode == "template":
        _load_template(Path(args[0]), Path(args[1]), args[2] if len(args) > 2 else None)
    elif mode == "tongyuan":
        out = tongyuan_load(Path(args[0]), Path(args[1]), args[2] if len(args) > 2 else None)
    elif mode == "bare":
        out["read"] = bare_sqlite(Path(args[0]), Path(args[1]))
    elif mode == "bare_pg":
        out["read"] = bare_postgres(Path(args[0]), args[1])
    elif mode == "pandas":
        out["read"] = with_pandas(Path(args[0]), Path(args[1]))
    elif mode == "dlt":
        out["read"] = with_dlt(Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(f"unknown child mode {mode}")
    seconds = time.perf_counter() - start
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    out["seconds"] = seconds
    out["cpu"] = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    out["maxrss_self"] = peak_rss_bytes()
    print(json.dumps(out))


def _run_child(mode: str, *args: str, sample_memory: bool = False) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; with ``sample_memory`` the peak of the
    summed RSS of the child and all its descendants (its workers) is sampled too."""
    # stderr goes to a file: while the memory is sampled nothing reads the pipes, and a
    # child logging more than a pipe holds (a long traceback) would block there for good.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.ingest", "--child", mode, *args],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        peak = _sampled_peak(proc) if sample_memory else 0
        stdout, _ = proc.communicate()
        errors.seek(0)
        stderr = errors.read()
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {mode} failed:\n{stderr[-3000:]}")
    out = json.loads(stdout.strip().splitlines()[-1])
    out["peak_tree_rss"] = peak
    return out


def _sampled_peak(proc: subprocess.Popen[str]) -> int:
    """The peak summed RSS of ``proc`` and its descendants, sampled until it exits."""
    import psutil

    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            total = 0
            for p in tree:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(0.2)  # the peak is a plateau; sampling more often steals a core
    return peak


# ---------------------------------------------------------------- the benchmark


def _rate(m: dict[str, Any]) -> float:
    return m["read"] / m["seconds"]


def _postgres(workdir: Path, data: Path, path: Path) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from pg import PgServer, PgUnavailable
    except ImportError:
        return ["ingest (PostgreSQL): tests/pg.py not available, skipped"]
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        return [f"ingest (PostgreSQL): no server ({exc}), skipped"]
    try:
        url = server.url(server.create_database(prefix="benchi"))
        home = workdir / "ingest-home-pg"
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(parents=True)
        shutil.copytree(workdir / "ingest-template" / "secrets", home / "secrets")
        # Items only: loading 19k material files again would cost minutes; cases citing
        # materials are then quarantined (case.material.missing), the same work per case.
        _run_child("template", str(home), str(data / "items"), url)
        head = head_case_file(path, PG_CASES, workdir / f"ingest-head-{PG_CASES}" / "cases.xml")
        ours = _run_child("tongyuan", str(home), str(head), url)
        bare = _run_child("bare_pg", str(head), url)
        return [
            f"ingest (PostgreSQL, the first {ours['read']:,} cases of the same file): "
            f"Tongyuan {_rate(ours):,.0f} cases/s "
            f"(CPU {ours['cpu']:.0f} s incl. workers), bare iterparse + psycopg executemany "
            f"{_rate(bare):,.0f} cases/s (CPU {bare['cpu']:.0f} s); ratio "
            f"{_rate(ours) / _rate(bare):.2f}"
        ]
    finally:
        server.stop()


def prepare(workdir: Path) -> list[str]:
    """Make the datasets and the template hub once (``python -m benchmarks`` runs this
    beside the other benchmarks' preparation, before anything is measured)."""
    start = time.perf_counter()
    data = dataset(workdir)
    path = data / "cases" / "cases.xml"
    if "speed" in PARTS or "memory" in PARTS:
        template_home(workdir, data)
    if "memory" in PARTS:
        big_case_file(workdir, path)
    if "postgresql" in PARTS:
        head_case_file(path, PG_CASES, workdir / f"ingest-head-{PG_CASES}" / "cases.xml")
    return [f"ingest: datasets and template hub ready in {time.perf_counter() - start:.0f} s"]


def run(workdir: Path) -> tuple[list[Result], list[str]]:
    data = dataset(workdir)
    path = data / "cases" / "cases.xml"
    template = template_home(workdir, data)
    results: list[Result] = []
    notes: list[str] = []
    if "speed" in PARTS:
        r, n = _speed(workdir, path, template)
        results += r
        notes += n
    if "memory" in PARTS:
        r, n = _memory(workdir, path, template)
        results += r
        notes += n
    if "postgresql" in PARTS:
        notes += _postgres(workdir, data, path)
    return results, notes


def _speed(workdir: Path, path: Path, template: Path) -> tuple[list[Result], list[str]]:
    size_mb = path.stat().st_size / 1e6
    ours: list[dict[str, Any]] = []
    bare: list[dict[str, Any]] = []
    for i in range(REPEAT):  # alternated, so both sides meet the same machine load
        home = fresh_home(template, workdir / "ingest-home")
        ours.append(_run_child("tongyuan", str(home), str(path)))
        bare.append(_run_child("bare", str(path), str(workdir / f"ingest-bare-{i}.db")))
    pandas = _run_child("pandas", str(path), str(workdir / "ingest-pandas.db"))
    dlt = _run_child("dlt", str(path), str(workdir))
    best = max(ours, key=_rate)
    best_bare = max(bare, key=_rate)
    n = best["read"]
    if n < CASES or any(m["read"] != n for m in (*ours, *bare, dlt)):
        raise RuntimeError(
            f"record counts differ: tongyuan {[m['read'] for m in ours]}, bare "
            f"{[m['read'] for m in bare]}, dlt {dlt['read']}"
        )
    quarantined = best["quarantined"] / n
    common = (
        f"{n:,} cases ({quarantined:.1%} quarantined), {size_mb:.0f} MB XML → SQLite; "
        f"Tongyuan: one worker process per core parses, checks and prepares rows, the "
        f"loading process checks against the libraries and writes"
    )
    results = [
        Result(
            "ingest.cases.vs_bare", "cases/s", _rate(best), "bare lxml iterparse + executemany",
            _rate(best_bare), "higher", 0.6, common,
        ),
        Result(
            "ingest.cases.vs_pandas", "cases/s", _rate(best), "pandas.read_xml + to_sql",
            _rate(pandas), "higher", 1.2, common,
        ),
        Result(
            "ingest.cases.vs_dlt", "cases/s", _rate(best), "dlt 1.31 merge into SQLite",
            _rate(dlt), "higher", 2.5, common,
        ),
    ]  # fmt: skip
    notes = [
        "ingest.cases CPU seconds (process + workers): Tongyuan "
        + ", ".join(f"{m['cpu']:.0f}" for m in ours)
        + "; bare "
        + ", ".join(f"{m['cpu']:.0f}" for m in bare)
        + f"; pandas {pandas['cpu']:.0f}; dlt {dlt['cpu']:.0f}. Wall seconds: Tongyuan "
        + ", ".join(f"{m['seconds']:.0f}" for m in ours)
        + "; bare "
        + ", ".join(f"{m['seconds']:.0f}" for m in bare)
        + f"; pandas {pandas['seconds']:.0f}; dlt {dlt['seconds']:.0f}"
    ]
    return results, notes


def _memory(workdir: Path, path: Path, template: Path) -> tuple[list[Result], list[str]]:
    big = big_case_file(workdir, path)
    home = fresh_home(template, workdir / "ingest-home-big")
    mem = _run_child("tongyuan", str(home), str(big), sample_memory=True)
    # The copies must be new cases: a copy repeating keys or serials would be quarantined
    # one by one and the figure would measure the quarantine instead of the load.
    if mem["quarantined"] > 2 * BAD_RATE * mem["read"]:
        raise RuntimeError(f"the 1 GB file quarantined {mem['quarantined']:,} of {mem['read']:,}")
    results = [
        Result(
            "ingest.memory_vs_file", "bytes", mem["peak_tree_rss"], "file size",
            big.stat().st_size, "lower", 0.3,
            f"{mem['read']:,} cases ({mem['quarantined']:,} quarantined) in one "
            f"{big.stat().st_size / 1e9:.2f} GB file; peak RSS of the loader and its workers "
            f"summed",
        )
    ]  # fmt: skip
    notes = [
        f"ingest.memory_vs_file: {mem['read']:,} cases at {_rate(mem):,.0f} cases/s; peak RSS "
        f"of the loading process alone {mem['maxrss_self'] / 1e6:.0f} MB"
    ]
    shutil.rmtree(home, ignore_errors=True)
    return results, notes


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child_main(sys.argv[2], *sys.argv[3:])
    else:
        from benchmarks.harness import print_results

        home = Path(os.environ.get("TONGYUAN_HOME", "var")).resolve() / "bench"
        home.mkdir(parents=True, exist_ok=True)
        r, n = run(home)
        print_results(r, n)
