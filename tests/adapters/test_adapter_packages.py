"""Installed adapter packages that go wrong: one department's broken package is a problem
line naming it, never a traceback that stops `sync check`, `adapter list`, `pull` or the
other departments; a name two providers declare is refused naming both.

Packages are "installed" as a folder on sys.path holding the package and its
``*.dist-info`` (METADATA + entry_points.txt), which is what importlib.metadata reads.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.scaffold import ScaffoldError, create_adapter_package
from adapters.sdk import AdapterCodeError, AdapterError
from adapters.sdk.registry import adapter_entries, available_adapters, load_adapter
from adapters.sdk.source import Source
from tongyuan.cli import app
from tongyuan.topology import TopologyError, load_topology

runner = CliRunner()

GOOD_SOURCE = """
from adapters.builtin.files import FilesSource

class {cls}(FilesSource):
    pass
"""


def install(site: Path, dist: str, module: str, entry: str, source: str, cls: str) -> None:
    """A package ``module`` (``source.py`` holding ``source``) whose distribution ``dist``
    declares ``entry = module.source:cls`` in the tongyuan.adapters group."""
    package = site / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "source.py").write_text(textwrap.dedent(source), encoding="utf-8")
    _dist_info(site, dist, module, entry, cls)


def _dist_info(site: Path, dist: str, module: str, entry: str, cls: str) -> None:
    """The ``*.dist-info`` in ``site`` declaring ``entry = module.source:cls``."""
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[tongyuan.adapters]\n{entry} = {module}.source:{cls}\n", encoding="utf-8"
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    # The CLI's rich consoles size themselves by the terminal: rows must not wrap here.
    from tongyuan.cli import common

    for console in (common.console, common.err_console):
        monkeypatch.setattr(console, "_width", 600)
    return folder


def _files_config(tmp_path: Path) -> Path:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    config = tmp_path / "cases.yaml"
    config.write_text(
        f"path: {drop}\nsettle_seconds: 0\nstreams:\n  cases: {{kind: case}}\n", encoding="utf-8"
    )
    return config


def _install_boom(site: Path) -> None:
    install(site, "tongyuan-adapter-boom-t", "boom_t_adapter", "boom-t",
            'raise RuntimeError("config server unreachable at import")\n', "BoomCases")  # fmt: skip


def test_a_module_raising_at_import_is_an_adapter_error_naming_package_and_error(site):
    _install_boom(site)
    with pytest.raises(AdapterCodeError) as info:
        load_adapter("boom-t")
    message = str(info.value)
    assert "boom_t_adapter.source" in message and "tongyuan-adapter-boom-t 0.1.0" in message
    assert "RuntimeError: config server unreachable at import" in message


def test_a_syntax_error_names_the_file_and_line(site):
    install(site, "tongyuan-adapter-syntax-t", "syntax_t_adapter", "syntax-t",
            "def broken(:\n    pass\n", "SyntaxCases")  # fmt: skip
    with pytest.raises(AdapterError, match=r"SyntaxError: .*source\.py, line 1"):
        load_adapter("syntax-t")


def test_a_class_raising_in_init_is_an_adapter_error_naming_the_class(site, tmp_path):
    install(site, "tongyuan-adapter-init-t", "init_t_adapter", "init-t", """
        from adapters.builtin.files import FilesSource

        class InitCases(FilesSource):
            def __init__(self, *args, **kwargs):
                raise RuntimeError("licence dongle missing")
    """, "InitCases")  # fmt: skip
    cls = load_adapter("init-t")
    assert issubclass(cls, Source)
    named = r"init_t_adapter\.source:InitCases .*licence dongle"
    with pytest.raises(AdapterCodeError, match=named):
        cls.from_config(_files_config(tmp_path))


def test_adapter_list_shows_each_broken_package_in_its_row(site):
    _install_boom(site)
    install(site, "tongyuan-adapter-good-t", "good_t_adapter", "good-t",
            GOOD_SOURCE.format(cls="GoodCases"), "GoodCases")  # fmt: skip
    result = runner.invoke(app, ["adapter", "list"], terminal_width=400)
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "RuntimeError: config server unreachable" in rows["boom-t"]
    assert "ok (source)" in rows["good-t"] and "tongyuan-adapter-good-t 0.1.0" in rows["good-t"]


def test_pull_of_a_broken_package_is_one_line_exit_2(site, tmp_path):
    _install_boom(site)
    args = ["pull", "boom-t", "--config", str(_files_config(tmp_path)), "--stream", "cases"]
    result = runner.invoke(app, args, terminal_width=300)
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "RuntimeError: config server unreachable at import" in result.output


def test_pull_of_a_class_raising_in_init_exits_2(site, tmp_path):
    install(site, "tongyuan-adapter-init-u", "init_u_adapter", "init-u", """
        from adapters.builtin.files import FilesSource

        class InitCases(FilesSource):
            def __init__(self, *args, **kwargs):
                raise KeyError("dongle")
    """, "InitCases")  # fmt: skip
    args = ["pull", "init-u", "--config", str(_files_config(tmp_path)), "--stream", "cases"]
    result = runner.invoke(app, args, terminal_width=300)
    assert result.exit_code == 2, result.output
    assert "cannot be created from its configuration: KeyError" in result.output


def _topology(tmp_path: Path, adapters: list[str]) -> Path:
    outbox = tmp_path / "systems" / "440300" / "outbox"
    outbox.mkdir(parents=True)
    config = _files_config(tmp_path)
    departments = "".join(
        f"""
  - name: 部门{i}
    code: "{code}"
    node: "440300"
    cases: {{adapter: {name}, config: {config}, stream: cases}}"""
        for i, (name, code) in enumerate(
            zip(adapters, ["114403000040578006", "12440300MB2D7543XL"], strict=False)
        )
    )
    path = tmp_path / "topo.yaml"
    path.write_text(
        f"""name: t
nodes:
  - code: "440300"
    level: city
    source:
      adapter: files
      stream: items
      config: {{path: "{outbox}", streams: {{items: {{kind: item}}}}, settle_seconds: 0}}
departments:{departments}
""",
        encoding="utf-8",
    )
    return path


def test_sync_check_reports_a_broken_package_as_a_problem_line(site, tmp_path):
    _install_boom(site)
    install(site, "tongyuan-adapter-init-v", "init_v_adapter", "init-v", """
        from adapters.builtin.files import FilesSource

        class InitCases(FilesSource):
            def __init__(self, *args, **kwargs):
                raise RuntimeError("licence dongle missing")
    """, "InitCases")  # fmt: skip
    topology = _topology(tmp_path, ["boom-t", "init-v"])
    # The topology loads, each department's adapter marked with its package's problem.
    problems = dict(load_topology(topology, home=tmp_path).adapter_problems)
    assert "RuntimeError: config server unreachable" in problems["departments[0].cases.adapter"]
    assert "licence dongle missing" in problems["departments[1].cases.adapter"]
    result = runner.invoke(app, ["sync", "check", "-t", str(topology)], terminal_width=300)
    assert result.exit_code == 2, result.output
    assert "departments[0].cases.adapter: cannot import adapter module" in result.output
    assert "departments[1].cases.adapter: adapter init_v_adapter.source:InitCases" in (
        result.output
    )


def test_a_stream_list_raising_is_a_problem_line(site, tmp_path):
    install(site, "tongyuan-adapter-streams-t", "streams_t_adapter", "streams-t", """
        from adapters.builtin.files import FilesSource

        class StreamsCases(FilesSource):
            def streams(self):
                raise ValueError("no catalogue")
    """, "StreamsCases")  # fmt: skip
    topo = load_topology(_topology(tmp_path, ["streams-t"]), home=tmp_path)
    assert (
        "streams() raised ValueError: no catalogue"
        in dict(topo.adapter_problems)["departments[0].cases.adapter"]
    )


# -- names declared twice ----------------------------------------------------------------


def test_two_packages_declaring_one_name_are_refused_naming_both(site, tmp_path):
    install(site, "tongyuan-adapter-one", "one_t_adapter", "same-t",
            GOOD_SOURCE.format(cls="OneCases"), "OneCases")  # fmt: skip
    install(site, "tongyuan-adapter-two", "two_t_adapter", "same-t",
            GOOD_SOURCE.format(cls="TwoCases"), "TwoCases")  # fmt: skip
    with pytest.raises(AdapterError) as info:
        load_adapter("same-t")
    message = str(info.value)
    assert "tongyuan-adapter-one 0.1.0 (one_t_adapter.source:OneCases)" in message
    assert "tongyuan-adapter-two 0.1.0 (two_t_adapter.source:TwoCases)" in message
    assert "same-t" in available_adapters()  # known, only unusable

    listed = runner.invoke(app, ["adapter", "list"], terminal_width=500)
    rows = [line for line in listed.output.splitlines() if "│ same-t" in line]
    assert len(rows) == 2 and all("will not pick one" in row for row in rows)

    pulled = runner.invoke(
        app, ["pull", "same-t", "--config", str(_files_config(tmp_path)), "--stream", "cases"],
        terminal_width=400,
    )  # fmt: skip
    assert pulled.exit_code == 2 and "tongyuan-adapter-two" in pulled.output

    checked = runner.invoke(
        app, ["adapter", "check", "same-t", "--config", str(_files_config(tmp_path))],
        terminal_width=400,
    )  # fmt: skip
    assert checked.exit_code == 2 and "tongyuan-adapter-one" in checked.output

    topo = load_topology(_topology(tmp_path / "t", ["same-t"]), home=tmp_path)
    assert "will not pick one" in dict(topo.adapter_problems)["departments[0].cases.adapter"]


def test_a_package_declaring_a_builtin_name_never_takes_it_over_nor_disables_it(site):
    """Installing a package must not change what ``sql`` means for every department,
    nor make it unusable; the package's row says why it is not loaded."""
    from adapters.builtin.sql import SqlSource

    install(site, "tongyuan-adapter-sql", "sql_t_adapter", "sql",
            GOOD_SOURCE.format(cls="SqlCases"), "SqlCases")  # fmt: skip
    entries = [e for e in adapter_entries() if e.name == "sql"]
    assert [e.provider for e in entries] == ["built-in", "tongyuan-adapter-sql 0.1.0"]
    assert entries[0].conflict is None
    assert entries[1].conflict is not None and "always means the built-in" in entries[1].conflict
    assert load_adapter("sql") is SqlSource
    listed = runner.invoke(app, ["adapter", "list"], terminal_width=500)
    rows = [line for line in listed.output.splitlines() if "│ sql " in line]
    assert len(rows) == 2 and sum("always means the built-in" in row for row in rows) == 1


def test_one_package_per_name_still_loads(site):
    install(site, "tongyuan-adapter-fine", "fine_t_adapter", "fine-t",
            GOOD_SOURCE.format(cls="FineCases"), "FineCases")  # fmt: skip
    assert load_adapter("fine-t").__name__ == "FineCases"
    assert load_adapter("files").__name__ == "FilesSource"


@pytest.mark.parametrize("name", ["sql", "http", "files-sink", "files", "sftp"])
def test_the_scaffold_refuses_builtin_names(tmp_path, name):
    with pytest.raises(ScaffoldError, match="built-in adapter's name"):
        create_adapter_package(name, kind="sql", out=tmp_path)
    assert not any(tmp_path.iterdir())
    result = runner.invoke(app, ["adapter", "new", name, "--out", str(tmp_path)])
    assert result.exit_code == 2


# -- one department's broken package leaves the others usable ---------------------------

BROKEN = "114403000040578006"  # the department whose package raises on import


def _two_departments(
    tmp_path: Path,
    *,
    broken_items: bool = False,
    bad_code: bool = False,
    broken: str = "boom-t",
    broken_ref: str | None = None,
) -> Path:
    """Department 0 uses the package raising on import (``broken`` names it; for its
    cases, or its items with ``broken_items``; ``broken_ref`` replaces its whole adapter
    reference), department 1 (the factories' authority) the built-in ``files`` on its own
    drop; ``bad_code`` gives department 1 a USCC failing its check character."""
    from std_factories import AUTHORITY

    outbox = tmp_path / "systems" / "440305" / "outbox"
    outbox.mkdir(parents=True)
    drops = {code: tmp_path / "drops" / code for code in (BROKEN, AUTHORITY)}
    for drop in drops.values():
        drop.mkdir(parents=True)

    def files(code: str, kind: str) -> str:
        return (f'{{adapter: files, config: {{path: "{drops[code]}", settle_seconds: 0, '
                f"streams: {{{kind}s: {{kind: {kind}}}}}}}, stream: {kind}s}}")  # fmt: skip

    boom = broken_ref or f"{{adapter: {broken}, config: {{path: x}}, stream: items}}"
    first = f"source: {boom}" if broken_items else f"cases: {boom}"
    healthy = AUTHORITY[:-1] + ("0" if AUTHORITY[-1] != "0" else "1") if bad_code else AUTHORITY
    path = tmp_path / "two.yaml"
    path.write_text(
        f"""name: two
nodes:
  - code: "440305"
    source: {{adapter: files, config: {{path: "{outbox}", settle_seconds: 0,
              streams: {{items: {{kind: item}}}}}}}}
departments:
  - {{name: 坏包部门, code: "{BROKEN}", node: "440305", {first}}}
  - {{name: 南山区市场监督管理局, code: "{healthy}", node: "440305",
     cases: {files(AUTHORITY, "case")}}}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def hub(site, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A migrated hub on the test's home with the item the factories' cases cite, for
    the CLI (which reads the environment) and the DAG's task functions alike."""
    import base64

    from item_library import publish_items
    from std_factories import make_item

    from tongyuan.config import ENV_PII_KEY, load_settings
    from tongyuan.db import upgrade

    monkeypatch.setenv(ENV_PII_KEY, base64.b64encode(bytes(range(32))).decode())  # a test key
    settings = load_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url)
    publish_items(settings, settings.home / "items-in", [make_item()])
    _install_boom(site)
    return settings


def _deliver_case(topology: Path) -> None:
    from std_factories import AUTHORITY, make_case

    from standards.formats import write_records

    write_records(topology.parent / "drops" / AUTHORITY / "cases_001.xml", [make_case()])


def _stored_cases(settings) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from tongyuan.db import make_engine
    from tongyuan.libraries.cases import CaseRow

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(CaseRow)).scalar_one())
    finally:
        engine.dispose()


def test_ingest_of_a_healthy_department_runs_beside_a_broken_package(hub, tmp_path):
    from std_factories import AUTHORITY

    topology = _two_departments(tmp_path)
    _deliver_case(topology)
    topo = load_topology(topology, home=hub.home)
    (broken,) = [d for d in topo.case_departments if d.problems]
    assert broken.code == BROKEN and "config server unreachable" in broken.problems[0]
    assert not topo.case_department(AUTHORITY).problems

    ok = runner.invoke(app, ["ingest", AUTHORITY, "-t", str(topology)], terminal_width=400)
    assert ok.exit_code == 0, ok.output
    assert _stored_cases(hub) == 1

    # The broken one alone, then all: the healthy one ingested, the broken one named
    # with its package's problem, exit 1, no traceback.
    for args in ([BROKEN], []):
        result = runner.invoke(app, ["ingest", *args, "-t", str(topology)], terminal_width=400)
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert f"{BROKEN} failed" in result.output
        assert "(departments[0].cases.adapter): cannot import adapter module" in result.output
        assert "RuntimeError: config server unreachable at import" in result.output
    assert "committed" in result.output  # the healthy department ran too

    checked = runner.invoke(app, ["sync", "check", "-t", str(topology)], terminal_width=400)
    assert checked.exit_code == 2, checked.output
    assert "departments[0].cases.adapter: cannot import adapter module" in checked.output
    assert "— OK" not in checked.output


def test_the_dag_maps_every_department_and_only_the_broken_task_fails(
    hub, tmp_path, monkeypatch: pytest.MonkeyPatch
):  # type: ignore[no-untyped-def]
    import logging

    from std_factories import AUTHORITY

    from tongyuan.orchestration import tasks

    # The task functions point the hub's logger at the task's stderr: undone after.
    hub_log = logging.getLogger("tongyuan")
    monkeypatch.setattr(hub_log, "propagate", hub_log.propagate)
    monkeypatch.setattr(hub_log, "handlers", list(hub_log.handlers))
    topology = _two_departments(tmp_path)
    _deliver_case(topology)
    path = str(topology)
    assert tasks.case_departments_due(path, run_type="manual", logical_date=None) == [
        BROKEN, AUTHORITY,
    ]  # fmt: skip
    assert tasks.case_schedules(tasks.load(path)) == [tasks.DEFAULT_CASE_SCHEDULE]
    done = tasks.ingest_cases(path, AUTHORITY)
    assert done["counts"]["added"] == 1 and _stored_cases(hub) == 1
    named = r"ingest 114403000040578006 failed: .*cases\.adapter\): cannot import adapter module"
    with pytest.raises(tasks.StepFailed, match=named):
        tasks.ingest_cases(path, BROKEN)


def test_a_broken_department_item_package_fails_its_sync_only(hub, tmp_path):
    topology = _two_departments(tmp_path, broken_items=True)
    result = runner.invoke(app, ["sync", "items", "-t", str(topology)], terminal_width=400)
    assert result.exit_code == 1, result.output
    assert f"sync {BROKEN}: failed" in result.output
    assert "(departments[0].source.adapter): cannot import adapter module" in result.output
    assert "sync 440305: committed" in result.output  # the node itself still syncs
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_mistake_in_the_file_still_refuses_the_whole_topology(hub, tmp_path):
    from std_factories import AUTHORITY

    topology = _two_departments(tmp_path, bad_code=True)
    with pytest.raises(TopologyError) as info:
        load_topology(topology, home=hub.home)
    problems = dict(info.value.problems)
    assert "check character" in problems["departments[1].code"]
    assert "cannot import adapter module" in problems["departments[0].cases.adapter"]
    result = runner.invoke(app, ["ingest", AUTHORITY, "-t", str(topology)], terminal_width=400)
    assert result.exit_code == 2, result.output
    assert "departments[1].code" in result.output and "invalid topology" in result.output


# -- what else a department's code may raise ---------------------------------------------

HEALTHY = "12440300MB2D7543XL"  # department 1 of _topology, on the built-in files


def _subclass(body: str) -> str:
    return f"""
from adapters.builtin.files import FilesSource
from adapters.sdk import AdapterError, ConfigError, ConnectionCheckError

class RCases(FilesSource):
{textwrap.indent(textwrap.dedent(body), "    ")}
"""


@pytest.mark.parametrize(
    ("name", "body", "said"),
    [
        ("down-t", "def streams(self):\n    raise ConnectionCheckError('catalogue service down')",
         "streams() raised ConnectionCheckError: catalogue service down"),
        ("licence-t", "def __init__(self, *a, **k):\n    raise AdapterError('licence server down')",
         "adapter 'licence-t' cannot be created: AdapterError: licence server down"),
        ("exit-s-t", "def streams(self):\n    raise SystemExit(0)",
         "streams() raised SystemExit: 0 (it tried to end the process"),
        ("exit-i-t", "def __init__(self, *a, **k):\n    raise SystemExit(3)",
         "cannot be created from its configuration: SystemExit: 3 (it tried to end"),
        ("intr-t", "def streams(self):\n    raise KeyboardInterrupt",
         "streams() raised KeyboardInterrupt (raised by the package itself"),
        ("genexit-t", "def streams(self):\n    raise GeneratorExit",
         "streams() raised GeneratorExit"),
    ],
)  # fmt: skip
def test_an_adapter_error_or_exit_of_department_code_marks_its_reference_only(
    site, tmp_path, name, body, said
):
    """Before, an AdapterError from the class (a catalogue service down) refused the whole
    topology as a `.config` problem, and a SystemExit / KeyboardInterrupt escaped."""
    module = name.replace("-", "_") + "_adapter"
    install(site, f"tongyuan-adapter-{name}", module, name, _subclass(body), "RCases")
    topo = load_topology(_topology(tmp_path, [name, "files"]), home=tmp_path)
    problems = dict(topo.adapter_problems)
    assert list(problems) == ["departments[0].cases.adapter"]
    assert said in problems["departments[0].cases.adapter"]
    assert not topo.case_department(HEALTHY).problems


@pytest.mark.parametrize(
    ("body", "extra", "where"),
    [
        ("pass", "bogus: 1\n", "departments[0].cases.config.bogus"),  # Config.load refuses
        ("def __init__(self, *a, **k):\n    raise ConfigError('RCases', [('path', 'no')])", "",
         "departments[0].cases.config.path"),
    ],
)  # fmt: skip
def test_a_config_error_stays_the_file_s_problem(site, tmp_path, body, extra, where):
    """What the configuration says wrong refuses the whole topology, whoever finds it."""
    name = f"cfg-{where.rsplit('.', 1)[1]}-t"  # one module per case: imports are cached
    module = name.replace("-", "_") + "_adapter"
    install(site, f"tongyuan-adapter-{name}", module, name, _subclass(body), "RCases")
    topology = _topology(tmp_path, [name])
    config = tmp_path / "cases.yaml"  # the file _topology's departments name
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    with pytest.raises(TopologyError) as info:
        load_topology(topology, home=tmp_path)
    problems = dict(info.value.problems)
    assert where in problems, problems
    assert not any(where.endswith(".adapter") for where in problems)


@pytest.mark.parametrize(
    ("name", "module_text", "said"),
    [
        ("exit0-t", "import sys\nsys.exit(0)\n", "SystemExit: 0 (it tried to end the process"),
        ("argp-t", "import argparse\nargparse.ArgumentParser().parse_args(['--nope'])\n",
         "SystemExit: 2 (it tried to end the process"),
        ("kbd-t", "raise KeyboardInterrupt\n", "KeyboardInterrupt (raised by the package itself"),
    ],
)  # fmt: skip
def test_a_package_exiting_at_import_is_an_adapter_error(site, name, module_text, said):
    module = name.replace("-", "_") + "_adapter"
    install(site, f"tongyuan-adapter-{name}", module, name, module_text, "Cases")
    with pytest.raises(AdapterCodeError, match=f"cannot import adapter module '{module}.source'"):
        load_adapter(name)
    with pytest.raises(AdapterCodeError) as info:  # not cached as imported: fails again
        load_adapter(name)
    assert said in str(info.value)


def test_a_real_ctrl_c_during_an_import_still_stops_the_command(site):
    """Only a KeyboardInterrupt the package raised itself is its failure; one a SIGINT
    raised while its module was importing is the operator's Ctrl-C, and propagates."""
    install(site, "tongyuan-adapter-ctrlc-t", "ctrlc_t_adapter", "ctrlc-t",
            "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n",
            "Cases")  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        load_adapter("ctrlc-t")


@pytest.mark.parametrize(
    ("name", "handling"),
    [("ctrlc-exit-t", "import sys\n    sys.exit(1)"),
     ("ctrlc-error-t", "raise RuntimeError('interrupted')")],
)  # fmt: skip
def test_a_real_ctrl_c_the_package_turns_into_an_exit_still_stops_the_command(site, name, handling):
    """Before, a package catching the Ctrl-C (``except KeyboardInterrupt: sys.exit(1)``)
    was reported as failing with SystemExit and the hub carried on with the next one."""
    module = name.replace("-", "_") + "_adapter"
    text = (
        "import os, signal, time\ntry:\n    os.kill(os.getpid(), signal.SIGINT)\n"
        f"    time.sleep(5)\nexcept KeyboardInterrupt:\n    {handling}\n"
    )
    install(site, f"tongyuan-adapter-{name}", module, name, text, "Cases")
    with pytest.raises(KeyboardInterrupt):
        load_adapter(name)


def test_sync_check_and_ingest_beside_a_package_calling_sys_exit_at_import(hub, site, tmp_path):
    """Before, `sync check` and `ingest` ended with exit 0 and no output at all."""
    from std_factories import AUTHORITY

    install(site, "tongyuan-adapter-exit-t", "exit_t_adapter", "exit-t",
            "import sys\nsys.exit(0)\n", "ExitCases")  # fmt: skip
    topology = _two_departments(tmp_path, broken="exit-t")
    _deliver_case(topology)
    checked = runner.invoke(app, ["sync", "check", "-t", str(topology)], terminal_width=400)
    assert checked.exit_code == 2, checked.output
    assert "departments[0].cases.adapter: cannot import adapter module 'exit_t_adapter" in (
        checked.output
    )
    assert "SystemExit: 0" in checked.output

    result = runner.invoke(app, ["ingest", "-t", str(topology)], terminal_width=400)
    assert result.exit_code == 1, result.output
    assert f"{BROKEN} failed" in result.output and "SystemExit: 0" in result.output
    assert "committed" in result.output and _stored_cases(hub) == 1  # the healthy one ran
    assert not load_topology(topology, home=hub.home).case_department(AUTHORITY).problems


# -- what the file says is checked though the adapter cannot be loaded --------------------


def _refused_with_inline_config(site, tmp_path, adapter: str, inline: str) -> TopologyError:
    """The topology's department configuration replaced by ``inline``, loaded: refused."""
    _install_boom(site)
    topology = _topology(tmp_path, [adapter])
    text = topology.read_text(encoding="utf-8")
    config = str(tmp_path / "cases.yaml")
    topology.write_text(text.replace(f"config: {config}", f"config: {inline}"), encoding="utf-8")
    with pytest.raises(TopologyError) as info:
        load_topology(topology, home=tmp_path)
    return info.value


@pytest.mark.parametrize("adapter", ["filez", "boom-t"])
def test_a_literal_secret_refuses_the_topology_though_the_adapter_is_unusable(
    site, tmp_path, adapter
):
    """Before, a misspelt adapter (or a broken package) hid a password written into the
    department's configuration: the topology loaded with only the adapter line."""
    inline = ('{path: x, auth: {password: "hunter2"}, url: "postgresql://u:pw9@db/cases", '
              'token: "env:DEPT_TOKEN", dsn: "host=db dbname=cases"}')  # fmt: skip
    refusal = _refused_with_inline_config(site, tmp_path, adapter, inline)
    problems = dict(refusal.problems)
    assert sorted(problems) == [
        "departments[0].cases.adapter",
        "departments[0].cases.config.auth.password",
        "departments[0].cases.config.url",
    ]
    refused = problems["departments[0].cases.config.url"]
    assert "secrets are not written into configuration files" in refused
    assert "hunter2" not in str(refusal) and "pw9" not in str(refusal)


def test_the_http_adapter_s_credential_names_are_literal_secrets_without_the_adapter(
    site, tmp_path
):
    """Before, the check without the adapter's class knew a narrower list of its own:
    ``ak``, ``AppSecret``, ``X-Api-Key`` … written literally under a broken package's
    configuration loaded. A column (``key``, ``parent_key``) or key file stays allowed."""
    inline = ('{path: x, ak: "AK9f3", headers: {AppSecret: "s3cr3t", X-Api-Key: "k77", '
              'X-Session-Id: "sid1"}, access_key: "env:DEPT_AK", key: case_id, '
              'parent_key: id, private_key: id_ed25519}')  # fmt: skip
    refusal = _refused_with_inline_config(site, tmp_path, "boom-t", inline)
    problems = dict(refusal.problems)
    assert sorted(problems) == [
        "departments[0].cases.adapter",
        "departments[0].cases.config.ak",
        "departments[0].cases.config.headers.AppSecret",
        "departments[0].cases.config.headers.X-Api-Key",
        "departments[0].cases.config.headers.X-Session-Id",
    ]
    assert not any(secret in str(refusal) for secret in ("AK9f3", "s3cr3t", "k77", "sid1"))


# -- a package's own files, and what its read raises ---------------------------------------


def _scaffolded(site: Path, tmp_path: Path, name: str, kind: str) -> tuple[Path, Path]:
    """`tongyuan adapter new NAME --kind KIND`, installed into ``site`` with its entry
    point: (its adapter.yaml, the mapping.yaml shipped inside its package)."""
    import shutil

    created = create_adapter_package(name, kind=kind, out=tmp_path)
    shutil.move(created.root / created.module, site / created.module)
    _dist_info(site, f"tongyuan-adapter-{name}", created.module, name, created.class_name)
    config = created.root / "adapter.yaml"
    if kind == "sql":  # the scaffold's reference, set only where the kit is run
        config.write_text(config.read_text(encoding="utf-8").replace("env:", "env:T_"))
    return config, site / created.module / "mapping.yaml"


def _break(mapping: Path, breakage: str) -> None:
    text = mapping.read_text(encoding="utf-8")
    if breakage == "yaml":
        mapping.write_text(text + "  bad: [unclosed\n", encoding="utf-8")
    else:  # a standard field that does not exist
        mapping.write_text(text.replace("item_name:", "item_nmae:"), encoding="utf-8")


@pytest.mark.parametrize("kind", ["files", "sql", "http"])
@pytest.mark.parametrize(
    ("breakage", "said"),
    [
        ("yaml", r": line \d+: not valid YAML: while parsing a flow sequence: expected"),
        ("field", r": fields\.item_nmae: 'item_nmae' is not a field of Case"),
    ],
)
def test_a_package_s_own_broken_mapping_marks_its_department_only(
    site, tmp_path, kind, breakage, said
):
    """Before, the ConfigError of the mapping.yaml shipped inside the package refused the
    whole topology as the configuration's mistake: every department's ingest, `sync
    check` and the DAG files stopped over one department's package."""
    from std_factories import AUTHORITY

    name = f"own-{kind}-{breakage}"
    config, mapping = _scaffolded(site, tmp_path, name, kind)
    _break(mapping, breakage)
    topology = _two_departments(
        tmp_path, broken_ref=f'{{adapter: {name}, config: "{config}", stream: cases}}'
    )
    topo = load_topology(topology, home=tmp_path)
    problems = dict(topo.adapter_problems)
    assert list(problems) == ["departments[0].cases.adapter"]
    line = problems["departments[0].cases.adapter"]
    module = name.replace("-", "_") + "_adapter"
    assert re.search(
        f"a file of its package '{module}' is broken: {re.escape(str(mapping))}{said}", line
    ), line
    assert "\n" not in line  # one problem line
    assert not topo.case_department(AUTHORITY).problems

    checked = runner.invoke(app, ["sync", "check", "-t", str(topology)], terminal_width=600)
    assert checked.exit_code == 2, checked.output
    assert f"departments[0].cases.adapter: adapter {module}.source:" in checked.output


def test_ingest_runs_beside_a_package_whose_own_mapping_is_broken(hub, site, tmp_path):
    from std_factories import AUTHORITY

    config, mapping = _scaffolded(site, tmp_path, "own-ingest", "files")
    _break(mapping, "field")
    topology = _two_departments(
        tmp_path, broken_ref=f'{{adapter: own-ingest, config: "{config}", stream: cases}}'
    )
    _deliver_case(topology)
    result = runner.invoke(app, ["ingest", "-t", str(topology)], terminal_width=600)
    assert result.exit_code == 1, result.output
    assert f"{BROKEN} failed" in result.output and f"{mapping}: fields.item_nmae" in result.output
    assert "committed" in result.output and _stored_cases(hub) == 1  # the healthy one ran
    assert not load_topology(topology, home=hub.home).case_department(AUTHORITY).problems


def test_a_mapping_file_the_configuration_names_still_refuses_the_topology(site, tmp_path):
    """The operator's mapping file (named by the department's configuration, outside the
    package) is the configuration's mistake, as before: the whole topology is refused."""
    config, _ = _scaffolded(site, tmp_path, "own-ops", "files")
    ops_mapping = tmp_path / "ops-mapping.yaml"
    ops_mapping.write_text("kind: case\nfields: {a: [\n", encoding="utf-8")
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'streams: {{cases: {{patterns: ["*.csv"], mapping: "{ops_mapping}"}}}}\n',
        encoding="utf-8",
    )
    topology = _two_departments(
        tmp_path, broken_ref=f'{{adapter: own-ops, config: "{config}", stream: cases}}'
    )
    with pytest.raises(TopologyError) as info:
        load_topology(topology, home=tmp_path)
    problems = dict(info.value.problems)
    assert "not valid YAML" in problems["departments[0].cases.config"]
    assert not any(where.endswith(".adapter") for where in problems)


@pytest.mark.parametrize(
    ("adapter", "stream_config"),
    [
        ("sql", "{table: c, mapping: MAPPING}"),
        ("http", "{endpoint: /c, mapping: MAPPING}"),
        ("files", '{patterns: ["*.csv"], mapping: MAPPING}'),
    ],
)
def test_the_refusal_of_an_operator_s_broken_mapping_file_names_the_file(
    tmp_path, adapter, stream_config
):
    """Before, an sql department's broken mapping file came out as
    ``departments[0].cases.config.line 3: not valid YAML: …``: a line of no file named
    (the YAML error no longer carries PyYAML's mark lines, which held the path)."""
    ops = tmp_path / "ops.yaml"
    ops.write_text("kind: case\nfields: {a: [\n", encoding="utf-8")
    connection = {
        "sql": 'url: "env:T_X"',
        "http": 'base_url: "https://x.example"',
        "files": f'path: "{tmp_path}", settle_seconds: 0',
    }[adapter]
    streams = stream_config.replace("MAPPING", f'"{ops}"')
    topology = _two_departments(
        tmp_path,
        broken_ref=f"{{adapter: {adapter}, config: {{{connection}, streams: {{cases: "
        f"{streams}}}}}, stream: cases}}",
    )
    with pytest.raises(TopologyError) as info:
        load_topology(topology, home=tmp_path)
    ((where, message),) = [p for p in info.value.problems if "not valid YAML" in p[1]]
    assert where.startswith("departments[0].cases.config") and "line" not in where
    assert str(ops) in message and "line 3" in message


EXITING_READ = """
import sys

from adapters.builtin.files import FilesSource
from adapters.sdk import StreamRead


class _Exiting(StreamRead):
    def __iter__(self):
        sys.exit(3)  # the department's driver ending "the program" mid-read
        yield

    def state(self):
        return {}


class ExitReadCases(FilesSource):
    stream = "cases"
    kind = "case"

    def read(self, stream, state=None):
        return _Exiting()
"""


def _ingest_beside(  # type: ignore[no-untyped-def]
    hub, site, tmp_path: Path, stem: str, source: str, cls: str, *,
    streams: str = ", streams: {cases: {kind: case}}",
):  # fmt: skip
    """Department 0 on the package ``{stem}-t`` (``source``, class ``cls``) reading its
    own drop, department 1 healthy with a case delivered; ``tongyuan ingest`` of both."""
    name = f"{stem}-t"
    install(site, f"tongyuan-adapter-{name}", f"{stem}_t_adapter", name, source, cls)
    drop = tmp_path / "drops" / BROKEN
    topology = _two_departments(
        tmp_path,
        broken_ref=f'{{adapter: {name}, config: {{path: "{drop}", settle_seconds: 0'
        f"{streams}}}, stream: cases}}",
    )
    assert not load_topology(topology, home=hub.home).case_department(BROKEN).problems
    _deliver_case(topology)
    return topology, runner.invoke(app, ["ingest", "-t", str(topology)], terminal_width=600)


def test_ingest_runs_beside_a_package_whose_read_calls_sys_exit(hub, site, tmp_path):
    """Before, the SystemExit went through the pull's ``except Exception`` and ended the
    ingest of every department (exit 3, the healthy one never ran)."""
    from std_factories import AUTHORITY

    topology, result = _ingest_beside(hub, site, tmp_path, "exitread", EXITING_READ,
                                      "ExitReadCases", streams="")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"{BROKEN} failed" in result.output
    assert "reading raised SystemExit: 3 (it tried to end the process" in result.output
    assert "committed" in result.output and _stored_cases(hub) == 1
    assert load_topology(topology, home=hub.home).case_department(AUTHORITY) is not None


ENDING_READ = """
import sys

from adapters.builtin.files import FilesSource
from adapters.sdk import StreamRead


class _Ending(StreamRead):
    def __init__(self, inner, where):
        self.inner, self.where = inner, where

    def __iter__(self):
        return iter(self.inner)

    def state(self):
        return self.inner.state()

    def commit(self):
        if self.where == "commit":
            sys.exit(5)
        self.inner.commit()

    def close(self):
        self.inner.close()
        if self.where == "close":
            sys.exit(4)


class EndingCases(FilesSource):
    def read(self, stream, state=None):
        return _Ending(super().read(stream, state), "WHERE")
"""


@pytest.mark.parametrize(
    ("where", "exit_code", "said"),
    [
        ("close", 0, "problem: AdapterCodeError: adapter close_t_adapter.source:EndingCases, "
         "stream cases: close() raised SystemExit: 4"),
        ("commit", 1, "commit() raised SystemExit: 5"),
    ],
)  # fmt: skip
def test_ingest_runs_beside_a_package_whose_commit_or_close_calls_sys_exit(
    hub, site, tmp_path, where, exit_code, said
):
    """Before, a SystemExit from close() came out of the pull (after its batch had
    committed) as an AdapterCodeError that ended the ingest of every department: exit
    1, no output, the healthy department's cases never stored."""
    source = ENDING_READ.replace("WHERE", where)
    _, result = _ingest_beside(hub, site, tmp_path, where, source, "EndingCases")
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert said in result.output
    assert "committed" in result.output and _stored_cases(hub) == 1


@pytest.mark.parametrize(
    ("name", "own_handler"),
    [
        ("ctrlc-adapter-t", ""),
        ("ctrlc-own-t", "signal.signal(signal.SIGINT, signal.default_int_handler)\n"),
    ],
)
def test_a_real_ctrl_c_the_class_turns_into_an_adapter_error_still_stops_the_command(
    site, tmp_path, name, own_handler
):
    """Before, a class catching the operator's Ctrl-C while built and raising an
    AdapterError came out as that AdapterError: a problem line of its department, and
    the command went on. With a SIGINT handler of its own the hub cannot note the
    SIGINT: the KeyboardInterrupt in the error's context says it."""
    body = f"""
        def __init__(self, *a, **k):
            import os, signal, time
            {own_handler}
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
            except KeyboardInterrupt:
                raise AdapterError("interrupted while asking the licence server")
    """
    module = name.replace("-", "_") + "_adapter"
    install(site, f"tongyuan-adapter-{name}", module, name, _subclass(body), "RCases")
    with pytest.raises(KeyboardInterrupt):
        load_topology(_topology(tmp_path, [name, "files"]), home=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        load_adapter(name).from_config(_files_config(tmp_path))
