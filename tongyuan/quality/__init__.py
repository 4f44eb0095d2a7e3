"""Data quality over the libraries: GX suites run in the database, and their history.

``run_quality(settings, suites=…)`` runs the completeness, consistency, rules,
timeliness and integrity suites (Great Expectations 1.x, SQL datasource on the
libraries' database) and stores every run in ``quality_runs``/``quality_results``, which
the auditor report reads. Importing this package does not import GX.
"""

from tongyuan.quality.checks import SUITES
from tongyuan.quality.runner import QualityError, QualityRunSummary, RuleSummary, run_quality

__all__ = ["SUITES", "QualityError", "QualityRunSummary", "RuleSummary", "run_quality"]
