"""``generate_dataset``: a whole synthetic exchange drop for one topology, on disk.

Layout under ``out``::

    items/<region code>.xml      one file per node, as each level's item system exports
    cases/cases.xml              all departments' cases, in order of their first event
    materials/materials.xml      the manifest; files under materials/files/<nn>/
    licenses/licenses.xml        e-license catalogue records; signed license files under
                                 licenses/files/<nn>/ (``tongyuan.generate.signatures``)
    pki/                         the development PKI / trust directory that verifies them
    expected_defects.json        every planted bad record: kind, file, record, rule, field;
                                 and under ``signature_defects`` every planted bad signature

(``.jsonl`` instead of ``.xml`` with ``fmt="jsonl"``.) Every random choice comes from
generators seeded with ``seed``, and dates from a fixed reference period, so identical
arguments give identical record files (keys and signatures in ``pki/`` and
``licenses/files/`` are random; see ``tongyuan.generate.signatures``).
"""

from __future__ import annotations

import gc
import json
import random
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TypeVar

from standards.formats import write_records
from standards.records import StandardRecord
from tongyuan.generate.applicants import build_companies, build_people
from tongyuan.generate.cases import build_cases
from tongyuan.generate.catalogue import build_catalogue
from tongyuan.generate.defects import (
    Defect,
    plant_case_defects,
    plant_item_defects,
    plant_license_defects,
    plant_material_defects,
)
from tongyuan.generate.items import ImplementedItem, build_items
from tongyuan.generate.licenses import build_licenses
from tongyuan.generate.materials import GeneratedMaterial, build_materials
from tongyuan.generate.signatures import (
    PKI_DIR,
    SIGNATURE_DEFECTS,
    SignaturePlan,
    plan_signatures,
    with_file_references,
    write_signed_licenses,
)
from tongyuan.generate.topology import build_topology

Progress = Callable[[str, int, int], None]
FORMATS = ("xml", "jsonl")
KINDS = ("item", "case", "material", "license")
KIND_DIRS = {"item": "items", "case": "cases", "material": "materials", "license": "licenses"}
DEFECTS_FILE = "expected_defects.json"

R = TypeVar("R", bound=StandardRecord)


@dataclass(slots=True)
class GenerationSummary:
    """What was generated: records and planted defects per kind, and the files written.

    ``counts``/``bad_counts`` are keyed by record kind (``item``, ``case``, ``material``,
    ``license``); ``bad_by_rule`` by kind then rule id; ``files`` are POSIX paths relative
    to ``out`` (record files, the defects list; material files are counted, not listed).
    """

    out: Path
    seed: int
    bad_rate: float
    topology: str
    fmt: str
    counts: dict[str, int] = field(default_factory=dict)
    bad_counts: dict[str, int] = field(default_factory=dict)
    bad_by_rule: dict[str, dict[str, int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    material_files: int = 0
    signed_files: int = 0
    signature_defects: dict[str, int] = field(default_factory=dict)


def _check_arguments(out: Path, items: int, cases: int, bad_rate: float, fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if items < 1:
        raise ValueError(f"items must be at least 1, got {items}")
    if cases < 0:
        raise ValueError(f"cases must not be negative, got {cases}")
    if not 0.0 <= bad_rate <= 1.0:
        raise ValueError(f"bad_rate must be between 0 and 1, got {bad_rate}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    for name in (*KIND_DIRS.values(), DEFECTS_FILE, PKI_DIR):
        if (out / name).exists():
            raise ValueError(
                f"{out / name} already exists: generate into an empty folder so old and new "
                f"files are not mixed"
            )


def _rng(seed: int, stage: str) -> random.Random:
    # One generator per stage: changing how many materials are drawn does not shift cases.
    return random.Random(f"tongyuan:{seed}:{stage}")  # noqa: S311 (synthetic, reproducible)


def _counting(records: Iterable[R], report: Callable[[int], None], every: int) -> Iterator[R]:
    for n, record in enumerate(records, 1):
        yield record
        if n % every == 0:
            report(n)


def _write(
    path: Path,
    records: list[R],
    kind: str,
    progress: Progress | None,
    *,
    done_before: int = 0,
    total: int | None = None,
) -> int:
    """Write one file; progress counts over all files of the kind (``done_before`` of ``total``)."""
    overall = len(records) if total is None else total

    def report(n: int) -> None:
        if progress is not None:
            progress(f"write {KIND_DIRS[kind]}", done_before + n, overall)

    with warnings.catch_warnings():
        # Planted schema defects (a state "99") are not what the model's serializer expects.
        warnings.filterwarnings("ignore", message="Pydantic serializer warnings")
        count = write_records(path, _counting(records, report, 10_000), kind=kind)
    report(count)
    return count


def _write_material_files(
    folder: Path, materials: list[GeneratedMaterial], progress: Progress | None
) -> int:
    made: set[Path] = set()
    written = 0
    total = len(materials)
    for n, m in enumerate(materials, 1):
        if m.data is not None:
            rel = PurePosixPath(m.record.file)
            if rel.is_absolute() or ".." in rel.parts:
                raise ValueError(f"material file {m.record.file!r} would leave {folder}")
            target = folder.joinpath(*rel.parts)
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.write_bytes(m.data)
            written += 1
        if progress is not None and (n % 5_000 == 0 or n == total):
            progress("material files", n, total)
    return written


def generate_dataset(
    out: Path,
    *,
    seed: int = 0,
    items: int = 200,
    cases: int = 2000,
    bad_rate: float = 0.0,
    topology: str = "shenzhen",
    fmt: str = "xml",
    progress: Progress | None = None,
) -> GenerationSummary:
    """Generate a synthetic dataset under ``out`` and return what was written.

    ``bad_rate`` of each kind's records (rounded half up, at least one per defect rule
    when there are enough records) are replaced by copies breaking exactly one rule,
    listed in ``expected_defects.json``. Raises ValueError for bad arguments, for an
    ``out`` that already holds a dataset, or for more items than the topology supports.
    """
    out = Path(out)
    _check_arguments(out, items, cases, bad_rate, fmt)
    with _gc_paused():
        return _generate(out, seed, items, cases, bad_rate, topology, fmt, progress)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of long-lived objects are built.

    Generation creates no reference cycles worth collecting, but the collector would
    rescan the growing heap again and again (about a fifth of the time at 200k cases).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _generate(
    out: Path,
    seed: int,
    items: int,
    cases: int,
    bad_rate: float,
    topology: str,
    fmt: str,
    progress: Progress | None,
) -> GenerationSummary:
    topo = build_topology(topology)
    catalogue = build_catalogue(topo.province_code)

    implemented = build_items(_rng(seed, "items"), topo, catalogue, items)
    if progress is not None:
        progress("items", len(implemented), items)
    originals = list(implemented)
    item_defects = plant_item_defects(_rng(seed, "item-defects"), implemented, bad_rate,
                                      topo.city_code)  # fmt: skip
    # Cases refer to items that are themselves good, so no case points at a broken item.
    bad_items = {d.index for d in item_defects}
    pool = [it for i, it in enumerate(originals) if i not in bad_items] or originals

    parties_rng = _rng(seed, "applicants")
    people = build_people(parties_rng, topo, max(20, cases // 3))
    companies = build_companies(parties_rng, topo, max(10, cases // 8))

    def case_progress(done: int) -> None:
        if progress is not None:
            progress("cases", done, cases)

    generated = build_cases(_rng(seed, "cases"), pool, people, companies, cases, case_progress)
    materials = build_materials(_rng(seed, "materials"), generated)
    licenses = build_licenses(_rng(seed, "licenses"), generated, catalogue)
    if progress is not None:
        progress("materials", len(materials), len(materials))
        progress("licenses", len(licenses), len(licenses))

    case_defects = plant_case_defects(
        _rng(seed, "case-defects"), generated, bad_rate, [it.impl_code for it in pool]
    )
    material_defects = plant_material_defects(_rng(seed, "material-defects"), materials,
                                              bad_rate)  # fmt: skip
    license_defects = plant_license_defects(_rng(seed, "license-defects"), licenses, bad_rate)
    signature_plans = plan_signatures(
        _rng(seed, "signatures"), licenses, bad_rate, {d.index for d in license_defects}
    )
    licenses = with_file_references(licenses, signature_plans)

    out.mkdir(parents=True, exist_ok=True)
    summary = GenerationSummary(out, seed, bad_rate, topology, fmt)
    locations: dict[str, list[tuple[str, int]]] = {}
    locations["item"] = _write_items(out, implemented, fmt, summary, progress)
    locations["case"] = _write_kind(out, "case", [c.record for c in generated], fmt, summary,
                                    progress)  # fmt: skip
    locations["material"] = _write_kind(
        out, "material", [m.record for m in materials], fmt, summary, progress
    )
    summary.material_files = _write_material_files(out / "materials", materials, progress)
    locations["license"] = _write_kind(out, "license", licenses, fmt, summary, progress)
    summary.signed_files = write_signed_licenses(
        out, out / KIND_DIRS["license"], licenses, signature_plans
    )
    if progress is not None:
        progress("signed licenses", len(licenses), len(licenses))

    defects = [*item_defects, *case_defects, *material_defects, *license_defects]
    _write_expected(out, seed, bad_rate, defects, locations, signature_plans)
    summary.files.append(DEFECTS_FILE)
    summary.counts = {
        "item": len(implemented),
        "case": len(generated),
        "material": len(materials),
        "license": len(licenses),
    }
    for kind in KINDS:
        of_kind = [d for d in defects if d.kind == kind]
        summary.bad_counts[kind] = len(of_kind)
        summary.bad_by_rule[kind] = dict(sorted(Counter(d.rule for d in of_kind).items()))
    summary.signature_defects = dict(
        sorted(Counter(p.defect for p in signature_plans if p.defect is not None).items())
    )
    return summary


def _write_items(
    out: Path,
    implemented: list[ImplementedItem],
    fmt: str,
    summary: GenerationSummary,
    progress: Progress | None,
) -> list[tuple[str, int]]:
    folder = out / KIND_DIRS["item"]
    folder.mkdir()
    by_node: dict[str, list[int]] = {}
    for i, it in enumerate(implemented):
        by_node.setdefault(it.node.code, []).append(i)
    locations: list[tuple[str, int]] = [("", 0)] * len(implemented)
    written = 0
    for code, indices in by_node.items():
        rel = f"{KIND_DIRS['item']}/{code}.{fmt}"
        records = [implemented[i].record for i in indices]
        written += _write(out / rel, records, "item", progress, done_before=written,
                          total=len(implemented))  # fmt: skip
        summary.files.append(rel)
        for position, i in enumerate(indices, 1):
            locations[i] = (rel, position)
    return locations


def _write_kind(
    out: Path,
    kind: str,
    records: list[R],
    fmt: str,
    summary: GenerationSummary,
    progress: Progress | None,
) -> list[tuple[str, int]]:
    folder = out / KIND_DIRS[kind]
    folder.mkdir()
    rel = f"{KIND_DIRS[kind]}/{KIND_DIRS[kind]}.{fmt}"
    _write(out / rel, records, kind, progress)
    summary.files.append(rel)
    return [(rel, position) for position in range(1, len(records) + 1)]


def _write_expected(
    out: Path,
    seed: int,
    bad_rate: float,
    defects: list[Defect],
    locations: dict[str, list[tuple[str, int]]],
    signature_plans: list[SignaturePlan],
) -> None:
    rows = []
    for d in defects:
        file, record = locations[d.kind][d.index]
        rows.append(
            {"kind": d.kind, "file": file, "record": record, "rule": d.rule, "field": d.field}
        )
    rows.sort(key=lambda r: (str(r["file"]), int(r["record"])))  # type: ignore[call-overload]
    signature_rows = []
    for plan in signature_plans:
        if plan.defect is None:
            continue
        file, record = locations["license"][plan.index]
        indication, subindication = SIGNATURE_DEFECTS[plan.defect]
        signature_rows.append(
            {
                "kind": "license",
                "file": file,
                "record": record,
                "defect": plan.defect,
                "license_file": f"{KIND_DIRS['license']}/{plan.file}",
                "indication": indication.value,
                "subindication": subindication.value,
            }
        )
    doc = {
        "seed": seed,
        "bad_rate": bad_rate,
        "defects": rows,
        "pki": PKI_DIR,
        "signature_defects": signature_rows,
    }
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    (out / DEFECTS_FILE).write_text(text, encoding="utf-8")
