"""材料 (material) manifest records; the file itself is stored by sha256."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from standards.codes.enums import IdType
from standards.records.base import StandardRecord


class Material(StandardRecord):
    """One submitted document, described by its manifest entry."""

    kind: ClassVar[str] = "material"
    primary_key: ClassVar[tuple[str, ...]] = ("material_id",)

    material_id: str = Field(min_length=1, max_length=64, description="材料编号")
    name: str = Field(min_length=1, max_length=200, description="材料名称")
    material_type: str = Field(min_length=1, max_length=64, description="材料类型")
    holder_name: str = Field(min_length=1, max_length=200, description="材料所属主体")
    holder_id_type: IdType = Field(description="主体证件类型")
    holder_id_number: str = Field(min_length=1, max_length=64, description="主体证件号码")
    file: str = Field(min_length=1, max_length=255, description="文件（相对清单的路径）")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="文件 SHA-256")
    size: int = Field(ge=0, description="文件字节数")
    media_type: str = Field(min_length=3, max_length=127, description="媒体类型")
    valid_from: date | None = Field(default=None, description="有效期起始")
    valid_to: date | None = Field(default=None, description="有效期截止")
    source_case: str | None = Field(default=None, description="来源办件编号")
