"""mask_text masks what can be a citizen ID and leaves authorities' codes readable."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator

import pytest

from standards.codes.enums import IdType
from standards.identifiers import (
    build_license_identifier,
    citizen_id_check_char,
    uscc_check_char,
)
from standards.privacy import (
    HIDDEN_CHARACTERS,
    SHOWN_AS_CODE_POINT,
    contains_citizen_id,
    could_be_citizen_id,
    could_be_embedded_citizen_id,
    mask_id,
    mask_text,
)

VALID_ID = "11010519491231002X"  # GB 11643's own example
DEPT_USCC = "114403000040578006"  # 深圳市市场监督管理局, all digits
LICENSE_ID = f"1.2.156.3005.2.{DEPT_USCC}001.{DEPT_USCC}.ee40e3190e2cae59374e0e7e71925a00.001.4"


def test_all_digit_usccs_and_the_license_identifiers_holding_them_are_left_as_they_are() -> None:
    assert uscc_check_char(DEPT_USCC[:17]) == DEPT_USCC[17]
    assert mask_text(DEPT_USCC) == DEPT_USCC
    assert mask_text(LICENSE_ID) == LICENSE_ID
    assert mask_text(f"部门 {DEPT_USCC} 的事项") == f"部门 {DEPT_USCC} 的事项"
    assert not contains_citizen_id(LICENSE_ID)


def test_a_citizen_id_is_masked_wherever_it_stands() -> None:
    assert mask_text(VALID_ID) == "1101**********002X"
    assert mask_text(f"申请人{VALID_ID}补交") == "申请人1101**********002X补交"
    assert mask_text(VALID_ID.lower()) == "1101**********002x"
    assert mask_text("110105491231002") == "11**********002"  # legacy 15 digits: a third
    assert contains_citizen_id(f"x {VALID_ID} y")


@pytest.mark.parametrize(
    "number",
    [
        "440301199001011230",  # check character wrong (quarantined as citizen_id.check)
        "440305198502300019",  # 30 February (quarantined as citizen_id.birth_date)
    ],
)
def test_a_mistyped_id_is_still_a_persons_number_and_masked(number: str) -> None:
    assert mask_text(f"证件 {number}") == f"证件 {number[:4]}{'*' * 10}{number[-4:]}"


@pytest.mark.parametrize(
    "number",
    [
        "440305198513010019",  # month 13
        "440305180001010019",  # year 1800
        "440305198501320019",  # day 32
        "440305198501000019",  # day 00
    ],
)
def test_no_birth_date_in_its_place_is_no_citizen_id(number: str) -> None:
    assert not could_be_citizen_id(number)
    assert mask_text(number) == number


def test_an_id_written_in_groups_is_masked_when_its_check_character_is_right() -> None:
    first17 = "44030519850312001"
    number = first17 + citizen_id_check_char(first17)
    grouped = f"{number[:6]} {number[6:14]} {number[14:]}"
    assert mask_text(f"身份证:{grouped}") == f"身份证:4403{'*' * 12}{number[-4:]}"
    hyphens = grouped.replace(" ", "-")
    assert mask_text(hyphens) == f"4403{'*' * 12}{number[-4:]}"
    # Grouped digits with a wrong check character are something else (a phone number,
    # a reference): left alone.
    wrong = hyphens[:-1] + ("0" if hyphens[-1] != "0" else "1")
    assert mask_text(wrong) == wrong
    # Two spaces between groups are one separator (they were not, and left the ID in
    # clear); 16 digits in groups of four are no ID.
    assert mask_text(f"{number[:6]}  {number[6:]}") == f"4403{'*' * 12}{number[-4:]}"
    assert mask_text("4403 0519 8503 1200") == "4403 0519 8503 1200"


def test_longer_digit_runs_are_not_cut_into_ids_without_the_full_evidence() -> None:
    wrong_check = VALID_ID[:-1] + "3"
    assert mask_text("1" + wrong_check) == "1" + wrong_check
    assert mask_text(wrong_check + "7") == wrong_check + "7"
    # A date-shaped but impossible day (30 February) glued into a number is not enough.
    first17 = "44030519970230101"
    feb30 = first17 + citizen_id_check_char(first17)
    assert mask_text(f"CL{feb30}01") == f"CL{feb30}01"


HOLDER = "44030519971127101X"  # right check character, born 1997-11-27
HOLDER_MASKED = "4403**********101X"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"CL{HOLDER}01", f"CL{HOLDER_MASKED}01"),  # glued into a material number
        (f"ID-{HOLDER}-01", f"ID-{HOLDER_MASKED}-01"),
        (f"1{VALID_ID}", "11101**********002X"),
        (f"{VALID_ID}7", "1101**********002X7"),
        (HOLDER + HOLDER, HOLDER_MASKED + HOLDER_MASKED),  # two back to back
        (f"{VALID_ID}{HOLDER}", f"1101**********002X{HOLDER_MASKED}"),
        (f"材料CL{HOLDER}01、CL{VALID_ID}02", f"材料CL{HOLDER_MASKED}01、CL1101**********002X02"),
    ],
)
def test_a_citizen_id_glued_into_a_longer_number_is_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked
    assert contains_citizen_id(text)


def test_full_width_digits_are_read_as_digits() -> None:
    full = HOLDER.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert mask_text(full) == "４４０３**********１０１Ｘ"
    assert mask_text(f"身份证{full}号") == "身份证４４０３**********１０１Ｘ号"
    assert mask_text(f"CL{full}01") == "CL４４０３**********１０１Ｘ01"
    grouped = f"{full[:6]}－{full[6:14]}－{full[14:]}"  # full-width hyphens
    assert mask_text(grouped) == "４４０３************１０１Ｘ"
    assert contains_citizen_id(full)


# Identifiers as the demo hub generates them (tongyuan demo): none is a person's number.
DEMO_USCCS = ["1144030700237066FW", "1144030500706344CE", "114403000040578006"]
DEMO_IMPL_CODES = [
    "1144030700237066FW4000700137006",
    "1144030600249430314000100840001",
    "1144030600112305G24000100581005",
    "1144030500965434N34002000581000",
]
DEMO_IDENTIFIERS = [
    *DEMO_USCCS,
    *DEMO_IMPL_CODES,
    "1144030700237066FW400070013700601",  # 业务办理项编码
    "1144030700237066FW4000700137006202609090001",
    "1144030600685171244002000581000202606240002",
    "1144030600561030BN4000700211001202601140001",  # masked before the public-code rule
    "szbawjw2026060800001",
    "20260928000002",
    "1.2.156.3005.2.1144030700178320TK010.1144030700178320TK.YN4403072026000002.001.G",
    "1.2.156.3005.2.1144030500706344CE003.1144030500706344CE.0000003.001.W",
    "QM20260000003",
    "CL44030620260909000212",  # masked before the 顺序码 rule
    "CL44030520260422000067.jpg",
    "CL44030020260303000030",
    LICENSE_ID,
]


@pytest.mark.parametrize("identifier", DEMO_IDENTIFIERS)
def test_the_demo_hubs_codes_serials_and_license_identifiers_stay_readable(
    identifier: str,
) -> None:
    assert mask_text(identifier) == identifier
    assert mask_text(f"记录 {identifier} 不合格") == f"记录 {identifier} 不合格"
    assert not contains_citizen_id(identifier)


def _first(values: Iterator[str], window: Callable[[str], str]) -> str:
    """The first value whose window alone would pass as a glued citizen ID."""
    return next(v for v in values if could_be_embedded_citizen_id(window(v)))


def test_a_case_serial_whose_tail_looks_like_an_id_stays_readable() -> None:
    # Implementation code tail + yyyyMMdd + a sequence past 999 lines up as region +
    # birth date + 顺序码 + check character for one sequence in eleven; the serial's own
    # structure says what it is.
    impl = DEMO_IMPL_CODES[0]
    serial = _first((f"{impl}20260909{seq}" for seq in range(1000, 1300)), lambda s: s[-18:])
    assert mask_text(serial) == serial
    assert mask_text(f"案件{serial}超期") == f"案件{serial}超期"


def test_a_license_identifier_whose_serial_looks_like_an_id_stays_readable() -> None:
    uscc = DEMO_USCCS[1]
    serial = _first((f"DP44030520260909{k:06d}" for k in range(1000, 3000)), lambda s: s[2:20])
    identifier = build_license_identifier(uscc + "003", uscc, serial, "001")
    assert mask_text(identifier) == identifier
    # The same serial outside a license identifier with a right check is not exempt.
    assert mask_text(serial) != serial


def test_the_unissued_sequence_000_of_zero_padded_counters_is_no_glued_id() -> None:
    for counter in range(1, 1000):
        number = f"CL44030620260909{counter:06d}"
        assert mask_text(number) == number


def test_an_id_inside_a_malformed_serial_is_masked_without_endless_recursion() -> None:
    """Deciding whether a run is a public code parses it; a malformed serial's error
    message is masked in turn, which asked about the same run again, without end (a
    bad serial holding an ID-shaped window failed a whole load with RecursionError)."""
    from standards.identifiers.case_serial import parse_case_serial
    from standards.identifiers.errors import InvalidIdentifier

    run = "1144030500751000" + "11010519491231002X" + "2026139900001"
    assert mask_text(f"serial {run}") == f"serial 11440305007510001101{'*' * 10}002X2026139900001"
    with pytest.raises(InvalidIdentifier) as caught:
        parse_case_serial(run)
    assert "11010519491231002X" not in str(caught.value)


# One identifier of each 证件类型 as people write them, and its display form.
ID_SAMPLES: dict[IdType, tuple[str, str]] = {
    IdType.CITIZEN_ID: ("440305199711271019", "4403**********1019"),  # the documented form
    IdType.USCC: ("91110000600037341L", "9111**********341L"),
    IdType.PASSPORT: ("E12345678", "E******78"),
    IdType.HK_MACAO_PERMIT: ("H12345678", "H******78"),
    IdType.TAIWAN_PERMIT: ("12345678", "1******8"),
    IdType.FOREIGN_PERMANENT: ("USA440319850101", "US**********101"),
    IdType.OTHER: ("AB123", "*****"),
}


@pytest.mark.parametrize("id_type", list(IdType), ids=lambda t: t.value)
def test_a_masked_id_of_every_type_shows_at_most_a_third_unless_it_is_18_long(
    id_type: IdType,
) -> None:
    """A 9-character passport kept 4 + 4 and showed 8 of its 9 characters."""
    value, expected = ID_SAMPLES[id_type]
    masked = mask_id(value)
    assert masked == expected and len(masked) == len(value)
    shown = sum(c != "*" for c in masked)
    assert shown == 8 if len(value) >= 18 else shown <= len(value) / 3


@pytest.mark.parametrize("length", range(1, 40))
def test_no_masked_id_length_shows_more_than_a_third_below_18(length: int) -> None:
    masked = mask_id("A" * length)
    shown = sum(c != "*" for c in masked)
    assert len(masked) == length
    assert shown <= (8 if length >= 18 else length / 3)


@pytest.mark.parametrize(
    "hidden",
    [
        "\u200b", "\u202e", "\u2066", "\ufeff", "\u00ad", "\x07",
        # invisible operators, combining grapheme joiner, variation selectors, Mongolian
        # vowel separator, tags, Hangul fillers
        "\u2061", "\u2062", "\u2063", "\u2064", "\u034f", "\ufe00", "\ufe0f", "\U000e0100",
        "\u180e", "\U000e0001", "\U000e0041", "\u3164", "\uffa0", "\u115f",
    ],
)  # fmt: skip
def test_an_id_split_by_a_character_that_does_not_show_is_masked(hidden: str) -> None:
    """A log line or message reads as the ID to whoever sees it; the hidden character
    stays where it was."""
    for at in range(1, 18):
        text = f"申请人 {VALID_ID[:at]}{hidden}{VALID_ID[at:]} 已受理"
        masked = mask_text(text)
        assert hidden in masked and len(masked) == len(text)
        assert VALID_ID[4:14] not in masked.replace(hidden, ""), (at, masked)


def test_the_head_of_an_id_a_cut_ended_is_masked() -> None:
    for digits in range(13, 18):
        masked = mask_text(f"法律依据请核对{VALID_ID[:digits]}…")
        assert masked.endswith(VALID_ID[:4] + "*" * (digits - 4) + "…"), masked
    # 10-12 digits: a province code, then a year 19xx/20xx and the month as far as
    # written are masked (the side to err on); 8 or 9 digits are left (below)
    for digits in range(10, 13):
        masked = mask_text(f"依据{VALID_ID[:digits]}…")
        assert masked == f"依据{VALID_ID[:4]}" + "*" * (digits - 4) + "…", masked
    for digits in range(8, 10):
        assert mask_text(f"依据{VALID_ID[:digits]}…") == f"依据{VALID_ID[:digits]}…"
    # a public code cut the same way is not an ID head, and no cut means no head
    assert mask_text("114403000040578006…") == "114403000040578006…"
    assert mask_text(f"号 {VALID_ID[:17]} 号") == f"号 {VALID_ID[:17]} 号"


FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # typed with a Chinese input method
        ("依据 " + VALID_ID[:17].translate(FULL_WIDTH) + "…", "依据 １１０１" + "*" * 13 + "…"),
        # in 6-8-4 groups, cut in the last group or the middle one
        ("身份证 110105 19491231 002…", "身份证 1101" + "*" * 15 + "…"),
        ("身份证 110105-19491231-00…", "身份证 1101" + "*" * 14 + "…"),
        ("身份证 110105 1949123…", "身份证 1101" + "*" * 10 + "…"),
        ("身份证 110105\u00a019491231\u00a0002…", "身份证 1101" + "*" * 15 + "…"),
        # legacy 15 digits: region + YYMMDD + 2 of the 3 sequence digits
        ("旧号 11010549123100…", "旧号 1101" + "*" * 10 + "…"),
        ("旧号 1101054912310…", "旧号 1101" + "*" * 9 + "…"),
        # glued to the letters of a material number
        ("材料 CL" + VALID_ID[:17] + "…", "材料 CL1101" + "*" * 13 + "…"),
        # a trailing separator before the cut
        ("号 110105 19491231 …", "号 1101" + "*" * 12 + "…"),
    ],
)
def test_a_cut_id_head_is_masked_however_it_is_written(text: str, shown: str) -> None:
    assert mask_text(text) == shown


@pytest.mark.parametrize("hidden", ["\u200b", "\u2062", "\ufe0f", "\U000e0041"])
def test_a_cut_id_head_split_by_a_hidden_character_is_masked(hidden: str) -> None:
    for at in range(1, 17):
        text = f"号 {VALID_ID[:at]}{hidden}{VALID_ID[at:17]}…"
        masked = mask_text(text)
        assert hidden in masked and len(masked) == len(text), (at, masked)
        shown_digits = [c for c in masked.replace(hidden, "") if c.isdigit()]
        assert "".join(shown_digits) == "1101", (at, masked)


@pytest.mark.parametrize(
    "text",
    [
        "区划 31012019…",  # 奉贤 310120 and the start of a year: 8 digits
        "电话 13812019…",
        "号 110105194…",  # 9 digits
        "号 4403051985130…",  # month 13
        "号 440305198513…",
        "号 44030519852…",  # a month's first digit cannot be 2
        "号 1103051885…",  # year 1885
        "号 0003051985…",  # no province 00
        "号 9103051985…",  # no province 91
        "号 1101051949130…",  # month 13
        "号 11010519491232…",  # day 32
        "号 1101190000123…",  # 延庆, no date after the region
        "流水 9" + VALID_ID[:17] + "…",  # digits before it: a longer number's middle
    ],
)
def test_public_codes_cut_by_an_ellipsis_are_no_id_heads(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "乡 5113212000010…",
        "号 1101051949123…",
        "号 1101054912310…",
        # 10-12 digits: a province code and a year (month) shape are enough, public codes
        # cut the same way included (the trade-off documented in docs/operations.md)
        "号 440305198503…",
        "乡 511321200001…",  # 12-digit area code, township 200: 2000-01 as year and month
        "村 110119190101…",  # 延庆, township 190
        "代码 12500119200…",  # an all-digit USCC of 南川 500119, cut
        "实施编码 1150012019…",  # 璧山 500120
        "电话 13812019931…",  # a phone number cut after its 11 digits
        "号 8203051985…",  # Macao, 10 digits
    ],
)
def test_a_head_long_enough_and_shaped_as_an_id_is_masked(text: str) -> None:
    """The other side of the line: 13 digits with a date's shape after the region are
    masked even where they might be a public code (the side to err on)."""
    masked = mask_text(text)
    assert masked != text and masked.count("*") == len(text.split()[1]) - 5, masked


def test_every_format_character_and_control_is_hidden_and_nothing_that_shows() -> None:
    """By Unicode category over every code point (the pattern is built from the planes
    that hold such characters): all Cf, the Cc other than tab and line ends."""
    for point in range(0x110000):
        char = chr(point)
        category = unicodedata.category(char)
        if category == "Cf" or (category == "Cc" and char not in "\t\n\r"):
            assert HIDDEN_CHARACTERS.fullmatch(char), hex(point)
    for char in ["a", "中", "１", " ", "\u00a0", "\u3000", "\t", "\n", "\r", "\u0301", "…"]:
        assert not HIDDEN_CHARACTERS.fullmatch(char), repr(char)


def test_only_characters_that_merely_hide_are_shown_as_code_points() -> None:
    """The report's ``〈U+…〉`` set is within the hidden ones and leaves out what people
    write: variation selectors, Mongolian selectors and separator, drawn Arabic marks."""
    for point in range(0x110000):
        if SHOWN_AS_CODE_POINT.fullmatch(chr(point)):
            assert HIDDEN_CHARACTERS.fullmatch(chr(point)), hex(point)
    written = [0xFE0F, 0xFE00, 0xE0100, 0xE01EF, 0x180B, 0x180C, 0x180D, 0x180E, 0x180F,
               0x0600, 0x0605, 0x06DD, 0x070F, 0x08E2, 0x110BD, 0x115F, 0x9, 0xA, 0xD]  # fmt: skip
    for point in written:
        assert not SHOWN_AS_CODE_POINT.fullmatch(chr(point)), hex(point)
    hiding = [0x061C, 0x200B, 0x200D, 0x200E, 0x202E, 0x2060, 0x2064, 0x2066, 0x2069,
              0xFEFF, 0xAD, 0x34F, 0x3164, 0xFFA0, 0xE0001, 0xE007F, 0x0, 0x1B, 0x7F, 0x85,
              0x9F]  # fmt: skip
    for point in hiding:
        assert SHOWN_AS_CODE_POINT.fullmatch(chr(point)), hex(point)
    for point in written[:-3]:  # an ID split by any of them is still masked
        assert mask_text(f"1101{chr(point)}0519491231002X").endswith("**********002X")
