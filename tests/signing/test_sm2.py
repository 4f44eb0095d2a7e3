"""SM2/SM3 primitives: round trips, tampering, published vectors, cross-implementation.

Published values come from the standards, never from this code:
- SM3: GB/T 32905-2016 Annex A, examples 1 ("abc") and 2 ("abcd" × 16).
- SM2: GM/T 0003.5-2012 Annex A / GB/T 32918.5-2017 Annex A, the signature example on
  the recommended curve (signer ID 1234567812345678, message "message digest"); the
  same numbers are in OpenSSL's test/sm2_internal_test.c.
"""

from __future__ import annotations

import importlib.util
import secrets
import sys
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from gmssl import sm2 as gmssl_sm2
from gmssl import sm3 as gmssl_sm3

from signing import sm2
from signing.sm2_curve import N, decode_sm2_spki, encode_sm2_spki, message_digest, z_value
from signing.sm3 import sm3

# GM/T 0003.5-2012 Annex A (= GB/T 32918.5-2017 Annex A), signature example.
VEC_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
VEC_X = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
VEC_Y = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13
VEC_MSG = b"message digest"
VEC_Z = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
VEC_E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
VEC_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
VEC_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
VEC_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA

OTHER_UID = b"ALICE123@YAHOO.COM"


@pytest.fixture(scope="module")
def key():
    return sm2.generate_sm2_key()


@pytest.fixture(scope="module")
def spki(key) -> bytes:
    return sm2.sm2_public_key_spki(key)


def _vector_spki() -> bytes:
    return encode_sm2_spki(VEC_X, VEC_Y)  # the published public key, not derived here


def _load_sm2_without_tongsuopy(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh copy of signing/sm2.py imported while ``import tongsuopy`` fails.

    The real ``signing.sm2`` stays untouched for the other tests; sys.modules is
    restored by monkeypatch afterwards.
    """
    for name in list(sys.modules):
        if name == "tongsuopy" or name.startswith("tongsuopy."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tongsuopy", None)  # makes every tongsuopy import fail
    spec = importlib.util.spec_from_file_location("sm2_without_tongsuopy", sm2.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- SM3 ----------------------------------------------------------------------------------


def test_sm3_published_vectors():
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert (
        sm3(b"abcd" * 16).hex()
        == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_sm3_agrees_with_gmssl():
    data = "电子证照 1.2.156.3005.2".encode() * 7
    assert sm3(data).hex() == gmssl_sm3.sm3_hash(list(data))


# --- round trip and tampering ---------------------------------------------------------------


def test_sign_verify_round_trip(key, spki):
    sig = sm2.sm2_sign(key, b"license body")
    assert sig[0] == 0x30
    assert sm2.sm2_verify(spki, b"license body", sig)
    assert sm2.sm2_backend() == "tongsuopy"


def test_signatures_are_randomised(key, spki):
    assert sm2.sm2_sign(key, b"x") != sm2.sm2_sign(key, b"x")


def test_altered_data_fails(key, spki):
    signed = "holder=张三".encode()
    sig = sm2.sm2_sign(key, signed)
    assert not sm2.sm2_verify(spki, "holder=李四".encode(), sig)
    assert not sm2.sm2_verify(spki, signed + b" ", sig)
    assert not sm2.sm2_verify(spki, signed[:-1], sig)


def test_large_data_round_trip(key, spki):
    data = "营业执照".encode() * 2000  # past the size whose outcomes are cached
    sig = sm2.sm2_sign(key, data)
    assert sm2.sm2_verify(spki, data, sig)
    assert not sm2.sm2_verify(spki, data[:-1] + b"!", sig)
    assert not sm2.sm2_verify(spki, data, sig, uid=OTHER_UID)


def test_altered_signature_fails(key, spki):
    sig = sm2.sm2_sign(key, b"data")
    r, s = decode_dss_signature(sig)
    assert not sm2.sm2_verify(spki, b"data", encode_dss_signature(r, (s + 1) % N))
    assert not sm2.sm2_verify(spki, b"data", encode_dss_signature((r + 1) % N, s))
    flipped = bytearray(sig)
    flipped[-1] ^= 0x01
    assert not sm2.sm2_verify(spki, b"data", bytes(flipped))


def test_malformed_signatures_are_false_not_errors(key, spki):
    sig = sm2.sm2_sign(key, b"data")
    r, s = decode_dss_signature(sig)
    for bad in (
        b"",
        b"\x30\x00",
        sig[:-1],
        sig + b"\x00",
        encode_dss_signature(0, s),
        encode_dss_signature(r, N),  # s out of range
        encode_dss_signature(r, s + N),  # same s mod n, non-canonical value
        b"\x30\x81" + bytes([len(sig) - 2]) + sig[2:],  # BER long-form length
    ):
        assert not sm2.sm2_verify(spki, b"data", bad)


def test_wrong_key_or_non_sm2_key_fails(key):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sig = sm2.sm2_sign(key, b"data")
    other = sm2.sm2_public_key_spki(sm2.generate_sm2_key())
    assert not sm2.sm2_verify(other, b"data", sig)
    p256 = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert not sm2.sm2_verify(p256, b"data", sig)
    assert not sm2.sm2_verify(b"not a key", b"data", sig)


def test_point_off_curve_is_refused(spki, key):
    sig = sm2.sm2_sign(key, b"data")
    broken = spki[:-1] + bytes([spki[-1] ^ 0x01])
    with pytest.raises(sm2.SM2KeyError):
        decode_sm2_spki(broken)
    assert not sm2.sm2_verify(broken, b"data", sig)


def test_wrong_uid_fails(key, spki):
    sig = sm2.sm2_sign(key, b"data")
    assert not sm2.sm2_verify(spki, b"data", sig, uid=OTHER_UID)
    sig_other = sm2.sm2_sign(key, b"data", uid=OTHER_UID)
    assert sm2.sm2_verify(spki, b"data", sig_other, uid=OTHER_UID)
    assert not sm2.sm2_verify(spki, b"data", sig_other)
    assert not sm2.sm2_verify(spki, b"data", sig_other, uid=b"ALICE123@YAHOO.CON")


def test_explicit_default_uid_path_matches_tongsuo_default(key, spki):
    """Our Z computation (used for non-default IDs) agrees with Tongsuo's built-in one."""
    numbers = key.public_key().public_numbers()
    e = message_digest(numbers.x, numbers.y, b"data")
    sig = sm2._evp_pkey_sign_digest(key, e)
    assert sm2.sm2_verify(spki, b"data", sig)  # Tongsuo's EVP_DigestVerify, its own Z
    assert sm2._evp_pkey_verify_digest(key.public_key(), sm2.sm2_sign(key, b"data"), e)


# --- published vector -----------------------------------------------------------------------


def test_published_vector_key_z_and_digest():
    derived = sm2.sm2_public_key_spki(sm2.sm2_private_key_from_scalar(VEC_D))
    assert derived == _vector_spki()  # P = dG as published
    x, y = decode_sm2_spki(derived)
    assert z_value(x, y) == VEC_Z
    assert message_digest(x, y, VEC_MSG) == VEC_E


def test_published_vector_signature_verifies():
    sig = encode_dss_signature(VEC_R, VEC_S)
    assert sm2.sm2_verify(_vector_spki(), VEC_MSG, sig)
    assert not sm2.sm2_verify(_vector_spki(), b"message digesT", sig)


def test_published_vector_signature_equation_reproduced():
    """r = (e + x1) mod n with (x1, y1) = kG, s = (1 + d)^-1 (k - r d) mod n (§6.1 A4–A6)."""
    x1 = sm2.sm2_private_key_from_scalar(VEC_K).public_key().public_numbers().x
    e = int.from_bytes(VEC_E, "big")
    r = (e + x1) % N
    s = pow(1 + VEC_D, -1, N) * (VEC_K - r * VEC_D) % N
    assert (r, s) == (VEC_R, VEC_S)


# --- cross-implementation --------------------------------------------------------------------


def _gmssl(public_x: int, public_y: int, private: int | None = None) -> gmssl_sm2.CryptSM2:
    crypt = gmssl_sm2.CryptSM2(private_key=f"{private:064x}" if private else "", public_key="")
    crypt.public_key = f"{public_x:064x}{public_y:064x}"  # bypass gmssl's lstrip("04")
    return crypt


def test_tongsuopy_signature_verifies_with_gmssl(key):
    n = key.public_key().public_numbers()
    for i in range(5):
        data = f"证照 {i}".encode()
        r, s = decode_dss_signature(sm2.sm2_sign(key, data))
        # gmssl's own Z (default ID) and its own pure-Python SM3: independent of our code.
        assert _gmssl(n.x, n.y).verify_with_sm3(f"{r:064x}{s:064x}", data)
        assert not _gmssl(n.x, n.y).verify_with_sm3(f"{r:064x}{s:064x}", data + b"!")


def test_gmssl_signature_verifies_with_tongsuopy(key, spki):
    # gmssl signs here only to produce a second implementation's signature for the
    # cross-check. Its default nonce comes from `random`, so the nonce is passed in from
    # `secrets`; production code never signs with gmssl at all.
    n = key.public_key().public_numbers()
    d = key.private_numbers().private_value
    crypt = _gmssl(n.x, n.y, d)
    for i in range(5):
        data = f"办件 {i}".encode()
        raw = crypt.sign_with_sm3(data, f"{secrets.randbelow(N - 1) + 1:064x}")
        sig = encode_dss_signature(int(raw[:64], 16), int(raw[64:], 16))
        assert sm2.sm2_verify(spki, data, sig)
        assert not sm2.sm2_verify(spki, data, sig, uid=OTHER_UID)


def test_non_default_uid_agrees_with_gmssl_arithmetic(key, spki):
    """A custom-ID signature checked by gmssl over e computed with gmssl's own SM3."""
    n = key.public_key().public_numbers()
    r, s = decode_dss_signature(sm2.sm2_sign(key, b"data", uid=OTHER_UID))
    crypt = _gmssl(n.x, n.y)
    z_input = (
        (len(OTHER_UID) * 8).to_bytes(2, "big")
        + OTHER_UID
        + bytes.fromhex(gmssl_sm2.default_ecc_table["a"] + gmssl_sm2.default_ecc_table["b"])
        + bytes.fromhex(gmssl_sm2.default_ecc_table["g"] + crypt.public_key)
    )
    z = bytes.fromhex(gmssl_sm3.sm3_hash(list(z_input)))
    e = bytes.fromhex(gmssl_sm3.sm3_hash(list(z + b"data")))
    assert crypt.verify(f"{r:064x}{s:064x}", e)


# --- fallback --------------------------------------------------------------------------------


def test_fallback_verifies_when_tongsuopy_cannot_import(monkeypatch, key, spki):
    sig = sm2.sm2_sign(key, b"data")
    sig_uid = sm2.sm2_sign(key, b"data", uid=OTHER_UID)
    fallback = _load_sm2_without_tongsuopy(monkeypatch)
    assert fallback.sm2_backend() == "gmssl"
    assert fallback.sm2_verify(spki, b"data", sig)
    assert not fallback.sm2_verify(spki, b"date", sig)
    assert not fallback.sm2_verify(spki, b"data", sig, uid=OTHER_UID)
    assert fallback.sm2_verify(spki, b"data", sig_uid, uid=OTHER_UID)
    vector = encode_dss_signature(VEC_R, VEC_S)
    assert fallback.sm2_verify(_vector_spki(), VEC_MSG, vector)
    assert not fallback.sm2_verify(_vector_spki(), VEC_MSG + b" ", vector)


def test_fallback_refuses_to_sign_or_make_keys(monkeypatch, key):
    fallback = _load_sm2_without_tongsuopy(monkeypatch)
    with pytest.raises(fallback.SM2Unavailable):
        fallback.generate_sm2_key()
    with pytest.raises(fallback.SM2Unavailable):
        fallback.sm2_sign(key, b"data")


def test_fallback_handles_keys_whose_hex_starts_with_0_or_4(monkeypatch):
    """gmssl lstrips "04" from key hex; keys with such x must still verify."""
    wanted = {"04": None, "4": None}
    d = 1
    while None in wanted.values():
        d += 1
        candidate = sm2.sm2_private_key_from_scalar(d)
        x_hex = f"{candidate.public_key().public_numbers().x:064x}"
        for prefix in wanted:
            if wanted[prefix] is None and x_hex.startswith(prefix):
                wanted[prefix] = candidate
    keys = list(wanted.values())
    signed = [(sm2.sm2_public_key_spki(k), sm2.sm2_sign(k, b"m")) for k in keys]
    fallback = _load_sm2_without_tongsuopy(monkeypatch)
    for spki_der, sig in signed:
        assert fallback.sm2_verify(spki_der, b"m", sig)


# --- keys ------------------------------------------------------------------------------------


def test_private_key_pem_round_trip(tmp_path: Path, key, spki):
    path = tmp_path / "sm2.pem"
    sm2.save_sm2_private_key(key, path)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = sm2.load_sm2_private_key(path)
    assert sm2.sm2_public_key_spki(loaded) == spki
    assert sm2.sm2_verify(spki, b"m", sm2.sm2_sign(loaded, b"m"))


def test_encrypted_pem_needs_its_password(tmp_path: Path, key, spki):
    path = tmp_path / "sm2-enc.pem"
    sm2.save_sm2_private_key(key, path, password=b"s3cret")
    assert b"ENCRYPTED" in path.read_bytes()
    assert sm2.sm2_public_key_spki(sm2.load_sm2_private_key(path, b"s3cret")) == spki
    with pytest.raises(sm2.SM2KeyError, match=str(path)):
        sm2.load_sm2_private_key(path, b"wrong")


def test_non_sm2_pem_is_refused(tmp_path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(sm2.SM2KeyError, match="SM2"):
        sm2.load_sm2_private_key_pem(pem)
    with pytest.raises(sm2.SM2KeyError):
        sm2.load_sm2_private_key(tmp_path / "missing.pem")


def test_spki_is_the_gmt_0015_encoding(spki):
    assert spki.hex().startswith("3059301306072a8648ce3d020106082a811ccf5501822d")
