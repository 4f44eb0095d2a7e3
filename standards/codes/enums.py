"""Enumerated code tables.

Values are the codes that travel in exchange files; ``label`` gives the Chinese name the
rules use, so reports and error messages can show what an auditor recognises.
"""

from __future__ import annotations

from enum import StrEnum


class _Coded(StrEnum):
    """A code whose value is the exchanged code and which carries a Chinese label."""

    label: str

    def __new__(cls, code: str, label: str) -> _Coded:
        obj = str.__new__(cls, code)
        obj._value_ = code
        obj.label = label
        return obj

    def __str__(self) -> str:
        return self.value


class ItemType(_Coded):
    """事项类型: positions 3–4 of the 基本编码."""

    LICENSING = ("01", "行政许可")
    PENALTY = ("02", "行政处罚")
    COERCION = ("03", "行政强制")
    LEVY = ("04", "行政征收")
    BENEFIT = ("05", "行政给付")
    INSPECTION = ("06", "行政检查")
    CONFIRMATION = ("07", "行政确认")
    REWARD = ("08", "行政奖励")
    ADJUDICATION = ("09", "行政裁决")
    OTHER_POWER = ("10", "其他行政权力")
    PUBLIC_SERVICE = ("20", "公共服务")


class ExerciseLevel(_Coded):
    """行使层级: the level of government that exercises an item (position 19 of 实施编码)."""

    NATIONAL = ("1", "国家级")
    PROVINCE = ("2", "省级")
    CITY = ("3", "市级")
    COUNTY = ("4", "县级")
    TOWNSHIP = ("5", "镇（乡、街道）级")
    VILLAGE = ("6", "村（社区）级")


class CaseState(_Coded):
    """办件状态 (工程建设审批 state codes, reused by most case systems)."""

    RECEIVED = ("1", "已接件")
    WITHDRAWN_BEFORE_ACCEPTANCE = ("2", "已撤件")
    ACCEPTED = ("3", "已受理")
    NOT_ACCEPTED = ("4", "不受理")
    REJECTED = ("5", "不予受理")
    CORRECTION_START = ("6", "补正(开始)")
    CORRECTION_END = ("7", "补正(结束)")
    PROCESSING = ("8", "部门开始办理")
    SPECIAL_START = ("9", "特别程序(开始)")
    SPECIAL_END = ("10", "特别程序(结束)")
    DONE_APPROVED = ("11", "办结(通过)")
    DONE_TOLERANCE = ("12", "办结(容缺通过)")
    DONE_DENIED = ("13", "办结(不通过)")
    RETRACTED = ("14", "撤回")
    REVOKED = ("15", "撤销")

    @property
    def is_final(self) -> bool:
        """Whether no further state may follow (a case is closed)."""
        return self in _FINAL_CASE_STATES

    @property
    def is_done(self) -> bool:
        """Whether this is one of the 办结 states."""
        return self in (CaseState.DONE_APPROVED, CaseState.DONE_TOLERANCE, CaseState.DONE_DENIED)


_FINAL_CASE_STATES = frozenset(
    {
        CaseState.WITHDRAWN_BEFORE_ACCEPTANCE,
        CaseState.NOT_ACCEPTED,
        CaseState.REJECTED,
        CaseState.RETRACTED,
        CaseState.REVOKED,
    }
)


class IdType(_Coded):
    """证件类型 / 持证主体代码类型 (GB/T 36902 uses 111 for 公民身份号码)."""

    CITIZEN_ID = ("111", "居民身份证")
    USCC = ("001", "统一社会信用代码")
    PASSPORT = ("414", "普通护照")
    HK_MACAO_PERMIT = ("516", "港澳居民来往内地通行证")
    TAIWAN_PERMIT = ("511", "台湾居民来往大陆通行证")
    FOREIGN_PERMANENT = ("553", "外国人永久居留身份证")
    OTHER = ("999", "其他")

    @property
    def is_person(self) -> bool:
        """Whether the identifier names a natural person (and so is personal data)."""
        return self is not IdType.USCC


class ReviewStatus(_Coded):
    """事项状态 along the registration and publication workflow of the item rules."""

    REGISTERED = ("registered", "已录入")
    REVIEWED = ("reviewed", "编制部门已审核")
    CHECKED = ("checked", "政务服务管理部门已审核")
    PUBLISHED = ("published", "已发布")
    CANCELLED = ("cancelled", "已取消")


class LicenseStatus(_Coded):
    """证照状态."""

    VALID = ("valid", "有效")
    EXPIRED = ("expired", "已过期")
    REVOKED = ("revoked", "已吊销/注销")
    SUPERSEDED = ("superseded", "已被新版本替代")
