"""A sync killed with SIGKILL anywhere and run again ends in the library of a clean run.

The crashing run is a subprocess syncing the four nodes bottom-up; ``TONGYUAN_SYNC_CRASH``
makes it kill itself at one point of one node's run. The killed world is then synced again
(in-process, without the crash), and its normalised dump (no batch ids, row ids,
timestamps) must equal that of a world synced without interruption.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_node_sync_world import (
    BAOAN,
    CITY,
    NANSHAN,
    PROVINCE,
    changed,
    drop,
    dump,
    generated_items,
    make_topology,
)

from standards.codes.enums import ReviewStatus
from standards.formats import write_records
from tongyuan.config import ENV_DATABASE_URL, ENV_HOME, ENV_PII_KEY, load_settings
from tongyuan.sync import sync_node
from tongyuan.sync.node_sync import ENV_CRASH

HERE = Path(__file__).resolve().parent
ORDER = (NANSHAN, BAOAN, CITY, PROVINCE)

_RUNNER = """
import sys
from pathlib import Path
sys.path.insert(0, {here!r})
from test_node_sync_world import make_topology
from tongyuan.config import load_settings
from tongyuan.sync import sync_node

root = Path(sys.argv[1])
topology = make_topology(root, snapshot=frozenset({snapshot!r}))
settings = load_settings()
for code in sys.argv[2:]:
    result = sync_node(settings, topology, code)
    if result.status != "committed":
        raise SystemExit(f"{{code}}: {{result.error}}")
"""


def _world(root: Path) -> None:
    """Round 1: every node's first export. Round 2 (kept aside until round 1 is synced):
    a change, a cancellation, an item gone from a snapshot, and a disagreeing city copy."""
    items = generated_items(120)
    make_topology(root)
    for code in ORDER:
        drop(root, code, items[code], name="items_1.xml")
    second = {code: list(items[code]) for code in ORDER}
    second[NANSHAN][0] = changed(items[NANSHAN][0], promised_limit_days=1)
    second[NANSHAN][1] = changed(items[NANSHAN][1], status=ReviewStatus.CANCELLED)
    second[BAOAN] = second[BAOAN][1:]  # Bao'an's snapshot no longer lists its first item
    second[CITY].append(changed(items[NANSHAN][2], location="深圳市民中心"))
    for code in ORDER:
        (root / "round2" / code).mkdir(parents=True)
        write_records(root / "round2" / code / "items_2.xml", second[code], kind="item")


def _second_round(root: Path) -> None:
    for code in ORDER:
        shutil.copy2(root / "round2" / code / "items_2.xml", root / "systems" / code)


def _run(root: Path, url: str, key: str, crash: str | None = None) -> int:
    env = {**os.environ, ENV_HOME: str(root / "home"), ENV_DATABASE_URL: url, ENV_PII_KEY: key}
    env.pop(ENV_CRASH, None)
    if crash is not None:
        env[ENV_CRASH] = crash
    script = _RUNNER.format(here=str(HERE), snapshot=[BAOAN])
    done = subprocess.run(
        [sys.executable, "-c", script, str(root), *ORDER],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"sync run failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.returncode


@pytest.fixture
def fresh_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory of fresh migrated databases on this test's backend."""
    made: list[str] = []

    def make(name: str) -> str:
        if backend == "sqlite":
            template: Path = request.getfixturevalue("_sqlite_template")
            path = tmp_path / f"{name}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        server = request.getfixturevalue("pg_server")
        db = server.create_database(template=request.getfixturevalue("_pg_template"))
        made.append(db)
        return server.url(db)

    yield make
    if made:
        server = request.getfixturevalue("pg_server")
        for db in made:
            server.drop_database(db)


CRASHES = [
    (1, f"record:3@{NANSHAN}"),
    (1, f"after_commit@{PROVINCE}"),
    (2, f"before_commit@{BAOAN}"),
    (2, f"after_commit@{NANSHAN}"),
    (2, f"record:1@{CITY}"),
]


def _sync_in_process(root: Path, url: str, key: str) -> None:
    settings = load_settings({ENV_HOME: str(root / "home"), ENV_DATABASE_URL: url,
                              ENV_PII_KEY: key})  # fmt: skip
    topology = make_topology(root, snapshot=frozenset({BAOAN}))
    for code in ORDER:
        assert sync_node(settings, topology, code).status == "committed"


def _sync_both_rounds(root: Path, url: str, key: str, crash: tuple[int, str] | None) -> None:
    """Both rounds; the crash (in a subprocess) where asked, every other run in-process."""
    for round_no in (1, 2):
        if round_no == 2:
            _second_round(root)
        if crash is not None and crash[0] == round_no:
            assert _run(root, url, key, crash[1]) == -signal.SIGKILL, crash
        _sync_in_process(root, url, key)
    # A drop folder's state lists the files its last read delivered; a run with nothing
    # new settles it, so that killed worlds (which ran more often) compare equal on it too.
    _sync_in_process(root, url, key)


@pytest.mark.parametrize("crash", CRASHES, ids=[f"round{r}-{c}" for r, c in CRASHES])
def test_a_killed_sync_resumes_to_the_clean_result(
    fresh_url,
    tmp_path: Path,
    settings: object,
    crash: tuple[int, str],  # type: ignore[no-untyped-def]
) -> None:
    key = settings.pii_key_b64  # type: ignore[attr-defined]
    template = tmp_path / "template"
    _world(template)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    shutil.copytree(template, clean)
    shutil.copytree(template, killed)
    clean_url, killed_url = fresh_url("clean"), fresh_url("killed")
    _sync_both_rounds(clean, clean_url, key, None)
    expected = dump(clean_url)
    assert any(f[5] == "open" for f in expected["findings"])
    assert sum(v[2] for v in expected["versions"]) == 2  # the cancellation and the gone item
    _sync_both_rounds(killed, killed_url, key, crash)
    got = dump(killed_url)
    for part in expected:
        assert got[part] == expected[part], part
