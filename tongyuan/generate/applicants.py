"""Applicants: residents with valid citizen ID numbers and companies with valid USCCs.

A pool is drawn once and cases pick from it, so the same person or company applies
several times, as in real case data (and as the libraries must handle).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from standards.codes.enums import IdType
from standards.codes.regions import REGIONS, RegionLevel
from standards.identifiers import USCC_ALPHABET, citizen_id_check_char, uscc_check_char
from standards.records import Applicant
from tongyuan.generate import names
from tongyuan.generate.topology import Topology

_BIRTH_FIRST = date(1950, 1, 1).toordinal()
_BIRTH_LAST = date(2005, 12, 31).toordinal()


@dataclass(frozen=True, slots=True)
class Party:
    """An applicant, with what material files and licenses need to know about it."""

    applicant: Applicant
    is_person: bool


def _other_counties() -> tuple[str, ...]:
    """County codes anywhere in the table: people born elsewhere (migrants) hold these."""
    return tuple(sorted(r.code for r in REGIONS if r.level is RegionLevel.COUNTY))


def _citizen_id(rng: random.Random, region: str, male: bool) -> str:
    born = date.fromordinal(rng.randint(_BIRTH_FIRST, _BIRTH_LAST))
    seq = rng.randrange(500) * 2 + (1 if male else 0)  # odd for men (GB 11643)
    first17 = f"{region}{born.year:04d}{born.month:02d}{born.day:02d}{seq:03d}"
    return first17 + citizen_id_check_char(first17)


def _company_uscc(rng: random.Random, region: str) -> str:
    if rng.random() < 0.7:
        org = "MA5" + "".join(rng.choice(USCC_ALPHABET) for _ in range(6))
    else:
        org = "".join(rng.choice("0123456789") for _ in range(8)) + rng.choice(USCC_ALPHABET)
    first17 = "91" + region + org
    return first17 + uscc_check_char(first17)


def build_people(rng: random.Random, topology: Topology, count: int) -> list[Party]:
    """``count`` distinct residents, most born in the topology's districts."""
    local = topology.citizen_region_codes or (topology.city_code,)
    elsewhere = _other_counties()
    seen: set[str] = set()
    people: list[Party] = []
    while len(people) < count:
        male = rng.random() < 0.5
        region = rng.choice(local) if rng.random() < 0.7 else rng.choice(elsewhere)
        number = _citizen_id(rng, region, male)
        if number in seen:
            continue
        seen.add(number)
        applicant = Applicant.model_construct(
            name=names.person_name(rng, male),
            id_type=IdType.CITIZEN_ID,
            id_number=number,
            phone=names.mobile_number(rng),
        )
        people.append(Party(applicant, True))
    return people


def build_companies(rng: random.Random, topology: Topology, count: int) -> list[Party]:
    """``count`` distinct companies registered in the topology's city and districts."""
    city_node = next(n for n in topology.nodes if n.code == topology.city_code)
    districts = [n for n in topology.nodes if n.code in topology.citizen_region_codes]
    seen: set[str] = set()
    companies: list[Party] = []
    while len(companies) < count:
        node = rng.choice(districts) if districts and rng.random() < 0.8 else city_node
        uscc = _company_uscc(rng, node.code)
        if uscc in seen:
            continue
        seen.add(uscc)
        district = node.short_name if node is not city_node else None
        phone = (
            names.landline(rng, node.area_code, node.phone_digits)
            if rng.random() < 0.5
            else names.mobile_number(rng)
        )
        applicant = Applicant.model_construct(
            name=names.company_name(rng, city_node.name, district),
            id_type=IdType.USCC,
            id_number=uscc,
            phone=phone,
        )
        companies.append(Party(applicant, False))
    return companies
