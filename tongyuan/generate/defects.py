"""Deliberately bad records: each breaks exactly one named rule and nothing else.

A defect replaces a good record by a modified copy, so the validator must report exactly
one finding for it — the planted rule on the planted field. Every change here is chosen
with the checks in ``standards.validation`` in mind (e.g. a USCC with a wrong check
character also gets an implementation code built on that same code, so no authority
mismatch fires).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from standards.codes.enums import CaseState, ExerciseLevel, IdType, ItemType
from standards.codes.regions import REGIONS
from standards.identifiers import (
    USCC_ALPHABET,
    build_license_identifier,
    citizen_id_check_char,
    format_case_serial,
    make_impl_code,
    parse_license_identifier,
)
from standards.records import Case, CaseEvent, License
from tongyuan.generate.cases import GeneratedCase
from tongyuan.generate.items import ImplementedItem
from tongyuan.generate.materials import GeneratedMaterial

ITEM_RULES = (
    "item.time_limit",
    "item.impl_code.level_mismatch",
    "uscc.check",
    "region.unknown",
    "item.item_type_mismatch",
    "schema.required",
)
CASE_RULES = (
    "citizen_id.check",
    "citizen_id.birth_date",
    "case.events.order",
    "case.events.transition",
    "case.timestamps",
    "case.serial.mismatch",
    "case.serial.duplicate",
    "schema.enum",
)
MATERIAL_RULES = (
    "material.file.sha256",
    "material.file.size",
    "material.file.missing",
    "material.validity",
    "material.file.unsafe_path",
)
LICENSE_RULES = (
    "license_id.check",
    "license.identifier.mismatch",
    "license.validity",
    "citizen_id.check",
)
RULES_BY_KIND: dict[str, tuple[str, ...]] = {
    "item": ITEM_RULES,
    "case": CASE_RULES,
    "material": MATERIAL_RULES,
    "license": LICENSE_RULES,
}

UNSAFE_PATH = "../../etc/passwd"
_DONE = frozenset({CaseState.DONE_APPROVED, CaseState.DONE_TOLERANCE, CaseState.DONE_DENIED})
_ID_CHECK_CHARS = "0123456789X"
_LICENSE_CHECK_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class Defect:
    """One planted defect: record ``index`` (0-based, in generation order) of ``kind``."""

    kind: str
    index: int
    rule: str
    field: str


def defect_count(count: int, rate: float, rules: int) -> int:
    """round-half-up(count × rate), but at least one per rule when the count allows."""
    if rate <= 0 or count == 0:
        return 0
    n = int((Decimal(str(rate)) * count).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return min(count, max(n, min(rules, count)))


def _other_char(rng: random.Random, current: str, alphabet: str) -> str:
    return rng.choice([c for c in alphabet if c != current.upper()])


def _bad_citizen_check(rng: random.Random, number: str) -> str:
    return number[:17] + _other_char(rng, number[17], _ID_CHECK_CHARS)


def _bad_birth_date(number: str) -> str:
    first17 = number[:10] + "0230" + number[14:17]  # 30 February never exists
    return first17 + citizen_id_check_char(first17)


# --- selection -------------------------------------------------------------------------


Applies = Callable[[int], bool]


def _plan(
    rng: random.Random,
    kind: str,
    count: int,
    rate: float,
    rules: Sequence[str],
    applies: dict[str, Applies],
    reserve: Callable[[int, set[int]], bool] | None = None,
) -> list[tuple[int, str]]:
    """Which record gets which rule: rules in turn, each on the next record it applies to.

    ``reserve`` (for duplicates) may claim a partner record, which then stays untouched.
    """
    wanted = defect_count(count, rate, len(rules))
    order = rng.sample(range(count), count)
    used: set[int] = set()
    cursor = dict.fromkeys(rules, 0)
    active = list(rules)
    plan: list[tuple[int, str]] = []
    turn = 0
    while len(plan) < wanted and active:
        rule = active[turn % len(active)]
        applies_to = applies.get(rule, lambda _i: True)
        pos = cursor[rule]
        chosen = None
        while pos < count:
            i = order[pos]
            pos += 1
            if i in used or not applies_to(i):
                continue
            if rule == "case.serial.duplicate" and reserve is not None and not reserve(i, used):
                continue
            chosen = i
            break
        cursor[rule] = pos
        if chosen is None:
            active.remove(rule)  # no record left this rule can be planted in
            continue
        used.add(chosen)
        plan.append((chosen, rule))
        turn += 1
    plan.sort()
    return plan


# --- items ------------------------------------------------------------------------------


def _unknown_county(city_code: str) -> str:
    for n in range(99, 0, -1):
        code = f"{city_code[:4]}{n:02d}"
        if code not in REGIONS:
            return code
    raise ValueError(f"no unused county code under {city_code}")


def plant_item_defects(
    rng: random.Random, items: list[ImplementedItem], rate: float, city_code: str
) -> list[Defect]:
    """Replace records of ``items`` in place; return the defects planted."""
    plan = _plan(rng, "item", len(items), rate, ITEM_RULES, {})
    defects = []
    for i, rule in plan:
        rec = items[i].record
        update: dict[str, object]
        if rule == "item.time_limit":
            update = {"promised_limit_days": rec.statutory_limit_days + rng.randint(1, 10)}
            field = "promised_limit_days"
        elif rule == "item.impl_code.level_mismatch":
            levels = [lv for lv in ExerciseLevel if lv is not rec.exercise_level]
            update = {"exercise_level": rng.choice(levels)}
            field = "exercise_level"
        elif rule == "uscc.check":
            bad = rec.authority_uscc[:17] + _other_char(rng, rec.authority_uscc[17], USCC_ALPHABET)
            impl = make_impl_code(bad, rec.exercise_level, rec.basic_code)
            update = {"authority_uscc": bad, "impl_code": impl, "handling_code": impl + "01"}
            field = "authority_uscc"
        elif rule == "region.unknown":
            update = {"region_code": _unknown_county(city_code)}
            field = "region_code"
        elif rule == "item.item_type_mismatch":
            update = {"item_type": rng.choice([t for t in ItemType if t is not rec.item_type])}
            field = "item_type"
        else:  # schema.required: the writer leaves out what is None
            update = {"name": None}
            field = "name"
        bad_item = rec.model_copy(update=update)
        items[i] = ImplementedItem(items[i].base, items[i].node, items[i].dept, bad_item)
        defects.append(Defect("item", i, rule, field))
    return defects


# --- cases ------------------------------------------------------------------------------


def _order_target(case: Case) -> int | None:
    """An event whose time no derived timestamp depends on (not the first 3, not the 办结)."""
    states = [e.state for e in case.events]
    first_accept = states.index(CaseState.ACCEPTED) if CaseState.ACCEPTED in states else -1
    first_done = next((k for k, s in enumerate(states) if s in _DONE), -1)
    for k in range(len(states) - 1, 0, -1):
        if k not in (first_accept, first_done):
            return k
    return None


def _done_index(case: Case) -> int | None:
    return next((k for k, e in enumerate(case.events) if e.state in _DONE), None)


def plant_case_defects(
    rng: random.Random, cases: list[GeneratedCase], rate: float, impl_codes: list[str]
) -> list[Defect]:
    """Replace records of ``cases`` in place; return the defects planted."""
    records = [c.record for c in cases]
    person = [c.party.is_person for c in cases]
    previous_same: list[int | None] = []
    last_seen: dict[str, int] = {}
    for k, rec in enumerate(records):
        previous_same.append(last_seen.get(rec.impl_code))
        last_seen[rec.impl_code] = k
    partner: dict[int, int] = {}

    def reserve(i: int, used: set[int]) -> bool:
        j = previous_same[i]
        if j is None or j in used:
            return False
        used.add(j)
        partner[i] = j
        return True

    applies: dict[str, Applies] = {
        "citizen_id.check": lambda i: person[i],
        "citizen_id.birth_date": lambda i: person[i],
        "case.events.order": lambda i: _order_target(records[i]) is not None,
        "case.events.transition": lambda i: (
            records[i].events[0].state is CaseState.RECEIVED and _done_index(records[i]) is not None
        ),
        "case.timestamps": lambda i: (
            records[i].accepted_at is not None and records[i].decided_at is not None
        ),
        "case.serial.mismatch": lambda i: len(impl_codes) > 1,
        "case.serial.duplicate": lambda i: previous_same[i] is not None,
    }
    plan = _plan(rng, "case", len(records), rate, CASE_RULES, applies, reserve)
    per_day = Counter((c.record.impl_code, c.first_day) for c in cases)
    defects = []
    for i, rule in plan:
        rec = records[i]
        update: dict[str, object]
        if rule in ("citizen_id.check", "citizen_id.birth_date"):
            number = rec.applicant.id_number
            bad = (
                _bad_citizen_check(rng, number)
                if rule == "citizen_id.check"
                else (_bad_birth_date(number))
            )
            update = {"applicant": rec.applicant.model_copy(update={"id_number": bad})}
            field = "applicant.id_number"
        elif rule == "case.events.order":
            k = _order_target(rec)
            assert k is not None
            events = list(rec.events)
            earlier = events[k - 1].at - timedelta(minutes=rng.randint(5, 600))
            events[k] = events[k].model_copy(update={"at": earlier})
            update = {"events": events}
            field = f"events.{k}.at"
        elif rule == "case.events.transition":
            done = _done_index(rec)
            assert done is not None
            update = {"events": [rec.events[0], *rec.events[done:]], "accepted_at": None}
            field = "events.1.state"
        elif rule == "case.timestamps":
            assert rec.accepted_at is not None
            update = {"decided_at": rec.accepted_at - timedelta(minutes=rng.randint(5, 600))}
            field = "decided_at"
        elif rule == "case.serial.mismatch":
            other = rng.choice([c for c in impl_codes if c != rec.impl_code])
            day: date = cases[i].first_day
            per_day[(other, day)] += 1
            update = {"serial": format_case_serial(other, day, per_day[(other, day)])}
            field = "serial"
        elif rule == "case.serial.duplicate":
            update = {"serial": records[partner[i]].serial}
            field = "serial"
        else:  # schema.enum: a state code not in the table
            k = rng.randrange(len(rec.events))
            events = list(rec.events)
            events[k] = CaseEvent.model_construct(
                state="99", at=events[k].at, actor=events[k].actor, note=events[k].note
            )
            update = {"events": events}
            field = f"events.{k}.state"
        cases[i].record = rec.model_copy(update=update)
        defects.append(Defect("case", i, rule, field))
    return defects


# --- materials --------------------------------------------------------------------------


def plant_material_defects(
    rng: random.Random, materials: list[GeneratedMaterial], rate: float
) -> list[Defect]:
    """Replace manifest records (and file bytes) in place; return the defects planted."""
    applies: dict[str, Applies] = {
        "material.validity": lambda i: materials[i].record.valid_from is not None,
    }
    plan = _plan(rng, "material", len(materials), rate, MATERIAL_RULES, applies)
    defects = []
    for i, rule in plan:
        m = materials[i]
        rec = m.record
        update: dict[str, object] = {}
        if rule == "material.file.sha256":
            assert m.data is not None
            data = bytearray(m.data)
            pos = len(data) // 2
            data[pos] ^= 0x01
            m.data = bytes(data)  # same size, other content; the manifest keeps the old hash
            field = "sha256"
        elif rule == "material.file.size":
            delta = rng.randint(1, 64)
            update = {"size": rec.size + delta if rng.random() < 0.5 or rec.size <= delta
                      else rec.size - delta}  # fmt: skip
            field = "size"
        elif rule == "material.file.missing":
            m.data = None
            field = "file"
        elif rule == "material.validity":
            assert rec.valid_from is not None
            update = {"valid_to": rec.valid_from - timedelta(days=rng.randint(1, 365))}
            field = "valid_to"
        else:  # material.file.unsafe_path: nothing is written anywhere for it
            update = {"file": UNSAFE_PATH}
            m.data = None
            field = "file"
        if update:
            m.record = rec.model_copy(update=update)
        defects.append(Defect("material", i, rule, field))
    return defects


# --- licenses ---------------------------------------------------------------------------


def plant_license_defects(rng: random.Random, licenses: list[License], rate: float) -> list[Defect]:
    """Replace records of ``licenses`` in place; return the defects planted."""
    applies: dict[str, Applies] = {
        "license.validity": lambda i: licenses[i].valid_from is not None,
        "citizen_id.check": lambda i: licenses[i].holder_id_type is IdType.CITIZEN_ID,
    }
    plan = _plan(rng, "license", len(licenses), rate, LICENSE_RULES, applies)
    defects = []
    for i, rule in plan:
        rec = licenses[i]
        if rule == "license_id.check":
            bad = rec.identifier[:-1] + _other_char(rng, rec.identifier[-1], _LICENSE_CHECK_CHARS)
            update: dict[str, object] = {"identifier": bad}
            field = "identifier"
        elif rule == "license.identifier.mismatch":
            ident = parse_license_identifier(rec.identifier)
            other_version = f"{int(rec.version) + 1:03d}"
            update = {
                "identifier": build_license_identifier(
                    ident.type_code, ident.issuer_code, ident.serial, other_version
                )
            }
            field = "identifier"
        elif rule == "license.validity":
            update = {"valid_to": rec.valid_from - timedelta(days=rng.randint(1, 365))}
            field = "valid_to"
        else:  # citizen_id.check on the holder
            update = {"holder_id": _bad_citizen_check(rng, rec.holder_id)}
            field = "holder_id"
        licenses[i] = rec.model_copy(update=update)
        defects.append(Defect("license", i, rule, field))
    return defects
