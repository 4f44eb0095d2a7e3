"""``python -m benchmarks`` (``make bench``): run every benchmark, write results.json."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks import adapter_sql, item_sync, parse_validate
from benchmarks.harness import print_results, write_results


def main() -> None:
    home = Path(os.environ.get("TONGYUAN_HOME", "var")).resolve()
    workdir = home / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    results, notes = [], []
    for module in (parse_validate, adapter_sql, item_sync):
        r, n = module.run(workdir)
        results += r
        notes += n
    write_results(results)
    print_results(results, notes)


if __name__ == "__main__":
    main()
