"""办件 (case) records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from standards.codes.enums import CaseState, IdType
from standards.identifiers.normalize import normalize_code
from standards.records.base import StandardRecord

# The codes that key the libraries (the item a case is handled under, its serial) in
# their canonical form: typed by hand they carry lower case, spaces, hyphens and
# full-width digits, and a lookup or a uniqueness check on the raw text would take one
# code for two. The record as delivered stays in quarantine payloads.
Code = Annotated[str, AfterValidator(normalize_code)]


class Applicant(BaseModel):
    """申请人. ``id_number`` is personal data when ``id_type`` names a person."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, description="申请人名称")
    id_type: IdType = Field(description="证件类型")
    id_number: str = Field(min_length=1, max_length=64, description="证件号码")
    phone: str | None = Field(default=None, max_length=32, description="联系电话")


class CaseEvent(BaseModel):
    """One state change of a case, with the time it happened. Events are only appended."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    state: CaseState = Field(description="办件状态")
    at: datetime = Field(description="发生时间")
    actor: str | None = Field(default=None, description="经办人/经办部门")
    note: str | None = Field(default=None, description="意见")


class Case(StandardRecord):
    """One application handled under an item.

    ``dept_case_no`` is the department's own number exactly as given (its format varies by
    system); ``serial`` is the hub's 统一业务流水号, assigned by the hub when absent.
    """

    kind: ClassVar[str] = "case"
    primary_key: ClassVar[tuple[str, ...]] = ("source_system", "dept_case_no")

    source_system: str = Field(min_length=1, max_length=64, description="来源系统")
    dept_case_no: str = Field(min_length=1, max_length=64, description="部门办件编号")
    serial: Code | None = Field(default=None, description="统一业务流水号")
    impl_code: Code = Field(description="实施编码")
    handling_code: Code | None = Field(default=None, description="业务办理项编码")
    item_name: str | None = Field(default=None, description="事项名称")
    applicant: Applicant
    events: list[CaseEvent] = Field(min_length=1, description="状态历史")
    accepted_at: datetime | None = Field(default=None, description="受理时间")
    decided_at: datetime | None = Field(default=None, description="办结时间")
    decision: str | None = Field(default=None, description="办理结果")
    delivered_at: datetime | None = Field(default=None, description="送达时间")
    delivery_method: str | None = Field(default=None, description="送达方式")
    promised_limit_days: int | None = Field(default=None, ge=0, description="承诺时限（工作日）")
    promised_deadline: date | None = Field(default=None, description="承诺办结日期")
    region_code: str | None = Field(default=None, description="办理地行政区划代码")
    material_ids: list[str] = Field(default_factory=list, description="提交材料编号")
    updated_at: datetime | None = Field(default=None, description="源系统更新时间")

    @property
    def current_state(self) -> CaseState:
        """The state after the latest event."""
        return self.events[-1].state
