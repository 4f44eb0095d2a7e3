"""Shared plumbing: timing, result records, the results file and its table."""

from __future__ import annotations

import gc
import importlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).with_name("results.json")


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    unit: str
    value: float
    baseline: str
    baseline_value: float
    better: str  # "higher" | "lower"
    target: float  # minimum value/baseline_value ratio (higher) or maximum (lower)
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value if self.baseline_value else float("nan")

    @property
    def meets_target(self) -> bool:
        return self.ratio >= self.target if self.better == "higher" else self.ratio <= self.target


def best_of(fn: Callable[[], int], repeat: int = 3) -> tuple[float, int]:
    """Best wall time over ``repeat`` runs (seconds) and the count the function returned."""
    best = float("inf")
    count = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        count = fn()
        best = min(best, time.perf_counter() - start)
    return best, count


def load_results() -> list[Result]:
    """The figures results.json holds now (an absent file holds none)."""
    if not RESULTS.exists():
        return []
    fields = set(Result.__dataclass_fields__)
    return [
        Result(**{k: v for k, v in doc.items() if k in fields})
        for doc in json.loads(RESULTS.read_text(encoding="utf-8"))
    ]


def write_results(results: list[Result]) -> None:
    payload = [
        asdict(r) | {"ratio": round(r.ratio, 3), "meets_target": r.meets_target} for r in results
    ]
    RESULTS.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def print_results(results: list[Result], notes: list[str]) -> None:
    table = Table(title="Tongyuan benchmarks")
    for col in ("name", "value", "baseline", "ratio", "target", "ok"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.name,
            f"{r.value:,.0f} {r.unit}",
            f"{r.baseline_value:,.0f} {r.unit} ({r.baseline})",
            f"{r.ratio:.2f}",
            f"{'≥' if r.better == 'higher' else '≤'} {r.target}",
            "yes" if r.meets_target else "NO",
        )
    console = Console(width=160)
    console.print(table)
    for note in notes:
        console.print(note)


def peak_rss_bytes() -> int:
    """This process's peak resident memory since it started running its own program.

    Not ``getrusage(...).ru_maxrss``: Linux carries that over exec from the process that
    forked it, so a child of a large benchmark process reports its parent's size.
    ``VmHWM`` belongs to the current address space.
    """
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _prepare(name: str, workdir: Path) -> list[str]:
    return importlib.import_module(f"benchmarks.{name}").prepare(workdir)


def prepare_all(modules: dict[str, ModuleType], workdir: Path) -> list[str]:
    """Build every selected benchmark's datasets first, side by side on the cores.

    Dataset generation is one-time work (a fresh machine spends minutes on it) and is
    never measured; running it in parallel, before any measurement starts, keeps a fresh
    clone's ``make bench`` within its budget without a measurement sharing the machine.
    """
    # Here, not in __main__: spawned workers must import what they run by its module.
    names = [name for name, module in modules.items() if hasattr(module, "prepare")]
    if len(names) < 2:
        lines = [line for name in names for line in modules[name].prepare(workdir)]
    else:
        workers = min(len(names), os.cpu_count() or 1)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
            done = [pool.submit(_prepare, name, workdir) for name in names]
            lines = [line for future in done for line in future.result()]
    # Gigabytes were just written; their write-back must not overlap the first
    # measurement (the 15 % slower parse_validate first blamed on it came from the
    # missing bytecode instead: see the Makefile).
    os.sync()
    return lines
