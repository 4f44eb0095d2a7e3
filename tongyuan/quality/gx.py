"""Great Expectations, imported late and quietly, and the run's ephemeral context.

GX costs ~3 s and ~200 MB to import, so nothing imports it until a quality run starts
(the CLI's help, the DAG parser and the report never pay for it). Its logger is lowered
to WARNING and its progress bars are off before the first import, or Airflow task logs
fill with metric-calculation noise.

The context is ephemeral: suites are code (this package), not YAML in the data dir, so
a run builds them fresh and nothing can drift between the code and a stored copy. What
persists is what auditors read: the history tables, and Data Docs under
``<reports>/gx`` written by the checkpoint's UpdateDataDocsAction.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from tongyuan.config import Settings

DOCS_SITE = "tongyuan"


def docs_dir(settings: Settings) -> Path:
    return settings.reports_dir / "gx"


def import_gx() -> ModuleType:
    """``great_expectations``, with its logging and usage statistics quietened first."""
    logger = logging.getLogger("great_expectations")
    logger.setLevel(logging.WARNING)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    with warnings.catch_warnings():
        # GX 1.24 imports the deprecated sre_* modules; nothing a hub operator can act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        import great_expectations
    logger.setLevel(logging.WARNING)
    return great_expectations


def add_libraries_source(context: Any, database_url: str) -> Any:
    """A generic SQL datasource on the libraries (one class for SQLite and PostgreSQL).

    GX suggests its dialect-specific sources; the generic one takes any SQLAlchemy URL
    (``postgresql+psycopg`` included) and the checks need nothing dialect-specific from
    GX, so its advice is silenced rather than printed into every task log.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
        return context.data_sources.add_sql("libraries", connection_string=database_url)


def make_context(settings: Settings) -> Any:
    """An ephemeral GX context with progress bars off and the Data Docs site configured."""
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    site = docs_dir(settings)
    site.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        site_name=DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(site),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    return context


_ONCE_ACTION: list[type] = []


def data_docs_action(name: str) -> Any:
    """An UpdateDataDocsAction that renders the site once for the whole checkpoint run.

    The stock action rebuilds the site (index included) once per validation result; a
    run has one per (suite, population), so that was ten builds of the same index. GX
    registers action classes by ``type``, so the class is made once per process.
    """
    if not _ONCE_ACTION:
        from great_expectations.checkpoint import UpdateDataDocsAction
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
        )

        class UpdateDataDocsOnce(UpdateDataDocsAction):
            type: Literal["tongyuan_update_data_docs_once"] = "tongyuan_update_data_docs_once"  # type: ignore[assignment]

            def run(self, checkpoint_result: Any, action_context: Any = None) -> dict:
                identifiers: list[Any] = []
                for result_id, result in checkpoint_result.run_results.items():
                    identifiers += [result_id, ExpectationSuiteIdentifier(name=result.suite_name)]
                self._build_data_docs(site_names=self.site_names, resource_identifiers=identifiers)
                return {}

        _ONCE_ACTION.append(UpdateDataDocsOnce)
    return _ONCE_ACTION[0](name=name, site_names=[DOCS_SITE])
