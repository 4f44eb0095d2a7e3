"""Verification report in the shape of ETSI EN 319 102-1 as EU DSS produces it.

An auditor reads the indication first, then the sub-indication that says why, then every
check that ran. Checks that could not run (``passed is None``) are kept, because "not
checked" and "checked and fine" must never look the same in a report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Indication(StrEnum):
    """Main status indication (EN 319 102-1 §5.1.3)."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    INDETERMINATE = "INDETERMINATE"

    @property
    def label(self) -> str:
        """Chinese name, shown beside the code in human-readable reports."""
        return _INDICATION_LABELS[self]


class SubIndication(StrEnum):
    """Why a signature is not PASSED (EN 319 102-1 table 5)."""

    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    REVOCATION_OUT_OF_BOUNDS_NO_POE = "REVOCATION_OUT_OF_BOUNDS_NO_POE"

    @property
    def indication(self) -> Indication:
        """The main indication this sub-indication belongs to.

        Only proven defects are FAILED; everything a proof of existence, a fresh CRL or a
        different policy could still change is INDETERMINATE (never PASSED).
        """
        return Indication.FAILED if self in _FAILED else Indication.INDETERMINATE

    @property
    def label(self) -> str:
        """Chinese name for human-readable reports."""
        return _SUB_LABELS[self]


_FAILED = frozenset(
    {
        SubIndication.FORMAT_FAILURE,
        SubIndication.HASH_FAILURE,
        SubIndication.SIG_CRYPTO_FAILURE,
        SubIndication.REVOKED,
        SubIndication.EXPIRED,
        SubIndication.NOT_YET_VALID,
    }
)

# Most severe first: proven defects, then what stops a chain, then what may clear later.
SEVERITY: tuple[SubIndication, ...] = (
    SubIndication.FORMAT_FAILURE,
    SubIndication.SIG_CRYPTO_FAILURE,
    SubIndication.HASH_FAILURE,
    SubIndication.REVOKED,
    SubIndication.EXPIRED,
    SubIndication.NOT_YET_VALID,
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    SubIndication.REVOKED_NO_POE,
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
    SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    SubIndication.SIG_CONSTRAINTS_FAILURE,
    SubIndication.SIGNED_DATA_NOT_FOUND,
    SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE,
    SubIndication.TRY_LATER,
)


def most_severe(subindications: Iterable[SubIndication]) -> SubIndication:
    """The sub-indication a report shows when several checks failed."""
    return min(subindications, key=SEVERITY.index)


_INDICATION_LABELS = {
    Indication.PASSED: "验证通过",
    Indication.FAILED: "验证失败",
    Indication.INDETERMINATE: "无法确定",
}

_SUB_LABELS = {
    SubIndication.FORMAT_FAILURE: "签名格式错误",
    SubIndication.HASH_FAILURE: "内容已被篡改(摘要不符)",
    SubIndication.SIG_CRYPTO_FAILURE: "签名值验证失败",
    SubIndication.REVOKED: "证书已吊销",
    SubIndication.REVOKED_NO_POE: "证书已因密钥泄露吊销,无法证明签名早于吊销",
    SubIndication.EXPIRED: "签名时证书已过期",
    SubIndication.NOT_YET_VALID: "签名时证书尚未生效",
    SubIndication.NO_CERTIFICATE_CHAIN_FOUND: "无法构建到可信根的证书链",
    SubIndication.CHAIN_CONSTRAINTS_FAILURE: "证书链约束不满足",
    SubIndication.CRYPTO_CONSTRAINTS_FAILURE: "算法强度不满足要求",
    SubIndication.SIG_CONSTRAINTS_FAILURE: "签名属性不满足约束",
    SubIndication.TRY_LATER: "吊销信息缺失或过期,请稍后重试",
    SubIndication.SIGNED_DATA_NOT_FOUND: "找不到被签名的数据",
    SubIndication.REVOCATION_OUT_OF_BOUNDS_NO_POE: "吊销信息不在有效范围内",
}


@dataclass
class Check:
    """One check that ran (or could not run) during validation."""

    name: str
    passed: bool | None  # None = could not run
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass
class VerificationReport:
    """The outcome of validating one signature."""

    indication: Indication
    subindication: SubIndication | None
    signer: str | None = None
    signer_fingerprint: str | None = None
    signing_time: datetime | None = None
    algorithm: str | None = None
    format: str = "detached"
    checks: list[Check] = field(default_factory=list)
    # What a signed license says (its ``license.*`` checks), judged apart from the
    # signature: True/False once checked, None when nothing was (not a license, or the
    # signature failed). The indication stays the signature's alone.
    content_passed: bool | None = None

    @property
    def passed(self) -> bool:
        """True only for PASSED — INDETERMINATE is not a pass."""
        return self.indication is Indication.PASSED

    @classmethod
    def failure(
        cls,
        subindication: SubIndication,
        checks: Iterable[Check],
        *,
        format: str,
        **context: Any,
    ) -> VerificationReport:
        """A report whose indication follows from the sub-indication."""
        return cls(
            indication=subindication.indication,
            subindication=subindication,
            format=format,
            checks=list(checks),
            **context,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; times in ISO 8601 UTC, enums as their codes."""
        return {
            "indication": self.indication.value,
            "indication_label": self.indication.label,
            "subindication": self.subindication.value if self.subindication else None,
            "subindication_label": self.subindication.label if self.subindication else None,
            "format": self.format,
            "signer": self.signer,
            "signer_fingerprint": self.signer_fingerprint,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "algorithm": self.algorithm,
            "checks": [c.to_dict() for c in self.checks],
            "content_passed": self.content_passed,
        }
