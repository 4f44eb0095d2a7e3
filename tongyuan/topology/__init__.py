"""The exchange topology as configuration: levels of government, their systems, departments.

An engineer describes which province, cities and districts take part, how to reach each
level's item system (an adapter and its configuration) and when each edge syncs, in one
YAML file; :func:`load_topology` checks it completely and returns a :class:`Topology`.
The file format is documented in docs/operations.md; two examples ship in ``examples/``.
"""

from tongyuan.topology.load import (
    DEFAULT_EXAMPLE,
    EXAMPLES_DIR,
    example_names,
    example_path,
    load_topology,
)
from tongyuan.topology.model import AdapterRef, Department, Node, Topology
from tongyuan.topology.validate import CRON_PRESETS, TopologyError

__all__ = [
    "CRON_PRESETS",
    "DEFAULT_EXAMPLE",
    "EXAMPLES_DIR",
    "AdapterRef",
    "Department",
    "Node",
    "Topology",
    "TopologyError",
    "example_names",
    "example_path",
    "load_topology",
]
