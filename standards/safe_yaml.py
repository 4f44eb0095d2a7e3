"""The one YAML loader for configuration files: safe, bounded, and strict about keys.

Topologies, adapter configurations and mappings are written by people and reviewed, but
they are still input: a file of two kilobytes with nine levels of nested aliases
(``b: [*a, *a, …]``) stands for 9⁹ strings, and whatever walks the loaded document —
``{home}`` expansion, pydantic validation — copies every one of them until memory runs
out. Anchors and aliases buy nothing in a configuration that ``node_defaults`` and
mapping files do not already give, so an alias is refused where it stands, before
anything is built; so is nesting deeper than anyone writes by hand (PyYAML's composer
recurses and would end in a RecursionError, not a message), a file larger than any
configuration, and — because PyYAML silently keeps the last of two equal keys, which
drops a node's parent or an adapter's path without a word — a key given twice. Merge
keys (``<<``) go with aliases: inline they only hide which value a key has.

Every refusal is a :class:`yaml.MarkedYAMLError`, so callers that already report YAML
errors with their line keep doing so, and the message names the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node

# Deeper than any hand-written configuration (the shipped ones reach 6), far below the
# depth at which PyYAML's recursive composer exhausts Python's stack.
MAX_DEPTH = 64
# Larger than any configuration, mapping or calendar file; a bigger file is a mistake
# (a data file given by error) and would be read whole into memory.
MAX_BYTES = 16 * 1024 * 1024


class StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases, deep nesting and keys given twice.

    Subclasses may change how scalars resolve (the mapping files keep them as text) or
    collect duplicate keys instead of refusing them (override ``construct_mapping``);
    the alias and depth limits are in ``compose_node`` and stay.
    """

    def __init__(self, stream: str, name: str | None = None) -> None:
        super().__init__(stream)
        if name is not None:
            self.name = name  # marks made from now on name the file, not "<unicode string>"
        self._depth = 0

    def compose_node(self, parent: Node | None, index: object) -> Node | None:  # type: ignore[override]
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None,
                None,
                f"alias *{event.anchor} refused: configuration files may not use YAML "
                "aliases (a few lines of them can stand for gigabytes); write the value "
                "out, or use node_defaults in a topology",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} levels deep; a configuration file is "
                    "never nested this far",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, tuple[object, int]] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                # Merging is what aliases are for; inline it merely hides a key.
                raise ConstructorError(
                    None,
                    None,
                    "merge key << refused: configuration files may not merge mappings; "
                    "write the keys out, or use node_defaults in a topology",
                    key_node.start_mark,
                )
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    first, first_line = seen[key]
                    # 1 and true (or 1 and 1.0) load as one dict key: say so, not "twice".
                    same = (
                        f"key {key!r} is given twice"
                        if repr(first) == repr(key)
                        else (f"keys {first!r} and {key!r} are the same key once loaded")
                    )
                    raise ConstructorError(
                        None, None, f"{same} (lines {first_line} and {line})", key_node.start_mark
                    )
            except TypeError:  # an unhashable key; SafeLoader reports it itself
                break
            seen[key] = (key, line)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def load_yaml(
    text: str, *, name: str | None = None, loader: type[StrictSafeLoader] = StrictSafeLoader
) -> Any:
    """One YAML document through ``loader``; ``name`` (the file) appears in error marks.

    Raises :class:`yaml.YAMLError` (a :class:`yaml.MarkedYAMLError` with the line for
    every refusal of this module).
    """
    instance = loader(text, name)
    try:
        return instance.get_single_data()
    finally:
        instance.dispose()  # type: ignore[no-untyped-call]


def read_yaml_file(
    path: Path | str,
    *,
    max_bytes: int = MAX_BYTES,
    loader: type[StrictSafeLoader] = StrictSafeLoader,
) -> Any:
    """A configuration file's document, the file named in every error mark.

    Raises OSError (unreadable), UnicodeDecodeError (not UTF-8), :class:`FileTooLarge`,
    or :class:`yaml.YAMLError`.
    """
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(path, max_bytes)
    return load_yaml(data.decode("utf-8"), name=str(path), loader=loader)


class FileTooLarge(yaml.YAMLError):
    """A configuration file larger than any configuration (see :data:`MAX_BYTES`)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        super().__init__(
            f"{path} is larger than {max_bytes // (1024 * 1024)} MiB; a configuration "
            "file is never this large (was a data file given by mistake?)"
        )


def problem_and_line(exc: yaml.YAMLError) -> tuple[str, int | None]:
    """The message of a YAML error without PyYAML's mark lines, and its line (1-based)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or str(exc)
        if exc.context and exc.problem:
            problem = f"{exc.context}: {exc.problem}"
        return problem, (mark.line + 1 if mark is not None else None)
    return str(exc), None


__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "FileTooLarge",
    "StrictSafeLoader",
    "load_yaml",
    "problem_and_line",
    "read_yaml_file",
]
