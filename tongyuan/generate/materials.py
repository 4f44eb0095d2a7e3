"""Materials (材料): manifest records for documents submitted with cases, and their files.

The manifest lives in ``materials/``; files live under ``materials/files/`` and manifest
entries name them relative to the manifest's folder, as the material checks expect.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta

from standards.records import Material
from tongyuan.generate.cases import GeneratedCase
from tongyuan.generate.catalogue import MaterialSpec
from tongyuan.generate.clock import add_years
from tongyuan.generate.files import MEDIA_TYPES, document_bytes

CASE_SHARE = 0.05  # share of cases that come with material files
FILES_DIR = "files"


@dataclass(slots=True)
class GeneratedMaterial:
    """A manifest record and the bytes of its file (``data`` None: do not write a file)."""

    record: Material
    data: bytes | None
    case: GeneratedCase


def _applicable(spec: MaterialSpec, is_person: bool) -> bool:
    if spec.material_type == "身份证明":
        return is_person
    if spec.material_type == "主体资格证明":
        return not is_person
    return True


def build_materials(rng: random.Random, cases: list[GeneratedCase]) -> list[GeneratedMaterial]:
    """Materials for about ``CASE_SHARE`` of the cases; each case's ``material_ids`` is filled."""
    result: list[GeneratedMaterial] = []
    counter = 0
    for case in cases:
        if rng.random() >= CASE_SHARE:
            continue
        specs = [s for s in case.item.base.materials if _applicable(s, case.party.is_person)]
        if not specs:
            continue
        chosen = rng.sample(specs, rng.randint(1, min(3, len(specs))))
        day = case.first_day
        ymd = f"{day.year:04d}{day.month:02d}{day.day:02d}"
        applicant = case.party.applicant
        for spec in chosen:
            counter += 1
            material_id = f"CL{case.item.node.code}{ymd}{counter:06d}"
            name = f"{case.item.record.name}申请表" if spec.material_type == "申请表" else spec.name
            if spec.validity_years:
                valid_from = day - timedelta(days=rng.randint(30, spec.validity_years * 300))
                valid_to: date | None = add_years(valid_from, spec.validity_years) - timedelta(1)
            else:
                valid_from, valid_to = day, None
            data = document_bytes(
                spec.ext,
                f"{name}（{applicant.name}）",
                [
                    f"Material: {material_id}",
                    f"Case: {case.record.dept_case_no}",
                    f"Item: {case.item.impl_code}",
                    f"Submitted: {day.isoformat()}",
                ],
                hashlib.sha256(material_id.encode()).digest(),
            )
            record = Material.model_construct(
                material_id=material_id,
                name=name,
                material_type=spec.material_type,
                holder_name=applicant.name,
                holder_id_type=applicant.id_type,
                holder_id_number=applicant.id_number,
                file=f"{FILES_DIR}/{material_id[-2:]}/{material_id}.{spec.ext}",
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                media_type=MEDIA_TYPES[spec.ext],
                valid_from=valid_from,
                valid_to=valid_to,
                source_case=case.record.dept_case_no,
            )
            case.record.material_ids.append(material_id)
            result.append(GeneratedMaterial(record, data, case))
    return result
