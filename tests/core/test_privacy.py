from __future__ import annotations

import pytest
from factories import CITIZEN_ID

from tongyuan.config import Settings
from tongyuan.privacy import CIPHERTEXT_PREFIX, PiiError, PiiProtector, mask_payload


def test_encrypt_round_trip_and_fresh_nonce(protector: PiiProtector) -> None:
    a, b = protector.encrypt(CITIZEN_ID), protector.encrypt(CITIZEN_ID)
    assert a.startswith(CIPHERTEXT_PREFIX)
    assert a != b
    assert CITIZEN_ID not in a
    assert protector.decrypt(a) == CITIZEN_ID == protector.decrypt(b)


def test_wrong_key_and_tampering_are_detected(protector: PiiProtector) -> None:
    token = protector.encrypt(CITIZEN_ID)
    with pytest.raises(PiiError):
        PiiProtector(b"\x01" * 32).decrypt(token)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(PiiError):
        protector.decrypt(flipped)
    with pytest.raises(PiiError):
        protector.decrypt("plain text")


def test_lookup_hash_is_keyed_and_normalised(protector: PiiProtector) -> None:
    h = protector.lookup_hash(CITIZEN_ID)
    assert len(h) == 64
    assert protector.lookup_hash(" 44030119900101123x ") == h
    assert PiiProtector(b"\x02" * 32).lookup_hash(CITIZEN_ID) != h
    assert protector.lookup_hash("360426199101010071") != h


def test_lookup_key_differs_from_encryption_key(protector: PiiProtector) -> None:
    import hashlib
    import hmac

    master = bytes(range(32))
    assert (
        protector.lookup_hash(CITIZEN_ID)
        != hmac.new(master, CITIZEN_ID.encode(), hashlib.sha256).hexdigest()
    )


def test_mask_format(protector: PiiProtector) -> None:
    assert protector.masked("440301199001011234") == "4403**********1234"


def test_repr_hides_key(protector: PiiProtector) -> None:
    assert "hidden" in repr(protector)


def test_key_length_enforced() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        PiiProtector(b"short")


def test_mask_payload_masks_id_fields_and_free_text() -> None:
    payload = {
        "applicant": {"id_number": "E12345678", "name": "李四"},
        "note": f"申请人 {CITIZEN_ID} 补交材料",
        "list": [{"holder_id": CITIZEN_ID}],
        "count": 3,
    }
    masked = mask_payload(payload)
    assert masked["applicant"]["id_number"] == "E******78"  # a third of a passport
    assert CITIZEN_ID not in str(masked)
    assert "4403**********123X" in masked["note"]
    assert masked["list"][0]["holder_id"] == "4403**********123X"
    assert masked["count"] == 3
    # Shown again (a stored masked payload is masked again at display): the same, and a
    # mask of an older version (E123*5678, 8 of 9 characters) as today's.
    assert mask_payload(masked) == masked
    older = {**masked, "applicant": {"id_number": "E123*5678", "name": "李四"}}
    assert mask_payload(older) == masked


def test_from_settings_uses_the_installation_key(settings: Settings) -> None:
    a = PiiProtector.from_settings(settings)
    assert a.decrypt(PiiProtector(bytes(range(32))).encrypt("x")) == "x"
