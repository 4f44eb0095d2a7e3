"""Synthetic exchange data for a topology, with planted defects that name their rule.

Used by ``tongyuan generate``, the demo, the benchmarks and tests: realistic items, cases,
materials (with real files) and e-licenses, deterministic for a seed.
"""

from tongyuan.generate.dataset import GenerationSummary, generate_dataset
from tongyuan.generate.defects import RULES_BY_KIND
from tongyuan.generate.topology import TOPOLOGY_NAMES

__all__ = ["RULES_BY_KIND", "TOPOLOGY_NAMES", "GenerationSummary", "generate_dataset"]
