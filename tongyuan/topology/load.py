"""Reading a topology file: YAML with duplicate keys refused, ``{home}`` expanded, checked.

PyYAML keeps the last of two equal keys without a word; in a topology that silently
drops a node's parent or adapter, so a repeated key is an error with its line here. The
file goes through the hub's one configuration loader (:mod:`standards.safe_yaml`), which
also refuses aliases — nine lines of them stand for gigabytes once ``{home}`` expansion
copies what they share — and nesting no one writes by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from standards.safe_yaml import MAX_BYTES, FileTooLarge, load_yaml
from tongyuan.topology.model import Topology
from tongyuan.topology.validate import TopologyError, build_topology

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
DEFAULT_EXAMPLE = "shenzhen"


_NODES_KEY = re.compile(r"^nodes\s*:", re.MULTILINE)


def _is_topology(path: Path) -> bool:
    """Whether a shipped YAML file is a topology (it has top-level ``nodes:``); the
    examples folder also holds the adapter mappings the topologies refer to."""
    return bool(_NODES_KEY.search(path.read_text(encoding="utf-8")))


def example_names() -> list[str]:
    """The names of the shipped example topologies (shenzhen, lanzhou), sorted."""
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.yaml") if _is_topology(p))


def example_path(name: str = DEFAULT_EXAMPLE) -> Path:
    """The shipped example topology ``name`` (shenzhen, lanzhou)."""
    path = EXAMPLES_DIR / f"{name}.yaml"
    if not path.is_file() or not _is_topology(path):
        known = ", ".join(example_names())
        raise FileNotFoundError(f"no shipped topology {name!r} (shipped: {known})")
    return path


def load_topology(path: Path | str, *, home: Path | str | None = None) -> Topology:
    """Read, expand and check a topology file.

    ``home`` is what ``{home}`` stands for in the file; by default the data directory of
    the environment's settings (``TONGYUAN_HOME``). Raises TopologyError listing every
    problem with its place in the file.
    """
    path = Path(path).expanduser()
    source = str(path)
    if home is None:
        from tongyuan.config import load_settings

        home_dir = load_settings().home
    else:
        home_dir = Path(home).expanduser().resolve()
    try:
        if path.stat().st_size > MAX_BYTES:
            raise TopologyError(source, [("", str(FileTooLarge(path, MAX_BYTES)))])
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyError(source, [("", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        # Saved as GBK by an editor, say: name the place, ask for UTF-8.
        line = exc.object[: exc.start].count(b"\n") + 1
        raise TopologyError(
            source,
            [(f"line {line}", "cannot read the file (not UTF-8): save it as UTF-8")],
        ) from None
    try:
        data = load_yaml(text, name=source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise TopologyError(source, [(where, str(exc.problem or exc))]) from None
    except yaml.YAMLError as exc:
        raise TopologyError(source, [("", f"not valid YAML: {exc}")]) from None
    return build_topology(
        data, source=source, home=home_dir, base_dir=path.resolve().parent, path=path.resolve()
    )
