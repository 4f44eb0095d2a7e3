"""Field mapping as configuration: a department's columns and codes to standard records.

A mapping file (YAML) names the record kind, the department's code tables and, for each
standard field, where its value comes from and how it is cleaned and converted. See
``docs/adapters.md`` for the reference.
"""

from adapters.mapping.engine import ChildSpec, Mapping

__all__ = ["ChildSpec", "Mapping"]
