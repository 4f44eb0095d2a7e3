"""Topology validation: every kind of problem is reported, all at once, with its path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tongyuan.topology import TopologyError, load_topology

SRC = '{adapter: files, config: {path: "{home}/s/{code}", streams: {items: {kind: item}}}}'
SINK = '{adapter: files-sink, config: {path: "{home}/s/{code}/inbox"}}'


def _write(tmp_path: Path, body: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def _problems(tmp_path: Path, body: str) -> list[tuple[str, str]]:
    with pytest.raises(TopologyError) as info:
        load_topology(_write(tmp_path, body), home=tmp_path / "home")
    text = str(info.value)
    for where, message in info.value.problems:
        assert message in text and where in text
    return info.value.problems


def _one(problems: list[tuple[str, str]], where: str, fragment: str) -> None:
    hits = [m for w, m in problems if w == where and fragment in m]
    assert hits, f"no problem at {where} containing {fragment!r}; got {problems}"


def _nodes(*lines: str) -> str:
    return f"name: t\nnode_defaults: {{source: {SRC}}}\nnodes:\n" + "\n".join(lines) + "\n"


def test_a_valid_minimal_topology(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _nodes(
            '  - {code: "440300", parent: null, sink: ' + SINK + "}",
            '  - {code: "440305", parent: "440300", schedule: "@daily"}',
            '  - code: "440306"',
            '    parent: "440300"',
            "    source:",
            "      adapter: files",
            "      snapshot: true",
            '      config: {path: "{home}/s/{code}", streams: {items: {kind: item}}}',
        ),
    )
    topo = load_topology(path, home=tmp_path / "home")
    assert topo.node("440305").schedule == "@daily"
    assert topo.node("440305").source.config["path"] == f"{(tmp_path / 'home').resolve()}/s/440305"
    assert topo.node("440300").sink is not None and topo.node("440305").sink is None
    assert topo.root.code == "440300"  # a city-only deployment is a valid tree
    assert topo.node("440306").source.snapshot and not topo.node("440305").source.snapshot


def test_district_parent_must_be_its_city(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _nodes(
            '  - {code: "440000"}',
            '  - {code: "440300", parent: "440000"}',
            '  - {code: "620100", parent: "440000"}',  # another province's city
            '  - {code: "440305", parent: "440000"}',  # skips its city
            '  - {code: "440306", parent: "440305"}',  # a district under a district
        ),
    )
    _one(problems, "nodes[2].parent", "the parent of 620100 is 620000")
    _one(problems, "nodes[3].parent", "440000 (省级) is at the wrong level for 440305 (县级)")
    _one(problems, "nodes[3].parent", "the parent of 440305 is 440300")
    _one(problems, "nodes[4].parent", "parent 440305 (县级) is at the wrong level")
    assert len(problems) == 3


def test_declared_level_must_match_the_code(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _nodes(
            '  - {code: "440000", level: province}',
            '  - {code: "440300", parent: "440000", level: "4"}',
            '  - {code: "440305", parent: "440300", level: district}',
            '  - {code: "440306", parent: "440300", level: borough}',
        ),
    )
    _one(problems, "nodes[1].level", "440300 is a 市级 code by its structure, declared 县级")
    _one(problems, "nodes[3].level", "unknown level 'borough'")
    assert len(problems) == 2


def test_cycles_are_reported_once(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _nodes(
            '  - {code: "440000"}',
            '  - {code: "620000", parent: "620100"}',
            '  - {code: "620100", parent: "620000"}',
            '  - {code: "440300", parent: "440300"}',
        ),
    )
    _one(problems, "nodes[1].parent", "cycle: 620000 → 620100 → 620000")
    assert sum("cycle" in m for _, m in problems) == 1
    _one(problems, "nodes[3].parent", "440300 is its own parent")


def test_duplicates_missing_parents_and_roots(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _nodes(
            '  - {code: "440000"}',
            '  - {code: "620000"}',
            '  - {code: "440305", parent: "440300"}',
            '  - {code: "440000"}',
        ),
    )
    _one(problems, "nodes[3].code", "duplicate node 440000 (first at nodes[0])")
    _one(problems, "nodes[2].parent", "parent 440300 of 440305 is not a node of this topology")
    _one(problems, "nodes", "more than one root")
    _one(problems, "nodes", "440000 at nodes[0], 620000 at nodes[1]")


def test_a_tree_without_root(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _nodes('  - {code: "440300", parent: "440000"}'))
    _one(problems, "nodes", "no root")


def test_region_codes(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _nodes(
            '  - {code: "440000"}',
            '  - {code: "445300", parent: "440000"}',  # well-formed city, not in the table
            '  - {code: "4403", parent: "440000"}',
            '  - {code: "990000"}',  # no such province
            '  - {code: "449900", parent: "440000"}',  # city part out of range
            '  - {parent: "440000"}',
        ),
    )
    _one(problems, "nodes[1].code", "region 445300 is not in the GB/T 2260 table")
    _one(problems, "nodes[1].code", "allow_unknown_regions: true")
    _one(problems, "nodes[2].code", "must be 6 or 12 digits")
    _one(problems, "nodes[3].code", "'99' is not a province-level division")
    _one(problems, "nodes[4].code", "city part '99'")
    _one(problems, "nodes[5].code", "give a GB/T 2260 region code")


def test_unknown_regions_need_a_name_and_the_operators_consent(tmp_path: Path) -> None:
    body = _nodes(
        '  - {code: "440000"}',
        '  - {code: "445300", parent: "440000", name: 云浮市}',
    )
    problems = _problems(tmp_path, body)
    _one(problems, "nodes[1].code", "region 445300 is not in the GB/T 2260 table")
    assert len(problems) == 1
    unnamed = "allow_unknown_regions: true\n" + body.replace(", name: 云浮市", "")
    _one(_problems(tmp_path, unnamed), "nodes[1].code", "give the node's name")
    allowed = "allow_unknown_regions: true\n" + body
    topo = load_topology(_write(tmp_path, allowed), home=tmp_path)
    assert topo.node("445300").name == "云浮市"


def test_adapters(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        f"""\
        name: t
        nodes:
          - code: "440000"
            source: {{adapter: filez, config: {{}}}}
          - code: "440300"
            parent: "440000"
            source: {SINK}
          - code: "440305"
            parent: "440300"
            source: {{adapter: files, config: {{streams: {{items: {{kind: item}}}}, bogus: 1}}}}
          - code: "440306"
            parent: "440300"
            source:
              adapter: files
              stream: licences
              config: {{path: x, streams: {{items: {{kind: item}}}}}}
          - code: "440307"
            parent: "440300"
            source: {{adapter: files, config: {{path: x, streams: {{items: {{kind: case}}}}}}}}
            sink: {{adapter: files, config: {{path: x, streams: {{items: {{kind: item}}}}}}}}
          - code: "440304"
            parent: "440300"
            source: {{adapter: "no_such_module:Source"}}
          - code: "440303"
            parent: "440300"
            source: {{adapter: files, config: no-such-file.yaml, extra: 1}}
          - code: "440308"
            parent: "440300"
            source: {{adapter: files, snapshot: yes please, config: {{path: x}}}}
        """,
    )
    _one(problems, "nodes[0].source.adapter", "unknown adapter 'filez'")
    _one(problems, "nodes[0].source.adapter", "files, files-sink, http, sftp, sql")
    _one(problems, "nodes[1].source.adapter", "'files-sink' is a sink, not a source")
    _one(problems, "nodes[2].source.config.path", "required")
    _one(problems, "nodes[2].source.config.bogus", "Extra inputs")
    _one(problems, "nodes[3].source.stream", "offers no stream 'licences'")
    _one(problems, "nodes[4].source.stream", "yields case records")
    _one(problems, "nodes[4].sink.adapter", "'files' is a source, not a sink")
    _one(problems, "nodes[5].source.adapter", "cannot import adapter module 'no_such_module'")
    _one(problems, "nodes[6].source.config", "cannot read the adapter configuration")
    _one(problems, "nodes[6].source.extra", "unknown key")
    _one(problems, "nodes[7].source.snapshot", "true or false")
    # Each node's problems are reported, yet the children of a node with a bad adapter
    # do not report their parent as missing.
    assert not [m for w, m in problems if "not a node of this topology" in m]


def test_adapter_configuration_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    config = 'path: "{home}/drops/{code}"\nstreams: {items: {kind: item}}\n'
    _write(tmp_path / "cfg", config, "a.yaml")
    node = '{code: "440300", source: {adapter: files, config: cfg/a.yaml}}'
    path = _write(tmp_path, f"name: t\nnodes:\n  - {node}\n")
    topo = load_topology(path, home=tmp_path / "h")
    ref = topo.node("440300").source
    assert ref.config["path"] == f"{(tmp_path / 'h').resolve()}/drops/440300"
    assert ref.base_dir == (tmp_path / "cfg").resolve()


def test_schedules(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _nodes(
            '  - {code: "440000", schedule: "0 2 * * *"}',
            '  - {code: "440300", parent: "440000", schedule: "61 * * * *"}',
            '  - {code: "440305", parent: "440300", schedule: "0 0 * * * *"}',
            '  - {code: "440306", parent: "440300", schedule: "@fortnightly"}',
            '  - {code: "440307", parent: "440300", schedule: 5}',
            '  - {code: "440304", parent: "440300", schedule: "*/15 8-18 * * 1-5"}',
        ),
    )
    _one(problems, "nodes[1].schedule", "'61 * * * *' is not a cron expression")
    _one(problems, "nodes[2].schedule", "five fields")
    _one(problems, "nodes[3].schedule", "@hourly, @daily")
    _one(problems, "nodes[4].schedule", "in quotes")
    assert len(problems) == 4


def test_departments(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        f"""\
        name: t
        nodes:
          - {{code: "440300", source: {SRC}}}
        departments:
          - name: 深圳市市场监督管理局
            code: "114403000040578006"
            node: "440300"
            source: {SRC}
            streams: [items, cases]
          - name: ""
            code: "91110000600037341X"
            node: "440305"
            source: {{adapter: sql, config: {{url: "sqlite:///x.db"}}}}
          - name: 重复
            code: "114403000040578006"
            node: "440300"
            source: {SRC}
          - {{name: x, code: 114403000040578006, node: "440300"}}
          - just text
        """,
    )
    _one(problems, "departments[0].streams[1]", "offers no stream 'cases'")
    _one(problems, "departments[1].name", "give the department's name")
    _one(problems, "departments[1].code", "USCC check character")
    # A USCC is an authority's public code, not a personal ID: shown as given, so the
    # operator can find the department (only what can be a citizen ID is masked).
    assert "91110000600037341X" in str(problems)
    _one(problems, "departments[1].node", "440305 is not a node of this topology")
    _one(problems, "departments[1].source.config.url", "env:VARIABLE_NAME")
    _one(problems, "departments[2].code", "duplicate department 114403000040578006")
    _one(problems, "departments[3].code", "18 characters, quoted")
    _one(problems, "departments[3].source", "give the adapter")
    _one(problems, "departments[4]", "a department is a mapping")


CASES = (
    '{adapter: files, config: {path: "{home}/d/{code}", '
    'streams: {cases: {kind: case, patterns: ["cases_*.xml"]}}}}'
)


def _signing_department(tmp_path: Path, *settings: str) -> Path:
    body = f'name: t\nnodes:\n  - {{code: "440300", source: {SRC}}}\ndepartments:\n'
    body += '  - {name: 深圳市市场监督管理局, code: "114403000040578006", node: "440300", '
    body += f"cases: {CASES}{''.join(', ' + s for s in settings)}}}\n"
    return _write(tmp_path, body)


def test_signing_ca_is_shared_unless_declared_dedicated(tmp_path: Path) -> None:
    """Who issues the signer's certificate decides whether it must name the USCC."""
    shared = load_topology(_signing_department(tmp_path, "signing: true"), home=tmp_path)
    assert shared.case_department("114403000040578006").signing_ca == "shared"
    path = _signing_department(tmp_path, "signing: true", "signing_ca: dedicated")
    assert (
        load_topology(path, home=tmp_path).case_department("114403000040578006").signing_ca
        == "dedicated"
    )
    with pytest.raises(TopologyError) as info:
        load_topology(
            _signing_department(tmp_path, "signing: true", "signing_ca: own"), home=tmp_path
        )
    _one(info.value.problems, "departments[0].signing_ca", "'own' is not a signing CA: give shared")
    with pytest.raises(TopologyError) as info:
        load_topology(_signing_department(tmp_path, "signing_ca: dedicated"), home=tmp_path)
    _one(info.value.problems, "departments[0].signing_ca", "only a department with signing: true")


def test_env_defaults_never_hold_secrets(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _nodes('  - {code: "440300"}').replace(
            "nodes:",
            "env_defaults:\n"
            '  DB_OK: "sqlite:///{home}/x.db"\n'
            '  DB_PW: "postgresql://hub:s3cret@db.example/hub"\n'
            '  "bad name": x\n'
            "nodes:",
        ),
    )
    _one(problems, "env_defaults.DB_PW", "holds a password")
    _one(problems, "env_defaults.bad name", "not an environment variable name")
    assert "s3cret" not in str(problems)
    assert len(problems) == 2


@pytest.mark.parametrize(
    "value",
    [
        "postgresql+psycopg://hub@db.example/hub?password=s3cret",
        "postgresql://hub@db.example/hub?sslmode=require&PASSWORD=s3cret",
        "host=db.example user=hub password=s3cret dbname=hub",
        "Server=db;Uid=hub;Pwd=s3cret",
    ],
)
def test_env_defaults_refuse_a_password_in_any_form(tmp_path: Path, value: str) -> None:
    problems = _problems(
        tmp_path,
        _nodes('  - {code: "440300"}').replace(
            "nodes:", f'env_defaults:\n  DB_URL: "{value}"\nnodes:'
        ),
    )
    assert len(problems) == 1
    _one(problems, "env_defaults.DB_URL", "holds a password")
    assert "s3cret" not in str(problems)


def test_a_topology_not_in_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes(_nodes('  - {code: "440300", name: 深圳市}').encode("gbk"))
    with pytest.raises(TopologyError) as caught:
        load_topology(path, home=tmp_path)
    [(where, message)] = caught.value.problems
    assert where.startswith("line ") and message.startswith("cannot read the file (not UTF-8)")


def test_file_level_problems(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "nodes: []\nbogus: 1\nallow_unknown_regions: maybe\n")
    _one(problems, "name", "give the topology a name")
    _one(problems, "nodes", "non-empty list")
    _one(problems, "bogus", "unknown key")
    _one(problems, "allow_unknown_regions", "true or false")
    _one(_problems(tmp_path, "- a list\n"), "", "top level must be a mapping")
    _one(_problems(tmp_path, "name: [unclosed\n"), "line 2", "")
    with pytest.raises(TopologyError, match="cannot read the file"):
        load_topology(tmp_path / "missing.yaml", home=tmp_path)


def test_a_key_given_twice_is_refused_with_its_lines(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        f"""\
        name: t
        nodes:
          - code: "440300"
            parent: null
            source: {SRC}
            parent: "440000"
        """,
    )
    assert problems == [("line 6", "key 'parent' is given twice (lines 4 and 6)")]


def test_all_problems_come_in_file_order(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _nodes(
            '  - {code: "440300", parent: "440000", schedule: bad}',
            '  - {code: "440305", parent: "440300", level: city, schedule: bad}',
        ),
    )
    order = [w.split(".")[0] for w, _ in problems]
    assert order == sorted(order, key=lambda w: (w != "nodes", w))


# Nine levels of nine aliases stand for 9**9 strings; {home} expansion used to copy them all.
_LEAF = '"{home}lol"'
_BOMB = "".join(
    f"  {name}: &{name} [{', '.join([f'*{prev}' if prev else _LEAF] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
)


def _config_file_node(config: str) -> str:
    node = f'{{code: "440300", source: {{adapter: files, config: {config}}}}}'
    return f"name: t\nnodes:\n  - {node}\n"


def test_an_alias_bomb_in_an_inline_adapter_config_is_refused_at_once(tmp_path: Path) -> None:
    body = (
        f'name: t\nx:\n{_BOMB}nodes:\n  - code: "440300"\n    source:\n'
        '      adapter: files\n      config:\n        path: "{home}/s"\n'
        "        streams: {items: {kind: item}}\n        extra: *i\n"
    )
    problems = _problems(tmp_path, body)
    assert problems == [("line 4", problems[0][1])]
    assert "alias *a refused" in problems[0][1]


def test_an_alias_bomb_in_an_adapter_config_file_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, f'x:\n{_BOMB}path: "{{home}}/s"\nextra: *i\n', "bomb.yaml")
    problems = _problems(tmp_path, _config_file_node("bomb.yaml"))
    _one(problems, "nodes[0].source.config", "bomb.yaml, line 3: alias *a refused")


def test_a_key_given_twice_in_an_adapter_config_file_is_refused(tmp_path: Path) -> None:
    config = 'path: "{home}/a"\nstreams: {items: {kind: item}}\npath: "{home}/b"\n'
    _write(tmp_path, config, "a.yaml")
    problems = _problems(tmp_path, _config_file_node("a.yaml"))
    twice = "a.yaml, line 3: key 'path' is given twice (lines 1 and 3)"
    _one(problems, "nodes[0].source.config", twice)


def test_an_adapter_config_file_not_in_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes("path: x\n# 注释\n".encode("gbk"))
    problems = _problems(tmp_path, _config_file_node("a.yaml"))
    _one(problems, "nodes[0].source.config", "a.yaml, line 2: not UTF-8")


def test_nesting_no_one_writes_by_hand_is_refused_with_its_line(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "name: t\nnodes: " + "[" * 5000 + "\n")
    assert problems[0][0] == "line 2" and "nested more than 64 levels" in problems[0][1]
