"""``python -m benchmarks [NAME…]`` (``make bench``): run benchmarks, write results.json.

Without names every benchmark runs and results.json is rewritten; with names (module
names, e.g. ``verify quality``) only those run and their figures replace the earlier
ones of the same name, the rest of results.json kept.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

from benchmarks.harness import load_results, prepare_all, print_results, write_results

MODULES = ("parse_validate", "adapter_sql", "item_sync", "verify", "ingest", "quality")


def main(argv: list[str]) -> None:
    unknown = [name for name in argv if name not in MODULES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; known: {', '.join(MODULES)}")
    home = Path(os.environ.get("TONGYUAN_HOME", "var")).resolve()
    workdir = home / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    results, notes = [], []
    started = time.perf_counter()
    modules = {name: importlib.import_module(f"benchmarks.{name}") for name in argv or MODULES}
    notes += prepare_all(modules, workdir)
    notes.append(f"datasets: {time.perf_counter() - started:.0f} s")
    print(f"benchmarks: datasets ready in {time.perf_counter() - started:.0f} s", flush=True)
    for name, module in modules.items():
        began = time.perf_counter()
        r, n = module.run(workdir)
        results += r
        notes += [*n, f"{name}: {time.perf_counter() - began:.0f} s"]
        print(f"benchmarks.{name} done in {time.perf_counter() - began:.0f} s", flush=True)
    notes.append(f"whole run: {time.perf_counter() - started:.0f} s")
    if argv:
        fresh = {r.name for r in results}
        results = [r for r in load_results() if r.name not in fresh] + results
    write_results(results)
    print_results(results, notes)


if __name__ == "__main__":
    main(sys.argv[1:])
