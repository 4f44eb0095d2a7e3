"""The catalogue of rules: every finding names one of these ids.

Titles are in Simplified Chinese because auditors read them; ``source`` says which
standard or regulation the rule comes from, so a report can cite it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str  # Chinese, for reports
    source: str


def _rules(*rows: tuple[str, str, str]) -> dict[str, Rule]:
    return {rid: Rule(rid, title, source) for rid, title, source in rows}


_GB32100 = "GB 32100-2015 统一社会信用代码"
_GB11643 = "GB 11643-1999 公民身份号码"
_GB2260 = "GB/T 2260 行政区划代码"
_ITEM_CODE = "政务服务事项编码规则（全国一体化政务服务平台）"
_GB36904 = "GB/T 36904-2018 电子证照 标识规范"
_GB36902 = "GB/T 36902-2018 电子证照 目录信息规范"
_STATES = "办件状态代码（工程建设项目审批）"
_XML = "同源交换格式（XSD）"
_ZIP = "ZIP 文件格式规范（PKWARE APPNOTE）"
_CWE22 = "CWE-22 路径穿越（Zip Slip）"
_CWE59 = "CWE-59 链接跟随"
_CWE409 = "CWE-409 高压缩比数据处理（压缩炸弹）"
_MATERIAL_SAFETY = "材料库入库安全要求（同源）"
_ITEM_LIST = "政务服务事项实施清单要素要求"
_XML_CHARS = "W3C XML 1.0（第五版）第 2.2 节 字符范围"
_FOUR_SAME = "国办发〔2022〕5号 政务服务事项“四级四同”（名称、编码、依据、类型相同）"

RULES: dict[str, Rule] = _rules(
    # Structure of exchange files and records.
    ("xml.unsafe", "文件含有不安全内容（DTD/实体/超限）", _XML),
    ("xml.malformed", "XML 格式错误", _XML),
    ("xml.encoding", "文件编码错误（须为 UTF-8）", _XML),
    ("xml.schema", "不符合交换格式 XSD", _XML),
    ("json.malformed", "JSON 格式错误", "JSON Lines 交换格式"),
    ("schema.required", "缺少必填项", _XML),
    ("schema.type", "字段类型或格式错误", _XML),
    ("schema.enum", "代码不在代码表中", _XML),
    ("schema.unknown_field", "含有未定义的字段", _XML),
    ("schema.limit", "记录数或长度超过限制", _XML),
    (
        "schema.xml_char",
        "字段含有 XML 无法表示的字符（控制字符、U+FFFE/U+FFFF、孤立代理项）",
        _XML_CHARS,
    ),
    ("record.check_failed", "校验程序未能完成对该记录的检查（待修复后重放）", "同源校验程序"),
    # Identifiers (the identifier modules raise these ids).
    ("uscc.length", "统一社会信用代码长度错误", _GB32100),
    ("uscc.charset", "统一社会信用代码含非法字符", _GB32100),
    ("uscc.region", "统一社会信用代码中的行政区划码错误", _GB32100),
    ("uscc.check", "统一社会信用代码校验码错误", _GB32100),
    ("citizen_id.length", "公民身份号码长度错误", _GB11643),
    ("citizen_id.charset", "公民身份号码含非法字符", _GB11643),
    ("citizen_id.region", "公民身份号码地址码错误", _GB11643),
    ("citizen_id.birth_date", "公民身份号码出生日期不存在或晚于今天", _GB11643),
    ("citizen_id.check", "公民身份号码校验码错误", _GB11643),
    ("region.format", "行政区划代码格式错误", _GB2260),
    ("region.unknown", "行政区划代码不存在", _GB2260),
    ("basic_code.format", "事项基本编码结构错误", _ITEM_CODE),
    ("basic_code.item_type", "事项基本编码中的事项类型不存在", _ITEM_CODE),
    ("impl_code.format", "事项实施编码结构错误", _ITEM_CODE),
    ("impl_code.level", "事项实施编码中的行使层级不存在", _ITEM_CODE),
    ("handling_code.format", "业务办理项编码结构错误", _ITEM_CODE),
    ("license_id.format", "电子证照标识结构错误", _GB36904),
    ("license_id.check", "电子证照标识校验位错误", _GB36904),
    ("case_serial.format", "统一业务流水号结构错误", "统一业务流水号规则"),
    # Items.
    ("item.impl_code.basic_mismatch", "实施编码与基本编码不一致", _ITEM_CODE),
    ("item.impl_code.level_mismatch", "实施编码中的行使层级与事项行使层级不一致", _ITEM_CODE),
    ("item.impl_code.authority_mismatch", "实施编码中的机构代码与实施机构代码不一致", _ITEM_CODE),
    ("item.handling_code.mismatch", "业务办理项编码与实施编码不一致", _ITEM_CODE),
    ("item.item_type_mismatch", "基本编码中的事项类型与事项类型不一致", _ITEM_CODE),
    (
        "item.basic_code.other_province",
        "基本编码取自其他省份的地方目录（地方事项的基本编码以本省代码或国家基本目录 00 开头）",
        _ITEM_CODE,
    ),
    ("item.time_limit", "承诺时限超过法定时限", "政务服务事项实施清单要素要求"),
    ("item.key.duplicate", "同一批交付中事项实施编码重复", _ITEM_CODE),
    ("item.region.level_mismatch", "行政区划代码的层级与事项行使层级不一致", _GB2260),
    (
        "item.region.outside_system",
        "事项的行政区划不属于报送系统所在区划及其下级（不得代报同级或上级事项）",
        "一数一源（实施要素以实施机构自有系统为准）",
    ),
    # Cases.
    ("case.serial.mismatch", "统一业务流水号与实施编码不一致", "统一业务流水号规则"),
    ("case.serial.duplicate", "统一业务流水号重复", "统一业务流水号规则"),
    ("case.key.duplicate", "同一来源系统的办件编号重复", "统一业务流水号规则"),
    ("case.events.order", "办件状态时间先后顺序错误", _STATES),
    ("case.events.transition", "办件状态流转不合法", _STATES),
    ("case.timestamps", "受理/办结/送达时间与状态记录不一致", _STATES),
    ("case.timestamps.future", "办件状态/办结/送达时间晚于平台当前时间（尚未发生）", _STATES),
    # Cases against the libraries (tongyuan.ingest.library_checks).
    ("case.item.unknown", "实施编码在事项库中不存在或已取消", _ITEM_CODE),
    ("case.time_limit", "办件承诺时限超过事项法定时限", "政务服务事项实施清单要素要求"),
    ("case.events.rewritten", "办件状态历史与已入库记录不一致（只可追加，不可改写）", _STATES),
    (
        "case.owner.mismatch",
        "办件的本次报送方不是其首次报送方（只有首次报送的部门业务系统可更新）",
        "一数一源（办件数据以首次报送的部门业务系统为准）",
    ),
    ("case.material.missing", "办件引用的材料不在材料库中", "材料清单"),
    ("case.material.sha256", "办件引用材料的文件缺失或与 SHA-256 不符", "材料清单"),
    # Materials.
    ("material.file.missing", "材料文件缺失", "材料清单"),
    ("material.file.unsafe_path", "材料文件路径不安全", "材料清单"),
    ("material.file.sha256", "材料文件 SHA-256 与清单不符", "材料清单"),
    ("material.file.size", "材料文件大小与清单不符", "材料清单"),
    ("material.validity", "材料有效期起止错误", "材料清单"),
    ("material.key.duplicate", "材料编号重复", "材料清单"),
    ("material.size.limit", "材料文件超过大小上限", _MATERIAL_SAFETY),
    ("material.media_type.mismatch", "材料内容的媒体类型与声明不符", _MATERIAL_SAFETY),
    ("material.archive.malformed", "压缩包损坏或结构无法读取", _ZIP),
    ("material.archive.path", "压缩包内路径不安全（路径穿越/绝对路径/盘符/反斜杠）", _CWE22),
    ("material.archive.symlink", "压缩包含符号链接或特殊文件", _CWE59),
    ("material.archive.encrypted", "压缩包含加密条目，无法检查", _ZIP),
    ("material.archive.duplicate", "压缩包内文件名重复", _ZIP),
    ("material.archive.entries", "压缩包条目数超过上限", _CWE409),
    ("material.archive.size", "压缩包解压后总大小超过上限", _CWE409),
    ("material.archive.ratio", "压缩包压缩比异常（疑似压缩炸弹）", _CWE409),
    ("material.archive.nesting", "压缩包嵌套层数超过上限", _CWE409),
    # Licenses.
    ("license.identifier.mismatch", "证照标识与证照类型代码/颁发机构/版本号不一致", _GB36904),
    ("license.validity", "证照有效期起止错误", _GB36902),
    ("license.key.duplicate", "证照标识重复", _GB36902),
    # Adapters: mapping a department's shape onto the standard.
    ("mapping.missing", "源数据缺少映射所需的字段", "适配器映射配置"),
    ("mapping.date", "日期/时间格式无法识别", "适配器映射配置"),
    ("mapping.code", "部门代码在代码对照表中不存在", "适配器映射配置"),
    ("mapping.type", "字段值无法转换为标准类型", "适配器映射配置"),
    ("mapping.encoding", "源数据字符编码错误", "适配器映射配置"),
    ("payload.malformed", "源数据记录格式错误（CSV/JSON/XML）", "适配器映射配置"),
    ("sync.kind", "事项同步的数据流交付了非事项记录（适配器流配置错误）", "适配器映射配置"),
    # Loading into the libraries.
    ("library.conflict", "与库中已有记录冲突（如办件状态历史被改写）", "数据同源、全程留痕"),
    # Quality suites over the libraries (tongyuan.quality); identifier, code and serial
    # rules above are reused by the suites where they apply.
    ("item.required_elements", "事项要素缺失（实施清单要求的要素未填写）", _ITEM_LIST),
    ("case.required_fields", "办件字段缺失（按办件状态应填写的字段未填写）", _STATES),
    ("item.base_elements.inconsistent", "基本要素在各层级不一致（四级四同）", _FOUR_SAME),
    (
        "item.copy.inconsistent",
        "事项副本的实施要素或状态与实施机构系统不一致（一数一源）",
        "一数一源（实施要素以实施机构自有系统为准）",
    ),
    ("case.item.unpublished", "办件引用的事项未发布或已取消", _ITEM_LIST),
    ("case.overdue", "办件超期（超过按工作日计算的承诺办结期限）", _ITEM_LIST),
    (
        "case.prereview.late",
        "预审超期（接件后2个工作日内未受理、不予受理或告知补正）",
        "本平台预审时限：接件后2个工作日（工作日按法定节假日和调休安排计算）",
    ),
    ("claim.overdue", "下级未在期限内认领下发的事项（工作日）", _FOUR_SAME),
    ("review.overdue", "事项审核或补正超过期限（工作日）", _ITEM_LIST),
    (
        "deadline.unknown",
        "期限无法计算（工作日日历未发布该年度），无法判断是否超期",
        "工作日按法定节假日和调休安排计算（国务院办公厅节假日安排通知）",
    ),
    ("license.signature", "证照签名未验证或验证未通过", "GB/T 38540-2020 / ETSI EN 319 102-1"),
    ("license.expired", "证照已过有效期", _GB36902),
    ("license.revoked", "证照已吊销或注销", _GB36902),
    ("ledger.chain", "批次台账哈希链校验未通过（记录被篡改）", "数据同源、全程留痕"),
)


def rule_title(rule_id: str) -> str:
    """Chinese title of a rule, or the id itself for a rule not in the catalogue."""
    rule = RULES.get(rule_id)
    return rule.title if rule else rule_id
