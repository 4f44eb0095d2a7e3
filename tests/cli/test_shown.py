"""`shown`: untrusted text printed with every terminal control character escaped."""

from __future__ import annotations

import io

from rich.console import Console

from tongyuan.cli.common import shown


def test_terminal_controls_are_written_as_escapes() -> None:
    text = "a\x1b[2K\rb\tc\x07d\x7fe\x9bf\u202eg\u2066h\u2028i\nj"
    assert shown(text, markup=False) == (
        "a\\x1b[2K\\rb\\tc\\x07d\\x7fe\\x9bf\\u202eg\\u2066h\\u2028i\\nj"
    )
    assert shown(text, markup=False, newlines=True).endswith("i\nj")


def test_markup_is_escaped_too_and_plain_text_kept() -> None:
    assert shown("[red]x[/red] 深圳市 440300") == "\\[red]x\\[/red] 深圳市 440300"
    assert shown(None, markup=False) == "None"


def test_nothing_a_terminal_acts_on_reaches_the_console() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    name = "x\x1b[8m\u009b2J.xml"
    console.print(f"file {shown(name)} done")
    assert out.getvalue() == "file x\\x1b[8m\\x9b2J.xml done\n"
