"""The embedded Airflow: its home under the data directory, its environment, its database.

Airflow reads its configuration once, when ``airflow`` is first imported, from
``AIRFLOW_HOME`` and ``AIRFLOW__SECTION__KEY`` variables. So the hub never configures an
Airflow that is already imported: it builds the environment here, and either hands it to a
child process (the runner's default) or applies it with :func:`activate` before the first
import. Nothing in this module imports Airflow at module level.

The embedded default is SQLite under ``TONGYUAN_HOME/airflow``; ``TONGYUAN_AIRFLOW_DB_URL``
points the metadata database at PostgreSQL instead, the first step to running Airflow for
real (scheduler, API server, Celery workers) on the same DAG files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tongyuan.config import ConfigError, Settings

ENV_AIRFLOW_DB_URL = "TONGYUAN_AIRFLOW_DB_URL"
ENV_DAGS_FOLDER = "TONGYUAN_DAGS_FOLDER"
ENV_PARALLELISM = "TONGYUAN_AIRFLOW_PARALLELISM"

# The repository's own bundle keeps Airflow's default name: `dag.test(use_executor=True)`
# and the standalone components look DAG files up in a bundle of that name.
DAGS_BUNDLE = "dags-folder"
_LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
# Two cores are the machine we plan for; Airflow's default of 32 starts 32 workers.
DEFAULT_PARALLELISM = 4
_STAMP_NAME = "metadata-revision.json"

log = logging.getLogger(__name__)


class AirflowConfigError(ConfigError):
    """The embedded Airflow cannot be set up as asked; the message says what and where."""


@dataclass(frozen=True, slots=True)
class DagBundle:
    """A folder of DAG files Airflow may run; ``dag.test`` only runs DAGs from one."""

    name: str
    path: Path

    def config(self) -> dict[str, object]:
        return {
            "name": self.name,
            "classpath": _LOCAL_BUNDLE,
            "kwargs": {"path": str(self.path), "refresh_interval": 0},
        }


@dataclass(frozen=True, slots=True)
class AirflowHome:
    """Everything that decides which Airflow a process talks to."""

    path: Path
    db_url: str
    bundles: tuple[DagBundle, ...]
    parallelism: int = DEFAULT_PARALLELISM
    # The hub's own variables (TONGYUAN_HOME, …), passed on so tasks find the same hub.
    hub_environ: Mapping[str, str] = field(default_factory=dict)

    @property
    def dags_folder(self) -> Path:
        return self.bundles[0].path

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    def with_bundles(self, *extra: DagBundle) -> AirflowHome:
        """The same home with more DAG folders (test-only DAGs live in their own bundle)."""
        names = {b.name for b in self.bundles}
        for bundle in extra:
            if bundle.name in names:
                raise AirflowConfigError(f"DAG bundle name {bundle.name!r} is used twice")
            names.add(bundle.name)
        return AirflowHome(
            path=self.path,
            db_url=self.db_url,
            bundles=(*self.bundles, *extra),
            parallelism=self.parallelism,
            hub_environ=self.hub_environ,
        )

    def environ(self) -> dict[str, str]:
        """The variables that configure Airflow (and quieten its neighbours) for this home."""
        bundles = json.dumps([b.config() for b in self.bundles], ensure_ascii=False)
        return {
            **self.hub_environ,
            "AIRFLOW_HOME": str(self.path),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": bundles,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            **self._async_url(),
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(self.parallelism),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs_dir),
            # Great Expectations: no analytics calls home, no progress bars in task logs.
            "GX_ANALYTICS_ENABLED": "False",
            "TQDM_DISABLE": "1",
        }

    def _async_url(self) -> dict[str, str]:
        # Airflow derives its async URL as postgresql+asyncpg, a driver we do not ship;
        # psycopg 3 is async itself, so the same URL serves both engines.
        if self.db_url.startswith("postgresql+psycopg://"):
            return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.db_url}
        return {}


def repo_dags_folder(environ: Mapping[str, str] | None = None) -> Path:
    """The DAG files shipped with the hub (``dags/`` next to the ``tongyuan`` package).

    ``TONGYUAN_DAGS_FOLDER`` overrides it, for installs that copy the DAG files elsewhere.
    """
    env = os.environ if environ is None else environ
    raw = env.get(ENV_DAGS_FOLDER, "").strip()
    folder = Path(raw).expanduser() if raw else Path(__file__).resolve().parents[2] / "dags"
    if not folder.is_dir():
        where = ENV_DAGS_FOLDER if raw else "the source tree"
        raise AirflowConfigError(
            f"DAG folder {folder} (from {where}) does not exist; set {ENV_DAGS_FOLDER} to the "
            "folder holding item_sync.py"
        )
    return folder.resolve()


def airflow_home(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    extra_bundles: Iterable[DagBundle] = (),
) -> AirflowHome:
    """The embedded Airflow of one hub installation, as configured by the environment."""
    env = os.environ if environ is None else environ
    path = settings.airflow_home
    db_url = env.get(ENV_AIRFLOW_DB_URL, "").strip() or f"sqlite:///{path / 'airflow.db'}"
    raw_parallelism = env.get(ENV_PARALLELISM, "").strip()
    try:
        parallelism = int(raw_parallelism) if raw_parallelism else DEFAULT_PARALLELISM
    except ValueError:
        raise AirflowConfigError(
            f"{ENV_PARALLELISM} must be a whole number, got {raw_parallelism!r}"
        ) from None
    if parallelism < 1:
        raise AirflowConfigError(f"{ENV_PARALLELISM} must be at least 1, got {parallelism}")
    # Resolved paths, so tasks find this hub whatever their working directory. Secrets
    # (the PII key) are not part of it: these variables get printed for shells.
    hub = {"TONGYUAN_HOME": str(settings.home), "TONGYUAN_DATABASE_URL": settings.database_url}
    home = AirflowHome(
        path=path,
        db_url=_normalise_db_url(db_url),
        bundles=(DagBundle(DAGS_BUNDLE, repo_dags_folder(env)),),
        parallelism=parallelism,
        hub_environ=hub,
    )
    return home.with_bundles(*extra_bundles)


def _normalise_db_url(url: str) -> str:
    """Airflow needs a driver it has: plain ``postgresql://`` would ask for psycopg2."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith(("sqlite:///", "postgresql+", "mysql")):
        raise AirflowConfigError(
            f"{ENV_AIRFLOW_DB_URL}: unsupported metadata database URL scheme "
            f"{url.split(':', 1)[0]!r}; use sqlite:/// or postgresql://"
        )
    return url


def activate(home: AirflowHome) -> None:
    """Point this process's Airflow at ``home``; must happen before Airflow is imported.

    Refuses when Airflow is already loaded with another home or database, because Airflow
    would silently keep using the old one — the kind of mix-up that writes a test's runs
    into a developer's metadata database.
    """
    env = home.environ()
    if "airflow.settings" in sys.modules:
        current = (
            os.environ.get("AIRFLOW_HOME"),
            os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
        )
        wanted = (env["AIRFLOW_HOME"], env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        if current != wanted:
            raise AirflowConfigError(
                f"Airflow is already loaded in this process with AIRFLOW_HOME={current[0]}; "
                f"cannot switch to {wanted[0]} — run it in a new process (run_dag does)"
            )
    home.path.mkdir(parents=True, exist_ok=True)
    home.logs_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    quiet_neighbours()


def quiet_neighbours() -> None:
    """Lower the loggers that drown Airflow task logs in noise (GX prints at import)."""
    for name in ("great_expectations", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


def migrate(home: AirflowHome) -> bool:
    """Bring the metadata database to this Airflow's schema; True when anything ran.

    Idempotent and cheap when already current: the revision in the database is compared
    with the migration head first, so a re-run costs one query, not an Alembic upgrade.
    The process must have been :func:`activate`-d with ``home``.
    """
    if os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") != home.db_url:
        raise AirflowConfigError("migrate(home) needs activate(home) first in this process")
    if home.db_url.startswith("sqlite:///"):
        Path(home.db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    import airflow
    from airflow.utils import db as airflow_db
    from airflow.utils.session import create_session

    with create_session() as session:
        current = airflow_db._get_current_revision(session)
    # Loading Alembic's script directory costs most of a second; a stamp written after the
    # last migration by this Airflow version answers "already current?" without it.
    stamp_file = home.path / _STAMP_NAME
    stamp = {"airflow": airflow.__version__, "db": _db_fingerprint(home.db_url)}
    if current is not None and _read_stamp(stamp_file) == {**stamp, "revision": current}:
        return False
    head = airflow_db._get_script_object().get_current_head()
    ran = current != head
    if ran:
        log.info("migrating the Airflow metadata database from %s to %s", current or "empty", head)
        airflow_db.upgradedb()
    stamp_file.write_text(json.dumps({**stamp, "revision": head}), encoding="utf-8")
    return ran


def _db_fingerprint(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _read_stamp(path: Path) -> dict[str, str] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def shell_exports(home: AirflowHome) -> str:
    """``export`` lines for a shell, so ``airflow standalone`` runs on the same home."""
    import shlex

    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in home.environ().items()) + "\n"
