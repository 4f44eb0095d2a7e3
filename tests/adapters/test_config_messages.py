"""Configuration messages that say what the user wrote: a malformed secret reference, a
YAML key read as a boolean, credential names common on domestic APIs, a header value
that would split the request."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.builtin.http import HttpSource
from adapters.builtin.http_config import credential_name
from adapters.builtin.sql import SqlSource
from adapters.sdk import ConfigError


def _problems(cls, tmp_path: Path, text: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    path = tmp_path / "adapter.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        cls.Config.load(path)
    return dict(info.value.problems)


def test_a_malformed_reference_says_the_name_is_invalid(tmp_path: Path) -> None:
    problems = _problems(SqlSource, tmp_path, 'url: "env:MARKET CASES"\n')
    assert problems["url"].startswith("the name after 'env:' is not a valid name of an "
                                      "environment variable (it holds a space)")  # fmt: skip
    assert "MARKET CASES" not in problems["url"]  # what follows may be a pasted secret


def test_an_upper_case_scheme_is_named(tmp_path: Path) -> None:
    problems = _problems(SqlSource, tmp_path, 'url: "ENV:X"\n')
    assert "scheme is written in lower case: 'env:NAME', not 'ENV:'" in problems["url"]


def test_a_literal_secret_keeps_its_message(tmp_path: Path) -> None:
    problems = _problems(SqlSource, tmp_path, 'url: "postgresql://u:p@h/db"\n')
    assert problems["url"].startswith("secrets are not written into configuration files")


def test_a_boolean_key_says_what_was_written(tmp_path: Path) -> None:
    problems = _problems(
        SqlSource, tmp_path, "url: env:X\nstreams:\n  cases: {}\n  true: {}\n"
    )  # fmt: skip
    assert problems["streams.true"].startswith("the key true was read as a boolean")
    assert 'quote it ("true")' in problems["streams.true"]


@pytest.mark.parametrize(
    "name", ["ak", "sk", "SK", "X-AK", "ticket", "jsapi_ticket", "jwt", "X-JWT", "X-Session-Id",
             "sessionId", "session_id", "JSESSIONID"],
)  # fmt: skip
def test_domestic_credential_names_need_a_reference(name: str) -> None:
    assert credential_name(name)
    for data in (
        {"headers": {name: "abc123"}},
        {"streams": {"s": {"params": {name: "abc123"}}}},
    ):
        with pytest.raises(ConfigError, match=f"'{name}' looks like a credential"):
            HttpSource.Config.load({"base_url": "https://api.example.cn", **data})
    HttpSource.Config.load({"base_url": "https://api.example.cn", "headers": {name: "env:X"}})


@pytest.mark.parametrize("name", ["task", "tasks", "desk", "session", "askId", "page", "mask"])
def test_whole_words_only(name: str) -> None:
    assert not credential_name(name)


@pytest.mark.parametrize("value", ["v\r\nX-Injected: 1", "v\nX-Injected: 1", "a\rb"])
def test_a_header_value_with_a_line_break_is_refused_naming_it(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        HttpSource.Config.load({"base_url": "https://api.example.cn", "headers": {"X-A": value}})
    assert "header 'X-A': its value holds a line break" in dict(info.value.problems)["headers"]


def test_a_header_name_with_a_colon_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not a header name"):
        HttpSource.Config.load({"base_url": "https://api.example.cn", "headers": {"X:A": "v"}})
