"""A mapping compiled to one Python function of straight-line code.

The engine's closures (one per field, one per group) are the reference: they say what a
mapping does. Per row they cost a call per field, a loop per group and a transform chain
per value, which on streams of millions is most of the mapping's time. This module turns
the plans the engine records next to its closures into the source of one function that
builds the record dict directly: one ``try`` per field, the transforms inlined, the
converters (code tables, date formats, types) called as bound locals. Every finding is
built with the same rule, message and field path as the closures build it; anything
without a plan (from_columns lists, lists of plain values) and every unusual path (an
absent column, a dotted path, child rows that are not a list) calls the closure itself.

Safety: the mapping is configuration, so nothing from it becomes code. Column names,
field names and child-row names appear only as ``repr()`` string literals; defaults,
constants, code tables and converters are passed in as arguments of a factory function
(the generated code refers to them as ``k0``, ``k1``…). The names of the generated
variables are our own.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from datetime import datetime
from typing import Any

from adapters.mapping import transforms
from standards.validation import Finding

Build = Callable[[AbcMapping[str, Any], list[Finding]], dict[str, Any]]

# Text transforms written inline, as transforms.py has them for a str. Each gives a str
# again, so a run of them shares one isinstance check.
_ON_TEXT: dict[Callable[[Any], Any], str] = {
    transforms.trim: "v = v.strip()",
    transforms.upper: "v = v.upper()",
    transforms.lower: "v = v.lower()",
    transforms.halfwidth: "if not v.isascii():\n    v = nfkc('NFKC', v)",
    transforms.strip_separators: "v = separators('', v)",
}
_NONE_IF_EMPTY = "if isinstance(v, str) and (not v or v.isspace()):\n    v = None"


class _Writer:
    def __init__(self, plans: Any) -> None:
        self.plans = plans
        self.lines: list[str] = []
        self.bound: list[Any] = []
        self.counter = 0

    def bind(self, value: Any) -> str:
        """A local name for an object the code uses (never its text in the code)."""
        self.bound.append(value)
        return f"k{len(self.bound) - 1}"

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def emit(self, indent: int, code: str) -> None:
        for line in code.split("\n"):
            self.lines.append("    " * indent + line)

    # -- groups -----------------------------------------------------------------------

    def group(self, builder: Any, row: str, out: str, prefix: str, where: str, indent: int) -> None:
        """Code leaving the group's dict in ``out``; ``prefix``/``where`` are expressions."""
        plan = self.plans.get(builder)
        self.emit(indent, f"{out} = {{}}")
        if type(plan).__name__ != "GroupPlan":
            fn = self.bind(builder)
            self.emit(indent, f"{out} = {fn}({row}, findings, {prefix}, {where})")
            return
        for name, getter, field in plan.scalars:
            self.scalar(getter, name, field, row, out, prefix, where, indent)
        for name, composite in plan.composites:
            self.composite(composite, name, row, out, prefix, where, indent)

    def scalar(
        self,
        getter: Any,
        name: str,
        field: str,
        row: str,
        out: str,
        prefix: str,
        where: str,
        indent: int,
    ) -> None:
        plan = self.plans.get(getter)
        kind = type(plan).__name__
        if kind == "ConstPlan":
            if plan.value is not None:
                self.emit(indent, f"{out}[{name!r}] = {self.bind(plan.value)}")
            return
        fn = self.bind(getter)
        path = _join(prefix, repr(field))
        text = "exc.text" if where == "''" else f"exc.text + {where}"
        self.emit(indent, "try:")
        if kind != "GetterPlan":
            self.emit(indent + 1, f"v = {fn}({row})")
        else:
            self.emit(indent + 1, f"try:\n    v = {row}[{plan.column!r}]")
            self.emit(indent + 1, f"except (KeyError, TypeError):\n    v = {fn}({row})")
            self.emit(indent + 1, "else:")
            self.value(plan, indent + 2)
        self.emit(indent, "except Failure as exc:")
        self.emit(indent + 1, f"findings.append(Finding(exc.rule, {text}, {path}))")
        self.emit(indent, f"else:\n    if v is not None:\n        {out}[{name!r}] = v")

    def value(self, plan: Any, indent: int) -> None:
        """The body of ``_getter`` for a value found in the row (same order of steps)."""
        if plan.as_text:
            as_text = self.bind(plan.convert)
            self.emit(indent, f"if type(v) is not str and v is not None:\n    v = {as_text}(v)")
        on_text: list[str] = []
        for transform in (*plan.transforms, None):
            code = _ON_TEXT.get(transform) if transform is not None else None
            if code is not None:
                on_text.append(code)
                continue
            if on_text:
                self.emit(indent, "if isinstance(v, str):")
                for line in on_text:
                    self.emit(indent + 1, line)
                on_text = []
            if transform is transforms.none_if_empty:
                self.emit(indent, _NONE_IF_EMPTY)
            elif transform is not None:
                self.emit(indent, f"v = {self.bind(transform)}(v)")
        default = "None" if plan.default is None else self.bind(plan.default)
        self.emit(
            indent,
            f'if v is None or v == "" or (isinstance(v, str) and v.isspace()):\n    v = {default}',
        )
        if plan.convert is None or plan.as_text:
            return
        convert = self.bind(plan.convert)
        convert_plan = self.plans.get(plan.convert)
        if type(convert_plan).__name__ == "CodePlan":
            # The exact code first; the converter itself handles padding, blanks, misses.
            table = self.bind(convert_plan.table)
            self.emit(indent, "else:")
            self.emit(
                indent + 1,
                f"try:\n    v = {table}[v if type(v) is str else str(v)]\n"
                f"except KeyError:\n    v = {convert}(v)",
            )
        elif type(convert_plan).__name__ == "DatetimePlan":
            # A naive datetime from the driver gets the zone; text and the rest go to the
            # converter (formats, blanks, offsets, findings).
            zone = self.bind(convert_plan.zone)
            self.emit(indent, "else:")
            self.emit(
                indent + 1,
                "if type(v) is datetime and v.tzinfo is None and not v.fold:\n"
                "    v = datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, "
                f"v.microsecond, {zone})\n"
                f"else:\n    v = {convert}(v)",
            )
        else:
            self.emit(indent, f"else:\n    v = {convert}(v)")

    def composite(
        self, builder: Any, name: str, row: str, out: str, prefix: str, where: str, indent: int
    ) -> None:
        plan = self.plans.get(builder)
        kind = type(plan).__name__
        if kind == "NestedPlan":
            inner = self.fresh("o")
            self.group(
                plan.builder, row, inner, _join(prefix, repr(f"{plan.head}.")), where, indent
            )
            self.emit(indent, f"if {inner}:\n    {out}[{name!r}] = {inner}")
            return
        fn = self.bind(builder)
        fallback = (
            f"v = {fn}({row}, findings, {prefix}, {where})\n"
            f"if v is not None:\n    {out}[{name!r}] = v"
        )
        if kind != "RowsPlan" or plan.item is None:
            self.emit(indent, fallback)
            return
        # Child rows: the common case (a list of dicts) inline, anything else by the closure.
        children, items, position, child, item = (
            self.fresh(stem) for stem in ("c", "l", "p", "r", "o")
        )
        base = _join(prefix, repr(f"{plan.leaf}."))
        self.emit(indent, f"{children} = {row}.get({plan.rows!r})")
        self.emit(indent, f"if type({children}) is list:")
        self.emit(indent + 1, f"{items} = []")
        self.emit(indent + 1, f"for {position}, {child} in enumerate({children}):")
        self.emit(
            indent + 2,
            f"if type({child}) is not dict and not isinstance({child}, AbcMapping):\n"
            f"    findings.append(not_a_row({plan.rows!r}, {position}, {child}, {base}))\n"
            f"    continue",
        )
        item_prefix = _join(base, f"str({position})", "'.'")
        item_where = _join(repr(f" ({plan.rows} row "), f"str({position} + 1)", "')'")
        self.group(plan.item, child, item, item_prefix, item_where, indent + 2)
        self.emit(indent + 2, f"{items}.append({item})")
        self.emit(indent + 1, f"{out}[{name!r}] = {items}")
        self.emit(indent, "else:")
        self.emit(indent + 1, fallback)


def _join(*parts: str) -> str:
    """Concatenation of string expressions, dropping empty literals."""
    kept = [p for p in parts if p not in ("''", '""')]
    return " + ".join(kept) if kept else "''"


def compile_build(builder: Any, plans: Any, failure: type[Exception], not_a_row: Any) -> Build:
    """One function ``build(row, findings) -> dict`` doing what ``builder(row, findings, "",
    "")`` does. ``plans`` maps the engine's closures to their plans."""
    writer = _Writer(plans)
    writer.group(builder, "row", "o0", "''", "''", 2)
    writer.emit(2, "return o0")
    params = ", ".join(f"k{i}" for i in range(len(writer.bound)))
    source = "\n".join(
        [
            "def factory(Failure, Finding, AbcMapping, datetime, nfkc, separators, not_a_row,",
            f"            {params}):",
            "    def build(row, findings):",
            *writer.lines,
            "    return build",
        ]
    )
    namespace: dict[str, Any] = {"__builtins__": __builtins__}
    code = compile(source, "<mapping>", "exec")
    exec(code, namespace)  # noqa: S102 - our own code; the mapping's text is only in literals
    from unicodedata import normalize

    build: Build = namespace["factory"](
        failure,
        Finding,
        AbcMapping,
        datetime,
        normalize,
        transforms.SEPARATORS.sub,
        not_a_row,
        *writer.bound,
    )
    build.__doc__ = source  # kept for debugging: what the mapping compiled to
    return build


__all__ = ["Build", "compile_build"]
