"""Word lists for realistic Chinese data: people, companies, streets, phone numbers.

Lists are tuples (never sets) so that drawing from them with a seeded ``random.Random``
gives the same result in every process: set order depends on string hashing.
"""

from __future__ import annotations

import random

# Common surnames, most frequent first; the weights follow the order roughly.
SURNAMES: tuple[str, ...] = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "彭", "曾", "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏",
    "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金",
    "石", "廖", "贾", "夏", "韦", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹",
    "薛", "闫", "段", "雷", "侯", "龙", "史", "陶", "黎", "贺", "顾", "毛", "郝", "龚", "邵",
    "万", "钱", "严", "覃", "武", "戴", "莫", "孔", "向", "汤", "欧阳", "司马", "上官",
)  # fmt: skip
SURNAME_WEIGHTS: tuple[int, ...] = tuple(
    max(1, 120 - 3 * i) if i < len(SURNAMES) - 3 else 1 for i in range(len(SURNAMES))
)

_MALE_CHARS = (
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华",
    "飞", "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "洋",
    "志", "国", "建", "文", "海", "东", "晨", "博", "翔", "峰", "成", "彬", "振", "家", "子",
    "嘉", "睿", "哲", "锋", "毅",
)  # fmt: skip
_FEMALE_CHARS = (
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "玲", "燕", "红", "婷", "雪", "琳",
    "颖", "倩", "慧", "莉", "萍", "晶", "欣", "佳", "怡", "梅", "兰", "丹", "蕾", "洁", "璐",
    "雯", "琪", "悦", "妍", "月", "思", "诗", "雨", "晓", "梦", "可", "馨", "瑶", "宁", "婧",
    "菲", "薇", "凤", "春", "秋",
)  # fmt: skip

# Company names: <city><brand><trade>有限公司; brand words are two characters.
_BRANDS = (
    "鹏程", "华盛", "佳禾", "瑞丰", "恒信", "创维", "金桥", "宏达", "星辰", "嘉禾", "联众",
    "安泰", "海川", "博远", "汇通", "盛世", "明德", "新元", "天成", "锦绣", "福瑞", "润泽",
    "启航", "众合", "中和", "长青", "万象", "百川", "君诚", "卓越", "德馨", "隆鑫", "宝丰",
    "信达", "同心", "益康", "乐活", "云帆", "致远", "东方",
)  # fmt: skip
_TRADES = (
    "餐饮管理", "科技", "建筑工程", "商贸", "食品", "医药连锁", "物业管理", "运输", "教育咨询",
    "电子商务", "贸易", "装饰工程", "劳务派遣", "信息技术", "医疗器械", "文化传播",
    "环保科技", "物流", "酒店管理", "农业发展",
)  # fmt: skip
_COMPANY_FORMS = ("有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司")


def person_name(rng: random.Random, male: bool) -> str:
    """A surname and a one- or two-character given name matching the sex."""
    surname = rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]
    chars = _MALE_CHARS if male else _FEMALE_CHARS
    given = rng.choice(chars)
    if rng.random() < 0.7:
        given += rng.choice(chars)
    return surname + given


def company_name(rng: random.Random, city: str, district: str | None) -> str:
    """A plausible registered company name of the form ``深圳市南山区鹏程餐饮管理有限公司``."""
    place = city + (district if district and rng.random() < 0.4 else "")
    return place + rng.choice(_BRANDS) + rng.choice(_TRADES) + rng.choice(_COMPANY_FORMS)


def mobile_number(rng: random.Random) -> str:
    """An 11-digit mainland mobile number with a real carrier prefix."""
    prefix = rng.choice(
        (
            "138",
            "139",
            "135",
            "136",
            "137",
            "150",
            "151",
            "158",
            "159",
            "186",
            "187",
            "188",
            "189",
            "177",
            "180",
            "181",
            "133",
            "153",
            "199",
        )
    )
    return prefix + f"{rng.randrange(100_000_000):08d}"


def landline(rng: random.Random, area: str, digits: int) -> str:
    """A landline like ``0755-26651234`` (``digits`` local digits, never starting with 0/1)."""
    first = str(rng.randrange(2, 9))
    rest = "".join(str(rng.randrange(10)) for _ in range(digits - 1))
    return f"{area}-{first}{rest}"


# Street names per county-level area used for addresses (办理地点) and service centres.
STREETS: dict[str, tuple[str, ...]] = {
    "越秀区": ("东风中路", "府前路", "中山五路", "北京路", "越华路", "德政北路"),
    "福田区": ("福中三路", "深南大道", "益田路", "福华路", "金田路", "彩田路"),
    "南山区": ("桃园路", "南海大道", "南山大道", "深南大道", "后海大道", "沙河西路", "科苑路"),
    "宝安区": ("宝安大道", "新安六路", "创业一路", "建安一路", "前进路", "裕安路"),
    "龙岗区": ("龙岗大道", "龙城大道", "清林路", "吉祥路", "龙翔大道", "爱联路"),
    "城关区": ("南昌路", "张掖路", "庆阳路", "东岗西路", "酒泉路", "北滨河东路", "平凉路"),
}
_BUILDINGS = ("政务服务中心", "行政服务大厅", "市民中心", "政务服务大厅")


def street_address(rng: random.Random, city: str, district: str) -> str:
    """A street address such as ``深圳市南山区桃园路2号`` in a district of ``city``."""
    street = rng.choice(STREETS[district])
    return f"{city}{district}{street}{rng.randrange(1, 400)}号"


def service_hall(rng: random.Random, node_name: str) -> str:
    """Where applications are handed in, e.g. ``深圳市南山区政务服务中心二楼12号窗口``."""
    floor = "一二三四"[rng.randrange(4)]
    return f"{node_name}{rng.choice(_BUILDINGS)}{floor}楼{rng.randrange(1, 40)}号窗口"
