"""record_json_hash must hash exactly what json_hash hashes: stored content hashes of
cases written before it (and by the one-by-one path) are compared with it."""

from __future__ import annotations

import random

import pytest

from tongyuan.libraries.base import canonical_json, json_hash, record_json_hash


def _every_character_below(limit: int) -> str:
    return "".join(chr(c) for c in range(limit) if not 0xD800 <= c <= 0xDFFF)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"b": 1, "a": [None, True, False, 0, -1, 2**63 - 1, -(2**63)]},
        {"名称": "不动产登记（转移登记）", "嵌套": {"z": [], "a": {"k": "全角ＡＢＣ"}}},
        {"controls": _every_character_below(0x80)},
        {"wide": _every_character_below(0x3000)},
        {"astral": "𠀀𪚥😀\u2028\u2029\ufeff\u007f\u0085"},
        {"quotes": '"\\/\b\f\n\r\t', 'key\twith\ncontrols"': "v"},
        {"case": {"a": "1"}, "events": [{"state": "11", "at": "2026-01-05T01:38:43+00:00"}]},
    ],
)
def test_the_same_bytes_as_canonical_json(document: dict) -> None:
    assert record_json_hash(document) == json_hash(document)


def test_random_documents_hash_alike() -> None:
    rng = random.Random(2026)
    alphabet = [chr(c) for c in (*range(0, 0x80), *range(0x4E00, 0x4E40), 0x3000, 0xFF01)]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))

    def value(depth: int) -> object:
        pick = rng.randrange(7 if depth < 3 else 5)
        if pick == 0:
            return text()
        if pick == 1:
            return rng.randrange(-(2**63), 2**63)
        if pick == 2:
            return rng.choice([True, False, None])
        if pick == 3:
            return text()
        if pick == 4:
            return rng.randrange(-1000, 1000)
        if pick == 5:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {text(): value(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(2000):
        document = {text(): value(0) for _ in range(rng.randrange(1, 6))}
        assert record_json_hash(document) == json_hash(document), canonical_json(document)


def test_integers_beyond_64_bits_fall_back() -> None:
    document = {"n": 2**70, "m": -(2**70)}
    assert record_json_hash(document) == json_hash(document)
