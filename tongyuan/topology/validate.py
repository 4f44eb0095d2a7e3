"""Checking a topology file and building the model from it, with every problem reported.

An engineer editing a topology for a whole province should see all that is wrong in one
run, each problem with its place in the file (``nodes[3].parent``), not fix one error
per attempt. So the checks collect problems and only the end decides: a complete
:class:`~tongyuan.topology.model.Topology`, or :class:`TopologyError` listing them all.

What is checked: the GB/T 2260 codes (structure, and presence in the region table unless
the operator allows unknown regions and names them), levels (declared against implied by
the code), each parent (present, and the one the code's structure names — a district
hangs under its own city), duplicates, cycles, exactly one root, adapters (known, the right
kind, configuration accepted, the stream offered and yielding items), cron schedules,
departments (USCC, node), and the non-secret environment defaults.

Two kinds of problem, two outcomes. What the file says — its YAML, keys, codes, tree,
schedules, secrets, adapter configuration, stream names — refuses the whole topology.
What a department's installed adapter package does — its name resolves to no installed
adapter or to two, its module fails to import (even with ``sys.exit()``), its class is
no adapter or fails while built, its ``streams()`` raises (a ConnectionCheckError from
a catalogue that is down included) — makes only that adapter reference unusable: the
topology loads with the reference marked (:attr:`AdapterRef.problem`, listed in
:attr:`Topology.adapter_problems`), so one department's broken wheel does not stop every
other department's ingestion; ``sync check`` still lists the problem and exits 2, and
running the department fails with it. A ConfigError the class raises stays the file's
problem. Without a usable class its configuration cannot be checked against the
adapter's model, but a literal secret in it still refuses the topology. A node's
adapters are the tree itself and stay strict: their package problems refuse the
topology as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from standards.codes.enums import ExerciseLevel
from standards.codes.regions import RegionLevel, level_of, lookup_region, parent_of
from standards.identifiers import InvalidIdentifier, validate_region_code, validate_uscc
from tongyuan.topology.model import AdapterRef, Department, Node, Topology

Problem = tuple[str, str]

EXERCISE_LEVEL_OF_REGION: dict[RegionLevel, ExerciseLevel] = {
    RegionLevel.PROVINCE: ExerciseLevel.PROVINCE,
    RegionLevel.CITY: ExerciseLevel.CITY,
    RegionLevel.COUNTY: ExerciseLevel.COUNTY,
    RegionLevel.TOWNSHIP: ExerciseLevel.TOWNSHIP,
    RegionLevel.VILLAGE: ExerciseLevel.VILLAGE,
}
LEVEL_WORDS: dict[str, ExerciseLevel] = {
    "province": ExerciseLevel.PROVINCE,
    "city": ExerciseLevel.CITY,
    "county": ExerciseLevel.COUNTY,
    "district": ExerciseLevel.COUNTY,
    "township": ExerciseLevel.TOWNSHIP,
    "village": ExerciseLevel.VILLAGE,
}
# Airflow's cron presets (airflow.utils.dates), which schedules may use instead of cron.
CRON_PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}

TOP_KEYS = frozenset(
    {"name", "title", "allow_unknown_regions", "env_defaults", "node_defaults", "nodes",
     "departments", "trust_dir"}
)  # fmt: skip
NODE_KEYS = frozenset({"code", "name", "level", "parent", "source", "sink", "schedule"})
NODE_DEFAULT_KEYS = frozenset({"source", "sink", "schedule"})
DEPARTMENT_KEYS = frozenset(
    {"name", "code", "node", "source", "streams", "cases", "case_schedule", "signing",
     "signing_ca"}
)  # fmt: skip
SIGNING_CAS = ("shared", "dedicated")
REF_KEYS = frozenset({"adapter", "config", "stream", "snapshot"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_PLACEHOLDERS = ("{home}", "{code}")


class TopologyError(ValueError):
    """The topology cannot be used; ``problems`` lists ``(path in the file, message)``."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {where or '(top level)'}: {msg}" for where, msg in problems)
        super().__init__(f"invalid topology {source}: {len(problems)} problem(s)\n{lines}")


@dataclass(frozen=True, slots=True)
class _Skeleton:
    """What the tree checks need of a node, kept even when its other parts are wrong, so
    one bad adapter does not make its children report a missing parent."""

    code: str
    parent: str | None  # "" when the parent given is not a usable code
    level: ExerciseLevel


@dataclass(slots=True)
class _Context:
    home: Path
    base_dir: Path
    env_defaults: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Problems of departments' adapter packages: they mark one reference unusable.
    broken: list[Problem] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    def add_code(self, where: str, message: str, *, department: bool) -> None:
        """A problem of an adapter's installed code: a department's marks its reference
        unusable (the rest of the topology still loads), a node's refuses the topology."""
        (self.broken if department else self.problems).append((where, message))


def build_topology(
    data: object, *, source: str, home: Path, base_dir: Path, path: Path | None = None
) -> Topology:
    """Check parsed YAML and build the topology; raises TopologyError with every problem."""
    ctx = _Context(home=home, base_dir=base_dir)
    if not isinstance(data, Mapping):
        raise TopologyError(source, [("", "the top level must be a mapping with name and nodes")])
    for key in sorted(set(map(str, data)) - TOP_KEYS):
        ctx.add(key, f"unknown key (known: {', '.join(sorted(TOP_KEYS))})")

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        ctx.add("name", "give the topology a name (a short word such as shenzhen)")
        name = "?"
    title = data.get("title")
    if title is not None and not isinstance(title, str):
        ctx.add("title", "must be text")
        title = None
    allow_unknown = data.get("allow_unknown_regions", False)
    if not isinstance(allow_unknown, bool):
        ctx.add("allow_unknown_regions", "must be true or false")
        allow_unknown = False

    ctx.env_defaults = _env_defaults(data.get("env_defaults"), ctx)
    node_defaults = _node_defaults(data.get("node_defaults"), ctx)

    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        ctx.add("nodes", "give a non-empty list of nodes")
        raw_nodes = []
    nodes: dict[str, Node] = {}
    skeletons: dict[str, _Skeleton] = {}
    where_of: dict[str, str] = {}
    for i, raw in enumerate(raw_nodes):
        where = f"nodes[{i}]"
        skeleton, node = _node(raw, where, node_defaults, allow_unknown, ctx)
        if skeleton is None:
            continue
        if skeleton.code in skeletons:
            first = where_of[skeleton.code]
            ctx.add(f"{where}.code", f"duplicate node {skeleton.code} (first at {first})")
            continue
        skeletons[skeleton.code] = skeleton
        where_of[skeleton.code] = where
        if node is not None:
            nodes[node.code] = node
    _check_tree(skeletons, where_of, ctx)

    departments = _departments(data.get("departments"), skeletons, ctx)
    trust_dir = _trust_dir(data.get("trust_dir"), ctx)
    if ctx.problems:
        raise TopologyError(source, sorted(ctx.problems + ctx.broken, key=_file_order))
    return Topology(
        name=name,
        nodes=nodes,
        departments=[d for d in departments if d.source is not None],
        title=title,
        path=path,
        home=home,
        case_only_departments=[d for d in departments if d.source is None],
        trust_dir=trust_dir,
        adapter_problems=sorted(ctx.broken, key=_file_order),
    )


def _trust_dir(raw: object, ctx: _Context) -> Path | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        ctx.add("trust_dir", "give the trust directory's path (anchors/, intermediates/, crls/)")
        return None
    path = Path(_expand(raw.strip(), ctx.home, None)).expanduser()
    return path if path.is_absolute() else (ctx.base_dir / path).resolve()


_INDEXED = re.compile(r"^(\w+)\[(\d+)\]")
_SECTIONS = ("", "name", "title", "allow_unknown_regions", "env_defaults", "node_defaults",
             "nodes", "departments", "trust_dir")  # fmt: skip


def _file_order(problem: Problem) -> tuple[int, int]:
    """Problems in the order of the file: by section, then entry (stable within an entry)."""
    where = problem[0]
    match = _INDEXED.match(where)
    section = match.group(1) if match else where.split(".")[0]
    rank = _SECTIONS.index(section) if section in _SECTIONS else len(_SECTIONS)
    return rank, int(match.group(2)) if match else -1


# -- parts -------------------------------------------------------------------------------


def _env_defaults(raw: object, ctx: _Context) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        ctx.add("env_defaults", "must map variable names to values")
        return {}
    out: dict[str, str] = {}
    for key, value in raw.items():
        where = f"env_defaults.{key}"
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            ctx.add(where, "not an environment variable name")
            continue
        if not isinstance(value, str):
            ctx.add(where, "must be text")
            continue
        value = _expand(value, ctx.home, None)
        if _has_password(value):
            ctx.add(
                where,
                "holds a password; secrets never go into the topology: set the variable in "
                "the environment (or use an airflow: connection) instead",
            )
            continue
        out[key] = value
    return out


# A password given as a keyword: a URL's query (``?password=…``, ``&pwd=…``) or a libpq
# key/value connection string (``host=db password=…``), in any case.
_PASSWORD_KEYWORD = re.compile(r"(?:^|[\s?&;])(?:password|passwd|pwd)\s*=\s*[^\s&;]", re.I)


def _has_password(value: str) -> bool:
    """Whether a default value carries a password, in any of the forms drivers accept:
    ``user:password@`` in a URL, ``password=`` in its query, or a libpq key/value string."""
    if _PASSWORD_KEYWORD.search(value):
        return True
    if "://" not in value:
        return False
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(value).password is not None
    except (ArgumentError, ValueError):
        # Not a SQLAlchemy URL; a user:password@ part still counts.
        return bool(re.search(r"://[^/@\s]*:[^/@\s]*@", value))


def _node_defaults(raw: object, ctx: _Context) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        ctx.add("node_defaults", "must be a mapping (source, sink, schedule)")
        return {}
    for key in sorted(set(map(str, raw)) - NODE_DEFAULT_KEYS):
        ctx.add(f"node_defaults.{key}", "unknown key (known: schedule, sink, source)")
    return {k: v for k, v in raw.items() if k in NODE_DEFAULT_KEYS}


def _node(
    raw: object,
    where: str,
    defaults: Mapping[str, Any],
    allow_unknown: bool,
    ctx: _Context,
) -> tuple[_Skeleton | None, Node | None]:
    if not isinstance(raw, Mapping):
        ctx.add(where, "a node is a mapping (code, name, parent, source, sink, schedule)")
        return None, None
    for key in sorted(set(map(str, raw)) - NODE_KEYS):
        ctx.add(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(NODE_KEYS))})")
    code = _code(raw.get("code"), f"{where}.code", ctx)
    if code is None:
        return None, None
    problems_before = len(ctx.problems)

    region = lookup_region(code)
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        ctx.add(f"{where}.name", "must be non-empty text")
        name = None
    if region is None and not (allow_unknown and name):
        ctx.add(
            f"{where}.code",
            f"region {code} is not in the GB/T 2260 table (standards/codes/regions.csv "
            "and TONGYUAN_REGIONS_FILE); add it there, or — if the code is real and "
            "only missing from the table — give the node's name and set "
            "allow_unknown_regions: true",
        )
    name = name or (region.name if region else code)

    implied = EXERCISE_LEVEL_OF_REGION[level_of(code)]
    level = implied
    raw_level = raw.get("level")
    if raw_level is not None:
        declared = _level(raw_level)
        if declared is None:
            ctx.add(
                f"{where}.level",
                f"unknown level {raw_level!r}: use province, city, county (district), "
                "township, village, or the 行使层级 code 2–6",
            )
        elif declared is not implied:
            ctx.add(
                f"{where}.level",
                f"{code} is a {implied.label} code by its structure, declared {declared.label}",
            )

    parent = raw.get("parent")
    if parent is not None:
        parent = _code(parent, f"{where}.parent", ctx) or ""
    skeleton = _Skeleton(code, parent, level)

    schedule = raw.get("schedule", defaults.get("schedule"))
    if schedule is not None:
        schedule = _schedule(schedule, f"{where}.schedule", ctx)

    raw_source = raw.get("source", defaults.get("source"))
    source = None
    if raw_source is None:
        ctx.add(f"{where}.source", "give the adapter that reads the node's item system")
    else:
        source, _ = _ref(raw_source, f"{where}.source", code, "source", ctx, want_items=True)
    raw_sink = raw.get("sink", defaults.get("sink"))
    sink = None
    if raw_sink is not None:
        sink, _ = _ref(raw_sink, f"{where}.sink", code, "sink", ctx)

    if len(ctx.problems) > problems_before or source is None:
        return skeleton, None
    return skeleton, Node(code, name, level, parent, source, sink, schedule)


def _code(value: object, where: str, ctx: _Context) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # YAML reads 440300 as a number
    if not isinstance(value, str) or not value.strip():
        ctx.add(where, 'give a GB/T 2260 region code (6 digits, quoted: "440300")')
        return None
    try:
        validate_region_code(value.strip())
    except InvalidIdentifier as exc:
        ctx.add(where, str(exc))
        return None
    return value.strip()


def _level(value: object) -> ExerciseLevel | None:
    text = str(value).strip().lower()
    if text in LEVEL_WORDS:
        return LEVEL_WORDS[text]
    try:
        return ExerciseLevel(text)
    except ValueError:
        return None


def _schedule(value: object, where: str, ctx: _Context) -> str | None:
    if not isinstance(value, str) or not value.strip():
        ctx.add(where, 'a schedule is a cron expression in quotes, e.g. "0 2 * * *"')
        return None
    text = " ".join(value.split())
    cron = CRON_PRESETS.get(text, text)
    from croniter import croniter

    if cron.startswith("@") or len(cron.split()) != 5 or not croniter.is_valid(cron):
        presets = ", ".join(CRON_PRESETS)
        ctx.add(
            where,
            f"{value!r} is not a cron expression: give five fields (minute hour day month "
            f'weekday), e.g. "30 1 * * *", or one of {presets}',
        )
        return None
    return text


def _signing_ca(item: Mapping[str, Any], signing: bool, where: str, ctx: _Context) -> str:
    """Who issues a signing department's certificate; ``shared`` unless said otherwise.

    It decides whether a certificate naming no USCC may sign the department's deliveries
    (only under a dedicated CA), so a misspelt value is an error, never a silent default.
    """
    value = item.get("signing_ca")
    if value is None:
        return "shared"
    if value not in SIGNING_CAS:
        ctx.add(
            f"{where}.signing_ca",
            f"{value!r} is not a signing CA: give shared (a CA that certifies other "
            "departments too; the certificate must name the department's USCC) or dedicated "
            "(the department's own CA, trusted under anchors/<code>/)",
        )
        return "shared"
    if not signing:
        ctx.add(f"{where}.signing_ca", "only a department with signing: true has a signing CA")
    return str(value)


def _ref(
    raw: object,
    where: str,
    code: str | None,
    role: str,
    ctx: _Context,
    *,
    want_items: bool = False,
    want_kind: str | None = None,
    department: bool = False,
) -> tuple[AdapterRef | None, list[str] | None]:
    """An adapter reference, with the adapter loaded and its configuration checked.

    Also returns the stream names a source offers (None for a sink or on a problem). A
    department's reference whose package is broken comes back marked with its problem
    (see the module's docstring), without streams.
    """
    if not isinstance(raw, Mapping):
        ctx.add(where, "give {adapter: NAME, config: {...} or FILE, stream: items}")
        return None, None
    for key in sorted(set(map(str, raw)) - REF_KEYS):
        ctx.add(f"{where}.{key}", "unknown key (known: adapter, config, stream, snapshot)")
    adapter = raw.get("adapter")
    stream = raw.get("stream", "items")
    if not isinstance(stream, str) or not stream:
        ctx.add(f"{where}.stream", "must be a stream name")
        return None, None
    if not isinstance(adapter, str) or not adapter.strip():
        ctx.add(f"{where}.adapter", "give the adapter's name (sql, files, … or module:Class)")
        return None, None
    snapshot = raw.get("snapshot", False)
    if not isinstance(snapshot, bool):
        ctx.add(f"{where}.snapshot", "must be true or false")
        return None, None
    config, base_dir = _config(raw.get("config"), f"{where}.config", code, ctx)
    if config is None:
        return None, None
    ref = AdapterRef(adapter.strip(), config, stream, base_dir, ctx.env_defaults, snapshot)
    before, broken_before = len(ctx.problems), len(ctx.broken)
    offered = _check_adapter(
        ref, where, role, ctx, want_kind="item" if want_items else want_kind, department=department
    )
    if len(ctx.problems) != before:
        return None, offered
    if len(ctx.broken) != broken_before:
        return replace(ref, problem=ctx.broken[-1]), None
    return ref, offered


def _config(
    raw: object, where: str, code: str | None, ctx: _Context
) -> tuple[dict[str, Any] | None, Path]:
    if raw is None:
        return {}, ctx.base_dir
    if isinstance(raw, Mapping):
        return _expand(dict(raw), ctx.home, code), ctx.base_dir
    if isinstance(raw, str):
        path = Path(_expand(raw, ctx.home, code)).expanduser()
        if not path.is_absolute():
            path = ctx.base_dir / path
        import yaml

        from standards.safe_yaml import problem_and_line, read_yaml_file

        # The same loader as the topology's own: a key given twice, an alias or deep
        # nesting in the referenced file is refused with its line, as it would be inline.
        try:
            loaded = read_yaml_file(path)
        except OSError as exc:
            ctx.add(where, f"cannot read the adapter configuration {path}: {exc.strerror}")
            return None, ctx.base_dir
        except UnicodeDecodeError as exc:
            line = exc.object[: exc.start].count(b"\n") + 1
            ctx.add(where, f"{path}, line {line}: not UTF-8 (save the file as UTF-8)")
            return None, ctx.base_dir
        except yaml.YAMLError as exc:
            problem, line = problem_and_line(exc)
            at = f", line {line}" if line is not None else ""
            ctx.add(where, f"{path}{at}: {problem}")
            return None, ctx.base_dir
        if not isinstance(loaded, Mapping):
            ctx.add(where, f"{path}: the top level must be a mapping")
            return None, ctx.base_dir
        return _expand(dict(loaded), ctx.home, code), path.resolve().parent
    ctx.add(where, "give the configuration inline (a mapping) or the path of a YAML file")
    return None, ctx.base_dir


def _expand(value: Any, home: Path, code: str | None) -> Any:
    """Replace ``{home}`` and ``{code}`` in every string; other braces are left alone."""
    if isinstance(value, str):
        if "{home}" in value:
            value = value.replace("{home}", str(home))
        if code is not None and "{code}" in value:
            value = value.replace("{code}", code)
        return value
    if isinstance(value, Mapping):
        return {k: _expand(v, home, code) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, home, code) for v in value]
    return value


def _check_adapter(
    ref: AdapterRef,
    where: str,
    role: str,
    ctx: _Context,
    *,
    want_kind: str | None,
    department: bool = False,
) -> list[str] | None:
    """Load the adapter, check its configuration; return the source's stream names.

    What the installed code does wrong is reported through ``ctx.add_code`` (a
    department's: its reference only); what the file says wrong through ``ctx.add``. A
    ConfigError is the configuration's problem wherever the class raises it; any other
    AdapterError its code raises while built or listing its streams (a catalogue service
    down: ConnectionCheckError) is the installed code's, like an exception.
    """
    from adapters.sdk import Sink, Source
    from adapters.sdk.registry import available_adapters

    known = available_adapters()
    if ref.adapter not in known and ":" not in ref.adapter:
        # A typo and a package not installed on this machine look alike here.
        ctx.add_code(
            f"{where}.adapter",
            f"unknown adapter {ref.adapter!r} (known: {', '.join(sorted(known))}; or "
            "module:Class, or install the department's adapter package)",
            department=department,
        )
        _check_without_class(ref, where, ctx)
        return None
    cls = _load(ref, where, ctx, department=department)
    if cls is None:
        return None
    wanted = Source if role == "source" else Sink
    if not issubclass(cls, wanted):
        ctx.add(f"{where}.adapter", f"{ref.adapter!r} is a {_role_of(cls)}, not a {role}")
        return None
    adapter = _open(ref, where, ctx, department=department)
    if not isinstance(adapter, Source):
        return None
    specs = _streams(adapter, ref, where, ctx, department=department)
    if specs is None:
        return None
    if ref.stream not in specs:
        ctx.add(
            f"{where}.stream",
            f"adapter {ref.adapter!r} offers no stream {ref.stream!r} with this configuration "
            f"(streams: {', '.join(specs) or 'none'})",
        )
        return None
    if want_kind is not None and specs[ref.stream].kind != want_kind:
        what = (
            "a node's item system must yield items"
            if want_kind == "item"
            else (f"a case system's stream must yield {want_kind} records")
        )
        ctx.add(
            f"{where}.stream",
            f"stream {ref.stream!r} yields {specs[ref.stream].kind} records; {what}",
        )
        return None
    return list(specs)


def _load(ref: AdapterRef, where: str, ctx: _Context, *, department: bool) -> type | None:
    """The adapter's class; None (the problem added) when its package cannot give one."""
    from adapters.sdk import AdapterError
    from adapters.sdk.registry import load_adapter

    try:
        return load_adapter(ref.adapter)
    except AdapterError as exc:  # import failed, two providers, not an adapter class
        ctx.add_code(f"{where}.adapter", str(exc), department=department)
        _check_without_class(ref, where, ctx)
        return None


def _open(ref: AdapterRef, where: str, ctx: _Context, *, department: bool) -> object | None:
    """The adapter built from its configuration; None (the problem added) when it cannot
    be: a ConfigError is the file's, anything else the installed code's."""
    from adapters.sdk import AdapterCodeError, AdapterError, ConfigError

    try:
        return ref.open()
    except ConfigError as exc:
        other = _other_file(exc, ref)
        for path, message in exc.problems:
            if other is None:
                ctx.add(f"{where}.config" + (f".{path}" if path else ""), message)
            else:  # a mapping file it names: the problem is in that file, say which
                ctx.add(f"{where}.config", f"{other}: " + (f"{path}: " if path else "") + message)
    except AdapterCodeError as exc:  # the class itself failed, not its configuration
        ctx.add_code(f"{where}.adapter", str(exc), department=department)
    except AdapterError as exc:  # its own check failed (a licence server down …)
        message = f"adapter {ref.adapter!r} cannot be created: {type(exc).__name__}: {exc}"
        ctx.add_code(f"{where}.adapter", message, department=department)
    return None


def _other_file(exc: Any, ref: AdapterRef) -> str | None:
    """The file a ConfigError from building the adapter is about, when it is not the
    configuration itself (a ``mapping:`` file it names): its problems' places are lines
    of that file, not keys of the configuration, and the message must name it. A
    source that is no file (a class's own name for what it checks) is the configuration's."""
    own = {f"adapter {ref.adapter!r}", str(ref.config)}
    if isinstance(ref.config, Path):
        own.add(str(ref.config.resolve()))
    source = str(exc.source)
    return None if source in own or not Path(source).is_file() else source


def _streams(
    adapter: Any, ref: AdapterRef, where: str, ctx: _Context, *, department: bool
) -> dict[str, Any] | None:
    """The source's streams by name; None (the problem added) when ``streams()`` fails.

    ``streams()`` is the department's code: a catalogue it asks being down
    (ConnectionCheckError), even a SystemExit, marks its reference, not the topology; so
    does a broken mapping file shipped inside its package (the ``files`` adapter loads
    the mapping here). A mapping file the configuration names is the file's problem.
    """
    from adapters.sdk.department_code import department_code

    with department_code() as failed:
        try:
            return {spec.name: spec for spec in adapter.streams()}
        except BaseException as exc:
            if not failed(exc):  # a real Ctrl-C, whatever the package made of it
                raise
            _streams_failed(exc, adapter, ref, where, ctx, department=department)
    return None


def _streams_failed(
    exc: BaseException,
    adapter: Any,
    ref: AdapterRef,
    where: str,
    ctx: _Context,
    *,
    department: bool,
) -> None:
    """Add the problem of a ``streams()`` that raised ``exc``: the configuration's for a
    ConfigError about its own file, else the installed code's."""
    from adapters.sdk import ConfigError
    from adapters.sdk.department_code import failure_text, package_file_error

    shipped = package_file_error(type(adapter), exc)
    if shipped is None and isinstance(exc, ConfigError):  # a mapping file it names, say
        ctx.add(f"{where}.config", str(exc))
        return
    message = str(shipped or f"adapter {ref.adapter!r}: streams() raised {failure_text(exc)}")
    ctx.add_code(f"{where}.adapter", message, department=department)


def _check_without_class(ref: AdapterRef, where: str, ctx: _Context) -> None:
    """What can be checked of a configuration whose adapter is unknown or unusable here:
    no literal secret in it. A file problem, so it refuses the topology as it would with
    the adapter installed (its model, streams and kinds cannot be checked without it)."""
    if not isinstance(ref.config, Mapping):  # pragma: no cover - _config reads files
        return
    from adapters.builtin.http_config import credential_name
    from adapters.sdk.config import is_secret_ref

    stack: list[tuple[Any, str]] = [(ref.config, f"{where}.config")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, Mapping):
            stack.extend((v, f"{path}.{k}") for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((v, f"{path}.{i}") for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, str) and value.strip() and not is_secret_ref(value.strip()):
            # The http adapter's credential names (ak, AppSecret, X-Api-Key, ticket …):
            # one list, not a narrower one of its own that missed them.
            key = path.rsplit(".", 1)[-1]
            if credential_name(key, bare_key=False) or _has_password(value):
                ctx.add(path, _NO_LITERAL_SECRETS)


_NO_LITERAL_SECRETS = (
    "secrets are not written into configuration files; give a reference instead: "
    "'env:VARIABLE_NAME' or 'airflow:CONNECTION_ID' (checked though the adapter cannot be "
    "loaded here)"
)


def _role_of(cls: type) -> str:
    from adapters.sdk import Sink

    return "sink" if issubclass(cls, Sink) else "source"


def _check_tree(nodes: dict[str, _Skeleton], where_of: dict[str, str], ctx: _Context) -> None:
    roots = [c for c, n in nodes.items() if n.parent is None]
    for code, node in nodes.items():
        where = f"{where_of[code]}.parent"
        if not node.parent:
            continue
        if node.parent == code:
            ctx.add(where, f"node {code} is its own parent")
            continue
        if node.parent not in nodes:
            ctx.add(where, f"parent {node.parent} of {code} is not a node of this topology")
            continue
        expected = parent_of(code)
        if node.parent != expected:
            parent = nodes[node.parent]
            ctx.add(
                where,
                f"parent {node.parent} ({parent.level.label}) is at the wrong level for "
                f"{code} ({node.level.label}): by the structure of its code (GB/T 2260) "
                f"the parent of {code} is {expected}",
            )
    # Cycles: walk up from every node; a walk that comes back to a node seen in the same
    # walk has found a cycle. Each cycle is reported once, at its first node in the file.
    reported: set[frozenset[str]] = set()
    for start in nodes:
        seen: list[str] = []
        code: str | None = start
        while code and code in nodes and code not in seen:
            seen.append(code)
            code = nodes[code].parent
        if code and code in seen:
            cycle = seen[seen.index(code) :]
            key = frozenset(cycle)
            if len(cycle) == 1 or key in reported:  # a node its own parent: said above
                continue
            reported.add(key)
            first = min(cycle, key=lambda c: list(nodes).index(c))
            ring = cycle[cycle.index(first) :] + cycle[: cycle.index(first)] + [first]
            ctx.add(f"{where_of[first]}.parent", "cycle: " + " → ".join(ring))
    if nodes and not roots:
        ctx.add("nodes", "no root: every node has a parent (the top node has parent: null)")
    if len(roots) > 1:
        listing = ", ".join(f"{c} at {where_of[c]}" for c in roots)
        ctx.add("nodes", f"more than one root (nodes without a parent): {listing}")


def _departments(raw: object, nodes: Mapping[str, object], ctx: _Context) -> list[Department]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.add("departments", "must be a list")
        return []
    out: list[Department] = []
    seen: dict[str, str] = {}
    for i, item in enumerate(raw):
        where = f"departments[{i}]"
        if not isinstance(item, Mapping):
            ctx.add(where, "a department is a mapping (name, code, node, source, streams)")
            continue
        for key in sorted(set(map(str, item)) - DEPARTMENT_KEYS):
            ctx.add(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(DEPARTMENT_KEYS))})")
        before = len(ctx.problems)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            ctx.add(f"{where}.name", "give the department's name")
        code = item.get("code")
        if not isinstance(code, str):
            ctx.add(f"{where}.code", "give the department's USCC (18 characters, quoted)")
            code = None
        else:
            try:
                code = validate_uscc(code)
            except InvalidIdentifier as exc:
                ctx.add(f"{where}.code", str(exc))
                code = None
            else:
                if code in seen:
                    ctx.add(f"{where}.code", f"duplicate department {code} (first at {seen[code]})")
                seen.setdefault(code, where)
        node = _code(item.get("node"), f"{where}.node", ctx)
        if node is not None and node not in nodes:
            ctx.add(f"{where}.node", f"{node} is not a node of this topology")
        raw_source = item.get("source")
        source = streams_offered = None
        raw_cases = item.get("cases")
        cases = None
        if raw_cases is not None:
            if isinstance(raw_cases, Mapping) and "stream" not in raw_cases:
                raw_cases = {**raw_cases, "stream": "cases"}
            cases, _ = _ref(
                raw_cases, f"{where}.cases", node, "source", ctx, want_kind="case", department=True
            )
        if raw_source is None:
            if raw_cases is None:
                ctx.add(
                    f"{where}.source",
                    "give the adapter that reads the department's system (source: for its "
                    "item system, cases: for its case system)",
                )
        else:
            source, streams_offered = _ref(
                raw_source, f"{where}.source", node, "source", ctx, department=True
            )
        case_schedule = item.get("case_schedule")
        if case_schedule is not None:
            if raw_cases is None:
                ctx.add(f"{where}.case_schedule", "only a department with cases: has one")
            case_schedule = _schedule(case_schedule, f"{where}.case_schedule", ctx)
        signing = item.get("signing", False)
        if not isinstance(signing, bool):
            ctx.add(f"{where}.signing", "must be true or false")
            signing = False
        elif signing and raw_cases is None:
            ctx.add(f"{where}.signing", "signed deliveries apply to a case system (cases:)")
        signing_ca = _signing_ca(item, signing, where, ctx)
        streams = item.get("streams")
        if streams is None:
            streams = [source.stream] if source is not None else []
        if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
            ctx.add(f"{where}.streams", "must be a list of stream names")
            streams = []
        elif streams_offered is not None:
            for j, stream in enumerate(streams):
                if stream not in streams_offered:
                    ctx.add(
                        f"{where}.streams[{j}]",
                        f"the adapter offers no stream {stream!r} (streams: "
                        f"{', '.join(streams_offered)})",
                    )
        if raw_source is None and item.get("streams") is None:
            streams = []
        if len(ctx.problems) == before and (source or cases) is not None and code and node:
            out.append(
                Department(
                    name.strip(),  # type: ignore[union-attr]
                    code,
                    node,
                    source,
                    list(streams),
                    cases=cases,
                    case_schedule=case_schedule,
                    signing=signing,
                    signing_ca=signing_ca,
                )
            )
    return out
