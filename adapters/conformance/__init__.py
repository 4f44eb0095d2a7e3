"""The conformance kit: the standard checks every source adapter must pass.

``tongyuan adapter check MODULE:CLASS --config FILE`` runs them from the command line;
:class:`adapters.conformance.base.AdapterConformanceTests` runs them from a department's
pytest suite. A source makes the incremental checks possible by returning a
:class:`Harness` from ``conformance_harness()``.
"""

from adapters.conformance.harness import BOUNDARY_CURSOR_VALUE, Harness, HasHarness

__all__ = ["BOUNDARY_CURSOR_VALUE", "Harness", "HasHarness"]
