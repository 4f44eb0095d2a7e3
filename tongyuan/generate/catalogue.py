"""The base catalogue (基本目录): realistic item names by type, with their base elements.

Base elements (name, type, legal basis, statutory time limit) are the same wherever an
item is implemented (四级四同); the generator only varies implementation elements. Each
main item expands into sub-items (子项: 新办, 变更, 延续, 注销 …), as the platform
registers items at the sub-item level.
"""

from __future__ import annotations

from dataclasses import dataclass

from standards.codes.enums import ExerciseLevel, ItemType

P, C, D = ExerciseLevel.PROVINCE, ExerciseLevel.CITY, ExerciseLevel.COUNTY
ALL_LEVELS = (P, C, D)


@dataclass(frozen=True, slots=True)
class MaterialSpec:
    """One material the applicant submits, and the kind of file it arrives as."""

    name: str
    material_type: str
    ext: str  # pdf | png | jpg | txt
    form: str = "电子"
    validity_years: int | None = None  # how long the document stays valid, None = open


@dataclass(frozen=True, slots=True)
class SubItem:
    code: str  # 3 digits
    suffix: str  # shown in brackets after the main name; empty for "000"
    issues_license: bool


@dataclass(frozen=True, slots=True)
class BaseItem:
    """One entry of the base catalogue at sub-item level."""

    basic_code: str
    name: str
    item_type: ItemType
    dept_key: str
    legal_basis: str
    statutory_limit_days: int
    levels: tuple[ExerciseLevel, ...]
    license_name: str | None  # e-license issued on approval, when any
    license_years: int | None  # validity of that license; None = long-term
    materials: tuple[MaterialSpec, ...]
    fee: tuple[str, str, str] | None  # (name, standard, basis)
    conditions: str
    process: str

    @property
    def issues_license(self) -> bool:
        return self.license_name is not None


_SINGLE = (SubItem("000", "", True),)
_LICENSE_SUBS = (
    SubItem("001", "新办", True),
    SubItem("002", "变更名称", True),
    SubItem("003", "变更法定代表人或负责人", True),
    SubItem("004", "变更地址", True),
    SubItem("005", "延续", True),
    SubItem("006", "补办", True),
    SubItem("007", "注销", False),
)
_LICENSE_SUBS_SHORT = (
    SubItem("001", "新办", True),
    SubItem("002", "变更", True),
    SubItem("003", "延续", True),
    SubItem("004", "补办", True),
    SubItem("005", "注销", False),
)
_REGISTRATION_SUBS = (
    SubItem("001", "设立登记", True),
    SubItem("002", "变更登记", True),
    SubItem("003", "注销登记", False),
)

_FORM = MaterialSpec("申请表", "申请表", "pdf")
_ID = MaterialSpec("申请人身份证明", "身份证明", "jpg", "复印件", 20)
_BIZ = MaterialSpec("营业执照", "主体资格证明", "pdf", "复印件", 10)
_SITE = MaterialSpec("经营场所使用证明", "场所证明", "pdf", "复印件", 3)
_LAYOUT = MaterialSpec("场所平面布局图", "图纸", "png")
_PHOTO = MaterialSpec("近期免冠证件照片", "照片", "png", "电子", 1)
_NOTE = MaterialSpec("情况说明", "说明", "txt")
_RULES = MaterialSpec("管理制度文本", "制度文本", "pdf")
_STAFF = MaterialSpec("专业技术人员资格证明", "资质证明", "pdf", "复印件", 5)
_HEALTH = MaterialSpec("健康证明", "健康证明", "pdf", "原件", 1)
_CONTRACT = MaterialSpec("合同文本", "合同", "pdf", "复印件")
_PROPERTY = MaterialSpec("不动产权属证书", "权属证明", "pdf", "原件")

_SHIP = "申请→受理→审查→决定→送达"
_CONFIRM = "申请→受理→审核→办结"
_SERVICE = "申请→受理→办理→办结"

# (type, dept, local?, name, legal basis, statutory days, levels, subs, license, years,
#  extra materials, fee)
_Row = tuple[
    ItemType,
    str,
    bool,
    str,
    str,
    int,
    tuple[ExerciseLevel, ...],
    tuple[SubItem, ...],
    str | None,
    int | None,
    tuple[MaterialSpec, ...],
    tuple[str, str, str] | None,
]
L, CF, BN, PS, OT = (
    ItemType.LICENSING,
    ItemType.CONFIRMATION,
    ItemType.BENEFIT,
    ItemType.PUBLIC_SERVICE,
    ItemType.OTHER_POWER,
)
_ROWS: tuple[_Row, ...] = (
    # 行政许可
    (L, "scjg", False, "食品经营许可", "《中华人民共和国食品安全法》第三十五条", 20, (C, D),
     _LICENSE_SUBS, "食品经营许可证", 5, (_BIZ, _SITE, _LAYOUT, _RULES), None),
    (L, "scjg", False, "食品生产许可", "《中华人民共和国食品安全法》第三十五条", 20, (P, C),
     _LICENSE_SUBS, "食品生产许可证", 5, (_BIZ, _SITE, _LAYOUT, _RULES, _STAFF), None),
    (L, "scjg", False, "药品零售企业经营许可", "《中华人民共和国药品管理法》第五十二条", 30,
     (C, D), _LICENSE_SUBS, "药品经营许可证", 5, (_BIZ, _SITE, _STAFF, _RULES), None),
    (L, "scjg", False, "第三类医疗器械经营许可", "《医疗器械监督管理条例》第四十二条", 20,
     (C, D), _LICENSE_SUBS, "医疗器械经营许可证", 5, (_BIZ, _SITE, _STAFF), None),
    (L, "scjg", False, "特种设备安装改造修理许可", "《中华人民共和国特种设备安全法》第十八条",
     20, (P,), _LICENSE_SUBS_SHORT, "特种设备生产许可证", 4, (_BIZ, _STAFF, _RULES), None),
    (L, "scjg", False, "企业登记", "《中华人民共和国市场主体登记管理条例》第三条", 3,
     ALL_LEVELS, _REGISTRATION_SUBS, "营业执照", None, (_ID, _SITE, _CONTRACT), None),
    (L, "ga", False, "剧毒化学品购买许可", "《危险化学品安全管理条例》第三十八条", 3, (C, D),
     _SINGLE, "剧毒化学品购买许可证", 1, (_BIZ, _NOTE), None),
    (L, "ga", False, "民用爆炸物品购买许可", "《民用爆炸物品安全管理条例》第二十一条", 5,
     (C,), _SINGLE, "民用爆炸物品购买许可证", 1, (_BIZ, _NOTE, _STAFF), None),
    (L, "ga", False, "保安服务公司设立许可", "《保安服务管理条例》第九条", 20, (P,),
     _LICENSE_SUBS_SHORT, "保安服务许可证", None, (_BIZ, _STAFF, _RULES), None),
    (L, "ga", False, "公章刻制业特种行业许可", "《印铸刻字业暂行管理规则》第三条", 20, (C, D),
     _LICENSE_SUBS_SHORT, "特种行业许可证", None, (_BIZ, _SITE, _RULES), None),
    (L, "ga", False, "旅馆业特种行业许可", "《旅馆业治安管理办法》第四条", 20, (C, D),
     _LICENSE_SUBS, "特种行业许可证", None, (_BIZ, _SITE, _LAYOUT, _RULES), None),
    (L, "rs", False, "人力资源服务许可", "《人力资源市场暂行条例》第十八条", 20, (C, D),
     _LICENSE_SUBS, "人力资源服务许可证", 5, (_BIZ, _SITE, _STAFF, _RULES), None),
    (L, "rs", False, "劳务派遣经营许可", "《中华人民共和国劳动合同法》第五十七条", 20,
     (C, D), _LICENSE_SUBS, "劳务派遣经营许可证", 3, (_BIZ, _SITE, _RULES), None),
    (L, "rs", False, "民办职业培训学校设立审批", "《中华人民共和国民办教育促进法》第十二条",
     30, (C, D), _LICENSE_SUBS_SHORT, "民办学校办学许可证", 5, (_SITE, _STAFF, _RULES), None),
    (L, "wj", False, "医师执业注册", "《中华人民共和国医师法》第十三条", 20, ALL_LEVELS,
     _LICENSE_SUBS_SHORT, "医师执业证书", None, (_ID, _STAFF, _HEALTH, _PHOTO), None),
    (L, "wj", False, "护士执业注册", "《护士条例》第八条", 20, ALL_LEVELS,
     _LICENSE_SUBS_SHORT, "护士执业证书", 5, (_ID, _STAFF, _HEALTH, _PHOTO), None),
    (L, "wj", False, "医疗机构执业登记", "《医疗机构管理条例》第十五条", 30, (C, D),
     _LICENSE_SUBS, "医疗机构执业许可证", 5, (_SITE, _LAYOUT, _STAFF, _RULES), None),
    (L, "wj", False, "公共场所卫生许可", "《公共场所卫生管理条例》第八条", 20, (C, D),
     _LICENSE_SUBS, "公共场所卫生许可证", 4, (_BIZ, _SITE, _LAYOUT, _HEALTH), None),
    (L, "wj", False, "放射诊疗许可", "《放射诊疗管理规定》第十一条", 20, (C, D),
     _LICENSE_SUBS_SHORT, "放射诊疗许可证", 5, (_SITE, _STAFF, _RULES), None),
    (L, "wj", False, "母婴保健技术服务执业许可", "《中华人民共和国母婴保健法》第三十二条", 20,
     (C, D), _LICENSE_SUBS_SHORT, "母婴保健技术服务执业许可证", 3, (_STAFF, _RULES), None),
    (L, "zj", False, "建筑工程施工许可证核发", "《中华人民共和国建筑法》第七条", 7, (C, D),
     _LICENSE_SUBS_SHORT, "建筑工程施工许可证", None, (_BIZ, _CONTRACT, _LAYOUT), None),
    (L, "zj", False, "建筑业企业资质核准", "《中华人民共和国建筑法》第十三条", 20, (P, C),
     _LICENSE_SUBS, "建筑业企业资质证书", 5, (_BIZ, _STAFF), None),
    (L, "zj", False, "房地产开发企业资质核定", "《城市房地产开发经营管理条例》第九条", 20,
     (P, C), _LICENSE_SUBS_SHORT, "房地产开发企业资质证书", 3, (_BIZ, _STAFF), None),
    (L, "zj", False, "商品房预售许可", "《中华人民共和国城市房地产管理法》第四十五条", 10,
     (C, D), _SINGLE, "商品房预售许可证", None, (_BIZ, _CONTRACT, _LAYOUT, _PROPERTY), None),
    (L, "zj", False, "燃气经营许可", "《城镇燃气管理条例》第十五条", 20, (C,),
     _LICENSE_SUBS, "燃气经营许可证", 3, (_BIZ, _SITE, _STAFF, _RULES), None),
    (L, "mz", False, "民办非企业单位登记", "《民办非企业单位登记管理暂行条例》第三条", 30,
     ALL_LEVELS, _REGISTRATION_SUBS, "民办非企业单位登记证书", 5, (_SITE, _RULES), None),
    (L, "mz", False, "社会团体登记", "《社会团体登记管理条例》第三条", 30, ALL_LEVELS,
     _REGISTRATION_SUBS, "社会团体法人登记证书", 5, (_SITE, _RULES), None),
    (L, "jt", False, "道路旅客运输经营许可", "《中华人民共和国道路运输条例》第十条", 20,
     (C, D), _LICENSE_SUBS, "道路运输经营许可证", 4, (_BIZ, _STAFF, _RULES), None),
    (L, "jt", False, "道路货物运输经营许可", "《中华人民共和国道路运输条例》第二十四条", 20,
     (C, D), _LICENSE_SUBS, "道路运输经营许可证", 4, (_BIZ, _STAFF, _RULES), None),
    (L, "jt", False, "出租汽车经营许可", "《国务院对确需保留的行政审批项目设定行政许可的决定》",
     20, (C,), _LICENSE_SUBS_SHORT, "出租汽车经营许可证", 4, (_BIZ, _RULES), None),
    (L, "jt", False, "道路运输从业人员从业资格许可", "《中华人民共和国道路运输条例》第九条",
     10, (C, D), _LICENSE_SUBS_SHORT, "道路运输从业人员从业资格证", 6,
     (_ID, _PHOTO, _HEALTH), None),
    (L, "jy", False, "民办学校办学许可", "《中华人民共和国民办教育促进法》第十二条", 30,
     ALL_LEVELS, _LICENSE_SUBS, "民办学校办学许可证", 5, (_SITE, _STAFF, _RULES), None),
    (L, "jy", False, "教师资格认定", "《中华人民共和国教师法》第十三条", 30, ALL_LEVELS,
     _SINGLE, "教师资格证书", None, (_ID, _PHOTO, _HEALTH, _STAFF), None),
    (L, "jy", False, "校车使用许可", "《校车安全管理条例》第十四条", 20, (C, D), _SINGLE,
     "校车标牌", 1, (_BIZ, _CONTRACT), None),
    (L, "zr", False, "建设工程规划许可", "《中华人民共和国城乡规划法》第四十条", 20, (C, D),
     _LICENSE_SUBS_SHORT, "建设工程规划许可证", None, (_BIZ, _LAYOUT, _PROPERTY), None),
    (L, "zr", False, "建设用地规划许可", "《中华人民共和国城乡规划法》第三十七条", 20, (C,),
     _SINGLE, "建设用地规划许可证", None, (_BIZ, _LAYOUT), None),
    (L, "wh", False, "娱乐场所经营许可", "《娱乐场所管理条例》第九条", 20, (D,),
     _LICENSE_SUBS, "娱乐经营许可证", 2, (_BIZ, _SITE, _LAYOUT), None),
    (L, "wh", False, "旅行社业务经营许可", "《旅行社条例》第六条", 20, (P, C),
     _LICENSE_SUBS, "旅行社业务经营许可证", None, (_BIZ, _SITE, _STAFF), None),
    (L, "wh", False, "营业性演出许可", "《营业性演出管理条例》第六条", 20, ALL_LEVELS,
     _LICENSE_SUBS_SHORT, "营业性演出许可证", 2, (_BIZ, _STAFF), None),
    (L, "scjg", True, "食品小作坊登记", "省食品生产加工小作坊和食品摊贩管理条例", 15, (D,),
     _LICENSE_SUBS_SHORT, "食品小作坊登记证", 3, (_ID, _SITE, _HEALTH), None),
    (L, "scjg", False, "计量标准器具核准", "《中华人民共和国计量法》第六条", 20, (P, C),
     _LICENSE_SUBS_SHORT, "计量标准考核证书", 4, (_BIZ, _STAFF, _RULES), None),
    (L, "scjg", False, "检验检测机构资质认定", "《检验检测机构资质认定管理办法》第五条", 20,
     (P,), _LICENSE_SUBS, "检验检测机构资质认定证书", 6, (_BIZ, _STAFF, _RULES), None),
    (L, "ga", False, "典当业特种行业许可", "《典当管理办法》第二十四条", 20, (C, D),
     _LICENSE_SUBS, "特种行业许可证", None, (_BIZ, _SITE, _RULES), None),
    (L, "ga", False, "大型群众性活动安全许可", "《大型群众性活动安全管理条例》第十一条", 7,
     (C, D), _SINGLE, "大型群众性活动安全许可决定书", 1, (_BIZ, _LAYOUT, _RULES), None),
    (L, "wj", False, "饮用水供水单位卫生许可", "《中华人民共和国传染病防治法》第二十九条", 20,
     (C, D), _LICENSE_SUBS, "卫生许可证", 4, (_BIZ, _SITE, _HEALTH, _RULES), None),
    (L, "wj", False, "消毒产品生产企业卫生许可", "《中华人民共和国传染病防治法实施办法》第十三条",
     20, (P,), _LICENSE_SUBS, "消毒产品生产企业卫生许可证", 4, (_BIZ, _SITE, _LAYOUT), None),
    (L, "zj", False, "建筑施工企业安全生产许可", "《安全生产许可证条例》第二条", 30, (P, C),
     _LICENSE_SUBS_SHORT, "安全生产许可证", 3, (_BIZ, _STAFF, _RULES), None),
    (L, "zj", False, "城镇污水排入排水管网许可", "《城镇排水与污水处理条例》第二十一条", 20,
     (C, D), _LICENSE_SUBS, "城镇污水排入排水管网许可证", 5, (_BIZ, _LAYOUT, _NOTE), None),
    (L, "zj", False, "特殊建设工程消防设计审查", "《中华人民共和国消防法》第十一条", 15, (C, D),
     _SINGLE, "特殊建设工程消防设计审查意见书", None, (_BIZ, _LAYOUT, _CONTRACT), None),
    (L, "jt", False, "公路超限运输许可", "《公路安全保护条例》第三十五条", 5, ALL_LEVELS,
     _SINGLE, "超限运输车辆通行证", 1, (_BIZ, _NOTE), None),
    (L, "jt", False, "涉路施工许可", "《中华人民共和国公路法》第四十四条", 20, ALL_LEVELS,
     _SINGLE, "涉路施工许可决定书", None, (_BIZ, _LAYOUT, _CONTRACT), None),
    (L, "zr", False, "临时用地审批", "《中华人民共和国土地管理法》第五十七条", 20, (C, D),
     _SINGLE, "临时用地批准书", 2, (_BIZ, _LAYOUT, _CONTRACT), None),
    (L, "wh", False, "互联网上网服务营业场所经营许可", "《互联网上网服务营业场所管理条例》第十条",
     20, (D,), _LICENSE_SUBS, "网络文化经营许可证", 3, (_BIZ, _SITE, _LAYOUT), None),
    (L, "wh", False, "出版物零售单位设立审批", "《出版管理条例》第三十七条", 20, (D,),
     _LICENSE_SUBS, "出版物经营许可证", 5, (_BIZ, _SITE), None),
    (L, "mz", False, "基金会登记", "《基金会管理条例》第六条", 30, (P,), _REGISTRATION_SUBS,
     "基金会法人登记证书", 5, (_SITE, _RULES, _CONTRACT), None),
    # 行政确认
    (CF, "zr", False, "不动产登记", "《不动产登记暂行条例》第三条", 30, (C, D),
     (SubItem("001", "首次登记", False), SubItem("002", "转移登记", False),
      SubItem("003", "变更登记", False), SubItem("004", "抵押登记", False),
      SubItem("005", "更正登记", False), SubItem("006", "注销登记", False)),
     None, None, (_ID, _PROPERTY, _CONTRACT),
     ("不动产登记费", "住宅类80元/件，非住宅类550元/件",
      "《国家发展改革委 财政部关于不动产登记收费标准等有关问题的通知》")),
    (CF, "ga", False, "机动车登记", "《中华人民共和国道路交通安全法》第八条", 2, (C,),
     (SubItem("001", "注册登记", False), SubItem("002", "转让登记", False),
      SubItem("003", "变更登记", False), SubItem("004", "抵押登记", False),
      SubItem("005", "注销登记", False)),
     None, None, (_ID, _CONTRACT, _PHOTO),
     ("机动车号牌工本费", "汽车100元/副", "《关于公安部门收费项目有关问题的通知》")),
    (CF, "ga", False, "户口登记", "《中华人民共和国户口登记条例》第七条", 5, (D,),
     (SubItem("001", "出生登记", False), SubItem("002", "死亡注销", False),
      SubItem("003", "姓名变更更正", False)), None, None, (_ID, _NOTE), None),
    (CF, "mz", False, "内地居民结婚登记", "《婚姻登记条例》第五条", 1, (D,), _SINGLE, None,
     None, (_ID, _PHOTO), None),
    (CF, "mz", False, "内地居民离婚登记", "《中华人民共和国民法典》第一千零七十七条", 30,
     (D,), _SINGLE, None, None, (_ID, _PHOTO, _CONTRACT), None),
    (CF, "rs", False, "工伤认定", "《工伤保险条例》第十七条", 60, (C, D), _SINGLE, None,
     None, (_ID, _CONTRACT, _NOTE), None),
    (CF, "rs", False, "企业职工退休审批", "《国务院关于工人退休、退职的暂行办法》", 20,
     (C, D), _SINGLE, None, None, (_ID, _PHOTO), None),
    (CF, "rs", False, "社会保险登记", "《中华人民共和国社会保险法》第五十七条", 5, (C, D),
     _REGISTRATION_SUBS, None, None, (_BIZ,), None),
    (CF, "zj", False, "商品房买卖合同网签备案", "《中华人民共和国城市房地产管理法》第四十五条",
     3, (C, D), _SINGLE, None, None, (_ID, _CONTRACT), None),
    # 行政给付
    (BN, "mz", False, "最低生活保障金给付", "《社会救助暂行办法》第十一条", 30, (D,),
     (SubItem("001", "申请", False), SubItem("002", "变更", False),
      SubItem("003", "停发", False)), None, None, (_ID, _NOTE), None),
    (BN, "mz", False, "特困人员救助供养", "《社会救助暂行办法》第十四条", 20, (D,), _SINGLE,
     None, None, (_ID, _NOTE), None),
    (BN, "mz", False, "临时救助", "《社会救助暂行办法》第四十七条", 10, (D,), _SINGLE, None,
     None, (_ID, _NOTE), None),
    (BN, "mz", False, "困难残疾人生活补贴和重度残疾人护理补贴给付",
     "《国务院关于全面建立困难残疾人生活补贴和重度残疾人护理补贴制度的意见》", 20, (D,),
     _SINGLE, None, None, (_ID, _HEALTH), None),
    (BN, "mz", True, "高龄津贴发放", "省人民政府关于建立高龄津贴制度的通知", 20, (D,),
     _SINGLE, None, None, (_ID,), None),
    (BN, "rs", False, "失业保险金申领", "《失业保险条例》第十六条", 10, (C, D), _SINGLE, None,
     None, (_ID, _NOTE), None),
    (BN, "rs", False, "工伤保险待遇核定支付", "《工伤保险条例》第三十条", 20, (C, D),
     _SINGLE, None, None, (_ID, _CONTRACT), None),
    (BN, "wj", False, "计划生育家庭特别扶助金给付",
     "《全国农村部分计划生育家庭奖励扶助和特别扶助制度实施方案》", 20, (D,), _SINGLE,
     None, None, (_ID, _NOTE), None),
    # 公共服务
    (PS, "rs", False, "就业失业登记", "《就业服务与就业管理规定》第六十一条", 5, (C, D),
     (SubItem("001", "就业登记", False), SubItem("002", "失业登记", False)), None, None,
     (_ID,), None),
    (PS, "rs", False, "社会保障卡服务", "《中华人民共和国社会保险法》第五十八条", 10, (C, D),
     (SubItem("001", "申领", False), SubItem("002", "挂失", False),
      SubItem("003", "补换", False)), None, None, (_ID, _PHOTO), None),
    (PS, "rs", False, "个人权益记录查询打印", "《社会保险个人权益记录管理办法》第十七条", 1,
     (C, D), _SINGLE, None, None, (_ID,), None),
    (PS, "ga", True, "居住证办理", "《居住证暂行条例》第九条", 10, (D,),
     (SubItem("001", "申领", False), SubItem("002", "签注", False),
      SubItem("003", "补领", False)), None, None, (_ID, _PHOTO, _CONTRACT), None),
    (PS, "ga", False, "无犯罪记录证明开具", "《公安部关于规范和加强无犯罪记录证明工作的通知》",
     3, (C, D), _SINGLE, None, None, (_ID, _NOTE), None),
    (PS, "mz", False, "婚姻登记档案查询", "《婚姻登记档案管理办法》第十六条", 1, (D,),
     _SINGLE, None, None, (_ID,), None),
    (PS, "wj", False, "出生医学证明办理", "《中华人民共和国母婴保健法》第二十三条", 5, (C, D),
     (SubItem("001", "首次签发", False), SubItem("002", "补发", False),
      SubItem("003", "换发", False)), None, None, (_ID, _NOTE), None),
    (PS, "wj", False, "预防接种证办理", "《中华人民共和国疫苗管理法》第四十七条", 1, (D,),
     _SINGLE, None, None, (_ID,), None),
    (PS, "jy", True, "义务教育阶段学生转学", "《中华人民共和国义务教育法》第十二条", 10, (D,),
     _SINGLE, None, None, (_ID, _NOTE), None),
    (PS, "jy", True, "小学一年级新生入学", "《中华人民共和国义务教育法》第十二条", 20, (D,),
     _SINGLE, None, None, (_ID, _PROPERTY), None),
    (PS, "zj", True, "公共租赁住房申请", "《公共租赁住房管理办法》第七条", 30, (C, D),
     _SINGLE, None, None, (_ID, _NOTE), None),
    (PS, "zr", False, "不动产登记资料查询", "《不动产登记资料查询暂行办法》第四条", 1, (C, D),
     (SubItem("001", "权利人查询", False), SubItem("002", "利害关系人查询", False)), None,
     None, (_ID,), None),
    (PS, "jt", False, "道路运输证件补办", "《道路运输车辆动态监督管理办法》", 5, (C, D),
     _SINGLE, None, None, (_BIZ, _NOTE), None),
    (PS, "wh", False, "公共文化设施场地预约", "《中华人民共和国公共文化服务保障法》第三十条", 3,
     (C, D), _SINGLE, None, None, (_ID,), None),
    # 其他行政权力
    (OT, "scjg", False, "企业名称争议裁决", "《企业名称登记管理规定》第二十三条", 30, (P, C),
     _SINGLE, None, None, (_BIZ, _NOTE), None),
    (OT, "jt", False, "道路运输车辆技术等级评定", "《道路运输车辆技术管理规定》", 5, (C,),
     _SINGLE, None, None, (_BIZ,), None),
)  # fmt: skip


def _conditions(name: str, item_type: ItemType, basis: str) -> str:
    if item_type is ItemType.LICENSING:
        return f"申请人具备与{name}相适应的场所、设施、人员和管理制度，符合{basis}规定的条件。"
    if item_type is ItemType.BENEFIT:
        return f"符合{basis}规定条件的本辖区户籍或常住居民。"
    return f"申请人符合{basis}的规定，申请材料齐全、符合法定形式。"


def build_catalogue(province_code: str) -> tuple[BaseItem, ...]:
    """The base catalogue for a province: national items (``00``) and its own local ones."""
    local_prefix = province_code[:2]
    mains_per_type: dict[ItemType, int] = {}
    items: list[BaseItem] = []
    for row in _ROWS:
        item_type, dept, local, name, basis, days, levels, subs, lic, years, extra, fee = row
        n = mains_per_type.get(item_type, 0) + 1
        mains_per_type[item_type] = n
        main = f"{(n * 37 + 100) % 100_000:05d}"
        prefix = local_prefix if local else "00"
        process = {ItemType.LICENSING: _SHIP, ItemType.CONFIRMATION: _CONFIRM}.get(
            item_type, _SERVICE
        )
        for sub in subs:
            full_name = f"{name}（{sub.suffix}）" if sub.suffix else name
            items.append(
                BaseItem(
                    basic_code=f"{prefix}{item_type.value}{main}{sub.code}",
                    name=full_name,
                    item_type=item_type,
                    dept_key=dept,
                    legal_basis=basis,
                    statutory_limit_days=days,
                    levels=levels,
                    license_name=lic if sub.issues_license else None,
                    license_years=years,
                    materials=(_FORM, *extra),
                    fee=fee,
                    conditions=_conditions(name, item_type, basis),
                    process=process,
                )
            )
    return tuple(items)
