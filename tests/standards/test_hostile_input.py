"""Hostile and broken exchange files: each is refused with a clear, located error."""

from __future__ import annotations

import socket
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from standards_samples import sample_case, sample_material

from standards.formats import (
    ParseLimits,
    RawRecord,
    UnreadableInput,
    UnsafeInput,
    iter_raw_records,
    to_record,
    validate_file_against_xsd,
    write_records,
)

DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
CASE = "<case><source_system>s</source_system><dept_case_no>{n}</dept_case_no></case>\n"


def _cases(n: int) -> str:
    return "".join(CASE.format(n=i) for i in range(1, n + 1))


def _write(tmp_path: Path, text: str | bytes, name: str = "cases.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def _drain(path: Path, **kwargs: object) -> tuple[list[RawRecord], Exception]:
    """Records yielded before the error, and the error."""
    records: list[RawRecord] = []
    with pytest.raises((UnsafeInput, UnreadableInput)) as info:
        for raw in iter_raw_records(path, **kwargs):  # type: ignore[arg-type]
            records.append(raw)
    return records, info.value


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A TCP listener on 127.0.0.1; the test asserts nobody connected to it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.3)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", sock
    sock.close()


def _assert_no_connection(sock: socket.socket) -> None:
    with pytest.raises(TimeoutError):
        sock.accept()


# --- DTDs and entities ------------------------------------------------------------------


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    ]
    text = (
        f"{DECL}<!DOCTYPE cases [{''.join(entities)}]>\n"
        "<cases><case><item_name>&lol9;</item_name></case></cases>"
    )
    records, exc = _drain(_write(tmp_path, text))
    assert records == []
    assert isinstance(exc, UnsafeInput) and exc.rule == "xml.unsafe"
    assert "DOCTYPE" in str(exc) and exc.line == 2 and "cases.xml" in str(exc)


def test_harmless_dtd_is_refused_too(tmp_path: Path) -> None:
    _, exc = _drain(_write(tmp_path, f"{DECL}<!DOCTYPE cases>\n<cases>{_cases(1)}</cases>"))
    assert isinstance(exc, UnsafeInput)


def test_external_entity_never_reads_the_local_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a9c", encoding="utf-8")
    text = (
        f'{DECL}<!DOCTYPE cases [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        "<cases><case><source_system>&xxe;</source_system><item_name>&xxe;</item_name>"
        "</case></cases>"
    )
    path = _write(tmp_path, text)
    records, exc = _drain(path)
    assert isinstance(exc, UnsafeInput)
    assert "TOP-SECRET" not in str(exc) and "TOP-SECRET" not in repr(records)
    errors = validate_file_against_xsd(path)
    assert errors and not any("TOP-SECRET" in e for e in errors)


def test_entity_reference_without_dtd_is_refused(tmp_path: Path) -> None:
    text = f"{DECL}<cases>\n<case><item_name>&secret;</item_name></case></cases>"
    _, exc = _drain(_write(tmp_path, text))
    assert isinstance(exc, UnsafeInput) and exc.line == 3 and "entity" in str(exc).lower()


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE cases SYSTEM "{url}/cases.dtd">',
        '<!DOCTYPE cases PUBLIC "-//X//Y//EN" "{url}/cases.dtd">',
        '<!DOCTYPE cases [<!ENTITY e SYSTEM "{url}/e.txt">]>',
        '<!DOCTYPE cases [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]>',
        "<!DOCTYPE cases [<!ENTITY % d \"<!ENTITY x SYSTEM '{url}/x'>\"> %d;]>",
    ],
    ids=["external-dtd", "public-dtd", "external-entity", "parameter-entity", "nested-pe"],
)
def test_external_references_are_refused_without_a_connection(
    tmp_path: Path, listener: tuple[str, socket.socket], doctype: str
) -> None:
    url, sock = listener
    text = (
        f"{DECL}{doctype.format(url=url)}\n<cases><case><item_name>&e;</item_name></case></cases>"
    )
    path = _write(tmp_path, text)
    _, exc = _drain(path)
    assert isinstance(exc, UnsafeInput)
    assert validate_file_against_xsd(path)  # the partner-facing check refuses it too
    _assert_no_connection(sock)


def test_xinclude_is_refused_without_a_connection(
    tmp_path: Path, listener: tuple[str, socket.socket]
) -> None:
    url, sock = listener
    text = (
        f'{DECL}<cases xmlns:xi="http://www.w3.org/2001/XInclude">\n'
        f'<case><source_system>s</source_system>\n<xi:include href="{url}/x.xml"/></case>'
        "</cases>"
    )
    _, exc = _drain(_write(tmp_path, text))
    assert isinstance(exc, UnsafeInput) and "XInclude" in str(exc) and exc.line == 4
    between = (
        f'{DECL}<cases xmlns:xi="http://www.w3.org/2001/XInclude">\n'
        '<xi:include href="/etc/passwd"/></cases>'
    )
    _, exc = _drain(_write(tmp_path, between))
    assert isinstance(exc, UnsafeInput) and "XInclude" in str(exc)
    _assert_no_connection(sock)


# --- limits -------------------------------------------------------------------------------


def test_nesting_beyond_max_depth_is_refused(tmp_path: Path) -> None:
    deep = "<a>" * 20 + "x" + "</a>" * 20
    text = f"{DECL}<cases>\n{_cases(2)}<case>\n<item_name>{deep}</item_name></case></cases>"
    records, exc = _drain(_write(tmp_path, text))
    assert len(records) == 2
    assert isinstance(exc, UnsafeInput) and "deeper than 16" in str(exc)


def test_nesting_beyond_the_parser_limit_is_refused(tmp_path: Path) -> None:
    deep = "<a>" * 5000 + "</a>" * 5000
    _, exc = _drain(_write(tmp_path, f"{DECL}<cases><case>{deep}</case></cases>"))
    assert isinstance(exc, UnsafeInput)


def test_deep_json_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"kind":"case","a":' + "[" * 30 + "]" * 30 + "}\n", "c.jsonl")
    _, exc = _drain(path)
    assert isinstance(exc, UnsafeInput) and exc.line == 1


def test_file_over_max_file_bytes_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, f"{DECL}<cases>{_cases(50)}</cases>")
    limits = ParseLimits(max_file_bytes=1000)
    records, exc = _drain(path, limits=limits)
    assert records == [] and isinstance(exc, UnsafeInput) and "1000 bytes" in str(exc)
    jsonl = tmp_path / "c.jsonl"
    write_records(jsonl, [sample_case(1)] * 3)
    _, exc = _drain(jsonl, limits=limits)
    assert isinstance(exc, UnsafeInput)


@pytest.mark.parametrize("suffix", [".xml", ".jsonl"])
def test_too_many_records_is_refused_after_the_allowed_ones(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"cases{suffix}"
    write_records(path, [sample_case(n) for n in range(1, 5)])
    records, exc = _drain(path, limits=ParseLimits(max_records=3))
    assert len(records) == 3
    assert isinstance(exc, UnsafeInput) and "more than 3 records" in str(exc)


def test_oversized_text_is_refused(tmp_path: Path) -> None:
    big = "办" * 200  # 600 bytes in UTF-8, only 200 characters
    text = f"{DECL}<cases>\n{_cases(1)}<case>\n<item_name>{big}</item_name></case></cases>"
    records, exc = _drain(_write(tmp_path, text), limits=ParseLimits(max_text_bytes=500))
    assert len(records) == 1
    assert isinstance(exc, UnsafeInput) and "<item_name>" in str(exc) and exc.line == 5
    jsonl = _write(tmp_path, '{"kind":"case","item_name":"' + big + '"}\n', "c.jsonl")
    _, exc = _drain(jsonl, limits=ParseLimits(max_text_bytes=500))
    assert isinstance(exc, UnsafeInput)


def test_one_giant_element_is_refused_before_it_is_held_whole(tmp_path: Path) -> None:
    """No records end for too long: refuse instead of building the tree in memory."""
    text = f"{DECL}<cases><case>" + "<x>1</x>" * 200_000 + "</case></cases>"
    _, exc = _drain(_write(tmp_path, text), limits=ParseLimits(max_record_bytes=256 * 1024))
    assert isinstance(exc, UnsafeInput) and "no record ended" in str(exc)
    line = b'{"kind":"case","x":"' + b"a" * 400_000 + b'"}'
    path = _write(tmp_path, line, "c.jsonl")
    _, exc = _drain(path, limits=ParseLimits(max_record_bytes=256 * 1024))
    assert isinstance(exc, UnsafeInput) and "longer than" in str(exc)


# --- encodings and broken files -------------------------------------------------------------


def test_invalid_utf8_reports_the_line(tmp_path: Path) -> None:
    body = f"{DECL}<cases>\n{_cases(3)}<case><item_name>".encode() + b"\xff\xfe</item_name>"
    records, exc = _drain(_write(tmp_path, body + b"</case></cases>"))
    assert len(records) == 3
    assert isinstance(exc, UnreadableInput) and exc.rule == "xml.encoding" and exc.line == 6
    assert "line 6" in str(exc)
    jsonl = tmp_path / "c.jsonl"
    write_records(jsonl, [sample_case(1)])
    jsonl.write_bytes(jsonl.read_bytes() + b'{"kind":"case","x":"\xc0\xaf"}\n')
    records, exc = _drain(jsonl)
    assert len(records) == 1
    assert isinstance(exc, UnreadableInput) and exc.rule == "xml.encoding" and exc.line == 2


def test_non_utf8_encoding_declaration_is_refused(tmp_path: Path) -> None:
    text = '<?xml version="1.0" encoding="GBK"?>\n<cases>' + _cases(1) + "</cases>"
    _, exc = _drain(_write(tmp_path, text.encode("gbk")))
    assert isinstance(exc, UnreadableInput) and exc.rule == "xml.encoding"
    assert "'GBK'" in str(exc) and "UTF-8" in str(exc)


def test_gbk_bytes_declared_utf8_are_refused(tmp_path: Path) -> None:
    text = f"{DECL}<cases>\n{_cases(1)}<case><item_name>食品经营许可</item_name></case></cases>"
    records, exc = _drain(_write(tmp_path, text.encode("gbk")))
    assert len(records) == 1
    assert isinstance(exc, UnreadableInput) and exc.rule == "xml.encoding" and exc.line == 4


def test_utf16_is_refused(tmp_path: Path) -> None:
    text = f"<cases>{_cases(1)}</cases>"
    _, exc = _drain(_write(tmp_path, b"\xff\xfe" + text.encode("utf-16-le")))
    assert isinstance(exc, UnreadableInput) and exc.rule == "xml.encoding"


def test_truncated_xml_yields_records_before_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "cases.xml"
    write_records(path, [sample_case(n) for n in range(1, 6)])
    data = path.read_bytes()
    cut = data.index(b"<case>", data.index(b"SZ202400000004"))  # inside the 4th → 5th case
    path.write_bytes(data[: cut + 200])
    records, exc = _drain(path)
    assert [to_record(r)[0] for r in records] == [sample_case(n) for n in range(1, 5)]
    assert isinstance(exc, UnreadableInput) and exc.rule == "xml.malformed"
    assert exc.line is not None and exc.line > records[-1].location.line  # type: ignore[operator]


def test_malformed_xml_mid_file(tmp_path: Path) -> None:
    text = f"{DECL}<cases>\n{_cases(2)}<case><a></b></case></cases>"
    records, exc = _drain(_write(tmp_path, text))
    assert len(records) == 2
    assert isinstance(exc, UnreadableInput) and exc.rule == "xml.malformed" and exc.line == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{DECL}<permits><case/></permits>", "unknown root element <permits>"),
        (f'{DECL}<cases xmlns="urn:other"><case/></cases>', "unknown root element"),
        (f'{DECL}<cases version="2">{_cases(1)}</cases>', "version '2'"),
        ("", "empty"),
        (f"{DECL}<!-- nothing -->", "malformed"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, expected: str) -> None:
    _, exc = _drain(_write(tmp_path, text))
    assert isinstance(exc, UnreadableInput) and expected in str(exc)


def test_unknown_file_type_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.csv"):
        iter_raw_records(_write(tmp_path, "a,b", "cases.csv"))


# --- memory -----------------------------------------------------------------------------------


def _rss_kib() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def test_memory_stays_flat_on_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "materials.xml"
    template = sample_material(1)
    count = 100_000
    write_records(
        path,
        (template.model_copy(update={"material_id": f"M{n:07d}"}) for n in range(count)),
    )
    assert path.stat().st_size > 50_000_000
    rss_early = None
    seen = 0
    tracemalloc.start()
    try:
        for _raw in iter_raw_records(path):
            seen += 1
            if seen == 5_000:
                rss_early = _rss_kib()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert peak < 5_000_000, f"Python heap peaked at {peak} bytes"
    rss_late = _rss_kib()
    if rss_early is not None and rss_late is not None:
        # libxml2's tree is outside tracemalloc's view: check the process instead.
        assert rss_late - rss_early < 30_000, f"RSS grew by {rss_late - rss_early} KiB"
