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
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

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


def add_libraries_source(context: Any, database_url: str, name: str = "libraries") -> Any:
    """A generic SQL datasource on the libraries (one class for SQLite and PostgreSQL).

    Each datasource has its own execution engine (connection, loaded batch); checkpoints
    that run at the same time each need their own.

    GX suggests its dialect-specific sources; the generic one takes any SQLAlchemy URL
    (``postgresql+psycopg`` included) and the checks need nothing dialect-specific from
    GX, so its advice is silenced rather than printed into every task log.

    GX builds its own engine, so it gets the client encoding every hub session forces
    (:data:`tongyuan.db.engine.CLIENT_ENCODING`): with PGCLIENTENCODING=LATIN1 its
    queries stored fewer failures than there were, and SQL_ASCII crashed the run.
    """
    from sqlalchemy.engine import make_url

    from tongyuan.db.engine import CLIENT_ENCODING

    postgresql = make_url(database_url).get_backend_name() == "postgresql"
    kwargs = {"connect_args": dict(CLIENT_ENCODING)} if postgresql else {}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
        return context.data_sources.add_sql(name, connection_string=database_url, kwargs=kwargs)


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


def build_data_docs(context: Any, run_results: Mapping[Any, Any]) -> None:
    """Render the Data Docs site once for every validation result of a run.

    A run validates through more than one checkpoint at a time, and GX's UpdateDataDocs
    action would render the site (index included) per result and per checkpoint, each
    build racing the other's; the site is built once, after all of them, from the
    results they returned.
    """
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    identifiers: list[Any] = []
    for result_id, result in run_results.items():
        identifiers += [result_id, ExpectationSuiteIdentifier(name=result.suite_name)]
    context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=identifiers)
