"""The demo's licence table: one order whatever order the run's counts came back in."""

from __future__ import annotations

import random

from tongyuan.cli.demo_pipelines import licence_rows

# As PostgreSQL's jsonb returned them (shorter keys first), and some with nothing counted.
_COUNTS = {
    "usable": 171,
    "checked": 174,
    "status_valid": 172,
    "status_revoked": 2,
    "status_expired": 0,
    "status_unheard_of": 1,
    "indication_failed": 3,
    "indication_passed": 170,
    "indication_indeterminate": 1,
    "crl_changed": 0,
}
_EXPECTED = [
    ("checked", 174),
    ("indication_passed", 170),
    ("indication_failed", 3),
    ("indication_indeterminate", 1),
    ("status_valid", 172),
    ("status_revoked", 2),
    ("status_unheard_of", 1),
]


def test_rows_come_in_one_order_whatever_the_key_order() -> None:
    items = list(_COUNTS.items())
    orders = [items, items[::-1], sorted(items), sorted(items, key=lambda kv: (len(kv[0]), kv[0]))]
    rng = random.Random(7)
    for _ in range(50):
        orders.append(rng.sample(items, len(items)))
    for order in orders:
        assert licence_rows(dict(order)) == _EXPECTED
