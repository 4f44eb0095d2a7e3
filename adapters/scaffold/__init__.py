"""``tongyuan adapter new``: a department adapter package that passes the kit as created.

The package subclasses a built-in source (``sql``, ``files`` or ``http``) in the
department style — ``stream``, ``mapping`` and ``cursor`` as class attributes — and
brings a mapping for a department-shaped sample schema, sample data, a conformance
harness for that sample system, tests built on the kit, and a pyproject declaring the
``tongyuan.adapters`` entry point.
"""

from adapters.scaffold.generate import KINDS, Scaffolded, create_adapter_package
from adapters.scaffold.names import AdapterNames, ScaffoldError, adapter_names

__all__ = [
    "KINDS",
    "AdapterNames",
    "ScaffoldError",
    "Scaffolded",
    "adapter_names",
    "create_adapter_package",
]
