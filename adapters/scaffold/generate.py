"""Writing a department adapter package from the templates.

Templates are plain files with ``__TOKEN__`` placeholders (``__CLASS__``, ``__MODULE__``
…), kept as ``.tmpl`` so no tool mistakes them for code of this project. After writing,
the package's own ``sample.py`` is imported from the new folder to create the sample
data, so the data and the harness the kit later drives come from one definition.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

from adapters.scaffold.names import AdapterNames, ScaffoldError, adapter_names

TEMPLATES = Path(__file__).resolve().parent / "templates"
KINDS: tuple[str, ...] = ("sql", "files", "http")
_CHECK_ENV = {
    "sql": "export __ENV___DB_URL=sqlite:///$PWD/kit.sqlite   # a scratch database\n    ",
    "files": "",
    "http": "",
}


@dataclass(slots=True)
class Scaffolded:
    """What ``create_adapter_package`` wrote."""

    root: Path
    module: str
    class_name: str
    kind: str
    files: list[Path] = field(default_factory=list)


def _layout(names: AdapterNames, kind: str) -> list[tuple[str, str]]:
    """(template, target path inside the package folder) for one kind."""
    pkg = names.module
    return [
        ("common/pyproject.toml.tmpl", "pyproject.toml"),
        ("common/README.md.tmpl", "README.md"),
        ("common/__init__.py.tmpl", f"{pkg}/__init__.py"),
        (f"{kind}/source.py.tmpl", f"{pkg}/source.py"),
        (f"{kind}/sample.py.tmpl", f"{pkg}/sample.py"),
        (f"{kind}/mapping.yaml.tmpl", f"{pkg}/mapping.yaml"),
        (f"{kind}/adapter.yaml.tmpl", "adapter.yaml"),
        (f"{kind}/test_conformance.py.tmpl", "tests/test_conformance.py"),
    ]


def render(text: str, names: AdapterNames, kind: str) -> str:
    """Fill the placeholders of one template."""
    text = text.replace("__CHECK_ENV__", _CHECK_ENV[kind])
    for token, value in (
        ("__DIST__", names.dist),
        ("__MODULE__", names.module),
        ("__CLASS__", names.class_name),
        ("__SYSTEM__", names.system),
        ("__ENV__", names.env_prefix),
        ("__KIND__", kind),
        ("__NAME__", names.name),
    ):
        text = text.replace(token, value)
    return text


def _write_sample(root: Path, names: AdapterNames) -> list[Path]:
    """Run the new package's ``sample.write_sample`` to create its sample data."""
    module_name = f"_tongyuan_scaffold_{names.module}_sample"
    path = root / names.module / "sample.py"
    sys.path.insert(0, str(root))
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return list(module.write_sample(root / "sample"))
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(module_name, None)


def create_adapter_package(name: str, *, kind: str = "sql", out: Path | str = ".") -> Scaffolded:
    """Create ``tongyuan-adapter-NAME`` under ``out``: a package that passes the kit as is.

    Refuses an unusable name, an unknown kind, and a target folder that already exists
    (nothing of an engineer's work is overwritten).
    """
    names = adapter_names(name)
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    out = Path(out)
    if not out.is_dir():
        raise ScaffoldError(f"output folder {out} does not exist")
    root = (out / names.dist).resolve()
    if root.exists():
        raise ScaffoldError(f"{root} already exists; choose another name or folder")
    result = Scaffolded(root, names.module, names.class_name, kind)
    root.mkdir()
    for template, target in _layout(names, kind):
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (TEMPLATES / template).read_text(encoding="utf-8")
        path.write_text(render(text, names, kind), encoding="utf-8")
        result.files.append(path)
    result.files += _write_sample(root, names)
    return result


__all__ = ["KINDS", "TEMPLATES", "Scaffolded", "create_adapter_package", "render"]
