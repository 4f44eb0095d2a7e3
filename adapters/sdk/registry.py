"""Finding adapters: built-in names, installed packages (entry points), or ``module:Class``.

A department ships its adapter as its own package and registers it under the entry-point
group ``tongyuan.adapters``::

    [project.entry-points."tongyuan.adapters"]
    market-cases = "market_adapter.source:MarketCases"

after which the hub can refer to it by name (``market-cases``) in its topology.

A name must mean one adapter. A built-in name always means the built-in adapter: a
package declaring one is never loaded under it (its row in ``adapter list`` says why),
so installing a package can neither take over nor disable ``sql``, ``files`` … for every
department. When two packages declare the same other name, that name is refused wherever
it is used (``adapter list``, ``pull``, ``adapter check``, the topology checks) with
both providers named: picking one by install order would run another department's code
under this name and share its stored state. A department package is the department's
own code: whatever it raises on import or while the class is built (a SystemExit
included) is reported as an :class:`AdapterError` naming the adapter, never as a
traceback — or an exit — that stops the hub's other work.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from adapters.sdk.department_code import department_code, failure_text
from adapters.sdk.errors import AdapterCodeError, AdapterError
from adapters.sdk.sink import Sink
from adapters.sdk.source import Source

ENTRY_POINT_GROUP = "tongyuan.adapters"

BUILTIN: dict[str, str] = {
    "sql": "adapters.builtin.sql:SqlSource",
    "files": "adapters.builtin.files:FilesSource",
    "sftp": "adapters.builtin.sftp:SftpSource",
    "http": "adapters.builtin.http:HttpSource",
    "files-sink": "adapters.builtin.files_sink:FilesSink",
}
BUILTIN_PROVIDER = "built-in"

_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True, slots=True)
class Provided:
    """One adapter name as one provider declares it.

    ``provider`` is ``built-in`` or the installed distribution with its version
    (``tongyuan-adapter-market-cases 0.1.0``); ``conflict`` says why the name cannot be
    used when another provider declares it too (None when the name is unambiguous).
    """

    name: str
    target: str
    provider: str
    conflict: str | None = None


def _provider(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:  # pragma: no cover - entry points read from a distribution have one
        return "an installed package"
    return f"{dist.name} {dist.version}"


def _conflict(name: str, providers: list[Provided]) -> str:
    both = " and ".join(
        f"the hub's built-in {p.target}"
        if p.provider == BUILTIN_PROVIDER
        else f"{p.provider} ({p.target})"
        for p in providers
    )
    if providers[0].provider == BUILTIN_PROVIDER:
        return (
            f"adapter name {name!r} is declared by {both}; {name!r} is a built-in "
            "adapter's name and always means the built-in: rename the package's entry "
            "point (and the topology's references to it)"
        )
    fix = "uninstall one, or rename its entry point (and the references to it)"
    return f"adapter name {name!r} is declared by {both}; the hub will not pick one: {fix}"


def _with_conflicts(entries: Iterable[Provided]) -> list[Provided]:
    by_name: dict[str, list[Provided]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
    out: list[Provided] = []
    for name, providers in by_name.items():
        if len(providers) == 1:
            out.extend(providers)
            continue
        message = _conflict(name, providers)
        for p in providers:
            # The built-in keeps its name; only the packages declaring it are marked.
            marked = None if p.provider == BUILTIN_PROVIDER else message
            out.append(Provided(p.name, p.target, p.provider, conflict=marked))
    return out


def adapter_entries() -> list[Provided]:
    """Every adapter name with its provider, built-ins first; a name declared by more than
    one provider appears once per provider, each marked with the conflict."""
    found = [Provided(name, target, BUILTIN_PROVIDER) for name, target in BUILTIN.items()]
    found += [
        Provided(ep.name, ep.value, _provider(ep)) for ep in entry_points(group=ENTRY_POINT_GROUP)
    ]
    return _with_conflicts(found)


def available_adapters() -> dict[str, str]:
    """Every adapter name the hub knows, mapped to its ``module:Class``.

    A name with more than one provider is listed (it is known, only unusable) with its
    first provider's target; :func:`load_adapter` refuses it.
    """
    found: dict[str, str] = {}
    for entry in adapter_entries():
        found.setdefault(entry.name, entry.target)
    return found


def adapter_label(cls: type) -> str:
    """``module:Class`` of an adapter class, as messages and quarantine origins name it."""
    return f"{cls.__module__}:{cls.__qualname__}"


def load_adapter(ref: str) -> type[Source] | type[Sink]:
    """The adapter class for a registered name or a ``module:Class`` reference.

    Raises AdapterError for an unknown or ambiguous name, a module that cannot be imported
    (whatever it raises: ImportError, SyntaxError, RuntimeError …, also SystemExit from a
    ``sys.exit()`` or ``argparse`` at import — see :mod:`adapters.sdk.department_code`),
    or a target that is not a Source or Sink subclass.
    """
    entries = [entry for entry in adapter_entries() if entry.name == ref]
    if entries and entries[0].conflict is not None:  # a built-in comes first, unmarked
        raise AdapterError(entries[0].conflict)
    target = entries[0].target if entries else ref
    if not _REF.match(target):
        known = ", ".join(sorted(available_adapters()))
        raise AdapterError(f"unknown adapter {ref!r}: give module:Class or one of {known}")
    module_name, class_name = target.split(":")
    named = f" (adapter {ref!r} of {entries[0].provider})" if entries else ""
    with department_code() as failed:
        try:
            module = importlib.import_module(module_name)
        except BaseException as exc:  # the department's code: even sys.exit() at import
            if not failed(exc):
                raise
            raise AdapterCodeError(
                f"cannot import adapter module {module_name!r}{named}: {_error_text(exc)}"
            ) from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Source | Sink)):
        raise AdapterError(f"{target}{named} is not a Source or Sink subclass")
    return cls


def _error_text(exc: BaseException) -> str:
    """``RuntimeError: text`` (a SyntaxError's own text already names file and line); an
    ImportError keeps its plain text as before (``No module named 'x'``)."""
    if isinstance(exc, ImportError):
        return str(exc)
    return failure_text(exc)


__all__ = [
    "BUILTIN",
    "BUILTIN_PROVIDER",
    "ENTRY_POINT_GROUP",
    "Provided",
    "adapter_entries",
    "adapter_label",
    "available_adapters",
    "load_adapter",
]
