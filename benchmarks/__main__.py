"""``python -m benchmarks [NAME…]`` (``make bench``): run benchmarks, write results.json.

Without names every benchmark runs and results.json is rewritten; with names (module
names, e.g. ``verify quality``) only those run and their figures replace the earlier
ones of the same name, the rest of results.json kept.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType

from benchmarks.harness import load_results, print_results, write_results

MODULES = ("parse_validate", "adapter_sql", "item_sync", "verify", "ingest", "quality")


def _prepare(name: str, workdir: Path) -> list[str]:
    return importlib.import_module(f"benchmarks.{name}").prepare(workdir)


def prepare_all(modules: dict[str, ModuleType], workdir: Path) -> list[str]:
    """Build every selected benchmark's datasets first, side by side on the cores.

    Dataset generation is one-time work (a fresh machine spends minutes on it) and is
    never measured; running it in parallel, before any measurement starts, keeps a fresh
    clone's ``make bench`` within its budget without a measurement sharing the machine.
    """
    names = [name for name, module in modules.items() if hasattr(module, "prepare")]
    if len(names) < 2:
        return [line for name in names for line in modules[name].prepare(workdir)]
    workers = min(len(names), os.cpu_count() or 1)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        done = [pool.submit(_prepare, name, workdir) for name in names]
        return [line for future in done for line in future.result()]


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
