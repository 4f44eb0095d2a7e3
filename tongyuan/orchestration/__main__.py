"""``python -m tongyuan.orchestration``: the embedded Airflow from a shell.

``env`` prints the ``export`` lines that point ``airflow`` (standalone, scheduler, CLI) at
the hub's Airflow home; ``migrate`` brings its metadata database up to date; ``run`` is
the child side of :func:`tongyuan.orchestration.runner.run_dag`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tongyuan.orchestration")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="print shell exports for this hub's Airflow")
    commands.add_parser("migrate", help="migrate the Airflow metadata database")
    run = commands.add_parser("run", help="run one DAG with dag.test()")
    run.add_argument("dag_id")
    run.add_argument("--result", type=Path, required=True, help="where to write the outcome")
    run.add_argument("--bundle", action="append", default=[], help="extra DAG folder NAME=PATH")
    run.add_argument("--conf", help="DagRun conf as a JSON object")
    args = parser.parse_args(argv)

    from tongyuan.config import load_settings
    from tongyuan.orchestration.airflow_home import activate, airflow_home, migrate, shell_exports

    if args.command == "run":
        from tongyuan.orchestration.runner import main_run

        return main_run(args.dag_id, result=args.result, bundles=args.bundle, conf=args.conf)
    home = airflow_home(load_settings())
    if args.command == "env":
        sys.stdout.write(shell_exports(home))
        return 0
    activate(home)
    print("migrated" if migrate(home) else "already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
