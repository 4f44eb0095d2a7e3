"""政务服务事项 (government service item) records."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from standards.codes.enums import ExerciseLevel, ItemType, ReviewStatus
from standards.records.base import StandardRecord


class Fee(BaseModel):
    """收费: one charge attached to an item."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, description="收费项目名称")
    standard: str = Field(min_length=1, description="收费标准")
    basis: str | None = Field(default=None, description="收费依据")


class RequiredMaterial(BaseModel):
    """申请材料: one material an applicant must submit for the item."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, description="材料名称")
    material_type: str | None = Field(default=None, description="材料类型")
    form: str = Field(default="原件", description="材料形式（原件/复印件/电子）")
    copies: int = Field(default=1, ge=0, description="份数")
    required: bool = Field(default=True, description="是否必要")
    source: str | None = Field(default=None, description="来源渠道")


class Item(StandardRecord):
    """One item at one node: a base-catalogue entry or an authority's implementation of it.

    The elements split by owner (一数一源): ``BASE_ELEMENTS`` belong to the level that issued
    the base catalogue, ``IMPLEMENTATION_ELEMENTS`` to the implementing authority.
    """

    kind: ClassVar[str] = "item"
    primary_key: ClassVar[tuple[str, ...]] = ("impl_code",)

    BASE_ELEMENTS: ClassVar[tuple[str, ...]] = (
        "basic_code",
        "name",
        "item_type",
        "legal_basis",
        "statutory_limit_days",
    )
    IMPLEMENTATION_ELEMENTS: ClassVar[tuple[str, ...]] = (
        "conditions",
        "promised_limit_days",
        "location",
        "process",
        "fees",
        "query_channels",
        "consult_channels",
        "complaint_channels",
        "materials",
        "authority_name",
        "authority_uscc",
        "exercise_level",
        "region_code",
    )

    basic_code: str = Field(description="基本编码 (12)")
    impl_code: str = Field(description="实施编码 (31)")
    handling_code: str | None = Field(default=None, description="业务办理项编码 (33)")
    name: str = Field(min_length=1, max_length=200, description="事项名称")
    item_type: ItemType = Field(description="事项类型")
    legal_basis: str = Field(min_length=1, description="设立依据")
    conditions: str = Field(min_length=1, description="办理条件")
    statutory_limit_days: int = Field(ge=0, le=3650, description="法定时限（工作日）")
    promised_limit_days: int = Field(ge=0, le=3650, description="承诺时限（工作日）")
    location: str = Field(min_length=1, description="办理地点")
    process: str = Field(min_length=1, description="办理流程")
    fees: list[Fee] = Field(default_factory=list, description="收费（空表示不收费）")
    query_channels: str = Field(min_length=1, description="查询渠道")
    consult_channels: str = Field(min_length=1, description="咨询方式")
    complaint_channels: str = Field(min_length=1, description="投诉方式")
    materials: list[RequiredMaterial] = Field(default_factory=list, description="申请材料")
    authority_name: str = Field(min_length=1, description="实施机构")
    authority_uscc: str = Field(description="实施机构统一社会信用代码")
    exercise_level: ExerciseLevel = Field(description="行使层级")
    region_code: str = Field(description="行政区划代码")
    status: ReviewStatus = Field(default=ReviewStatus.PUBLISHED, description="事项状态")
    updated_at: datetime | None = Field(default=None, description="源系统更新时间")
