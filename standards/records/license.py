"""电子证照 (e-license) catalogue records, GB/T 36902 fields."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from standards.codes.enums import IdType, LicenseStatus
from standards.records.base import StandardRecord


class License(StandardRecord):
    """The catalogue entry of one e-license version (GB/T 36902)."""

    kind: ClassVar[str] = "license"
    primary_key: ClassVar[tuple[str, ...]] = ("identifier",)

    identifier: str = Field(description="证照标识 (GB/T 36904)")
    type_name: str = Field(min_length=1, description="证照类型名称")
    type_code: str = Field(description="证照类型代码 (21)")
    number: str = Field(min_length=1, max_length=64, description="证照编号")
    name: str = Field(min_length=1, description="证照名称")
    version: str = Field(pattern=r"^[0-9]{3}$", description="版本号")
    issue_date: date = Field(description="颁发日期")
    issuer_name: str = Field(min_length=1, description="颁发机构")
    issuer_code: str = Field(description="颁发机构代码")
    valid_from: date = Field(description="有效期起始")
    valid_to: date | None = Field(default=None, description="有效期截止（空为长期）")
    region_code: str = Field(description="管辖属地编码")
    holder_name: str = Field(min_length=1, description="持证主体")
    holder_id: str = Field(min_length=1, max_length=64, description="持证主体代码")
    holder_id_type: IdType = Field(description="持证主体代码类型")
    item_name: str | None = Field(default=None, description="关联事项名称")
    item_code: str | None = Field(default=None, description="关联事项编码")
    status: LicenseStatus = Field(default=LicenseStatus.VALID, description="状态")
    file: str | None = Field(default=None, description="证照文件（相对路径）")
    signature_ref: str | None = Field(default=None, description="签名文件（相对路径）")
