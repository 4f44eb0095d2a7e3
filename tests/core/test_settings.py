from __future__ import annotations

import base64
import multiprocessing
import stat
from pathlib import Path

import pytest

from tongyuan.config import ConfigError, Settings, load_settings


def test_defaults_resolve_under_cwd(tmp_path: Path) -> None:
    s = load_settings({}, cwd=tmp_path)
    assert s.home == (tmp_path / "var").resolve()
    assert s.home.is_absolute()
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'tongyuan.db'}"
    assert s.blobs_dir == s.home / "blobs"
    assert s.airflow_home == s.home / "airflow"
    for path in (s.logs_dir, s.reports_dir, s.exports_dir, s.staging_dir):
        assert path.parent == s.home


def test_environment_overrides(tmp_path: Path) -> None:
    s = load_settings(
        {"TONGYUAN_HOME": "data", "TONGYUAN_DATABASE_URL": "postgresql://h/db"}, cwd=tmp_path
    )
    assert s.home == (tmp_path / "data").resolve()
    assert s.database_url == "postgresql://h/db"


def test_ensure_dirs_creates_tree(tmp_path: Path) -> None:
    s = load_settings({"TONGYUAN_HOME": str(tmp_path / "h")})
    s.ensure_dirs()
    for path in (
        s.blobs_dir,
        s.logs_dir,
        s.reports_dir,
        s.exports_dir,
        s.airflow_home,
        s.staging_dir,
    ):
        assert path.is_dir()


def test_env_key_is_used_and_hidden_from_repr(tmp_path: Path) -> None:
    key = bytes(range(1, 33))
    encoded = base64.b64encode(key).decode()
    s = load_settings({"TONGYUAN_HOME": str(tmp_path), "TONGYUAN_PII_KEY": encoded})
    assert s.pii_key() == key
    assert encoded not in repr(s)
    assert not s.pii_key_file.exists()


@pytest.mark.parametrize("bad", ["not base64!!", base64.b64encode(b"short").decode()])
def test_bad_env_key_is_rejected_without_echo(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"TONGYUAN_HOME": str(tmp_path), "TONGYUAN_PII_KEY": bad})
    assert "TONGYUAN_PII_KEY" in str(info.value)
    assert bad not in str(info.value)


def test_key_file_generated_once_with_owner_only_mode(tmp_path: Path) -> None:
    s = load_settings({"TONGYUAN_HOME": str(tmp_path)})
    first = s.pii_key()
    assert len(first) == 32
    mode = stat.S_IMODE(s.pii_key_file.stat().st_mode)
    assert mode == 0o600
    assert s.pii_key() == first
    assert load_settings({"TONGYUAN_HOME": str(tmp_path)}).pii_key() == first
    assert [p.name for p in s.secrets_dir.iterdir()] == ["pii.key"]  # no temp files left


def _read_key(home: str) -> bytes:
    return Settings(home=Path(home), database_url="sqlite://").pii_key()


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        keys = pool.map(_read_key, [str(tmp_path)] * 8)
    assert len(set(keys)) == 1


def _hub_with_a_case(home: Path, key: bytes) -> Settings:
    """A SQLite hub holding one case written under ``key``."""
    from pii_hub import write_one_case

    from tongyuan.db import upgrade

    settings = Settings(home=home, database_url=f"sqlite:///{home / 'tongyuan.db'}")
    settings.ensure_dirs()
    upgrade(settings.database_url)
    write_one_case(settings.database_url, key)
    return settings


def test_a_second_key_is_refused_on_libraries_written_under_the_key_file(
    tmp_path: Path,
) -> None:
    """QA repro keysplit.sh: TONGYUAN_PII_KEY set to a new key on a hub whose rows were
    written under var/secrets/pii.key was taken silently and split the libraries."""
    home = tmp_path / "h"
    file_settings = Settings(home=home, database_url=f"sqlite:///{home / 'tongyuan.db'}")
    file_key = file_settings.pii_key()  # creates the key file (no data yet: nothing to check)
    _hub_with_a_case(home, file_key)
    assert file_settings.pii_key() == file_key  # the key the data were written with

    other = base64.b64encode(bytes(range(1, 33))).decode()
    env_settings = load_settings({"TONGYUAN_HOME": str(home), "TONGYUAN_PII_KEY": other})
    with pytest.raises(ConfigError) as info:
        env_settings.pii_key()
    message = str(info.value)
    assert message.startswith("TONGYUAN_PII_KEY does not decrypt the personal data")
    assert str(file_settings.pii_key_file) in message and "a case's applicant ID" in message
    assert other not in message

    # The documented migration: the variable set to the key file's content is accepted.
    same = file_settings.pii_key_file.read_text().strip()
    migrated = load_settings({"TONGYUAN_HOME": str(home), "TONGYUAN_PII_KEY": same})
    assert migrated.pii_key() == file_key


def test_a_new_key_file_is_refused_on_libraries_written_under_the_variable(
    tmp_path: Path,
) -> None:
    """A worker without TONGYUAN_PII_KEY on shared storage made itself a key file (and
    refused it then, and on every later run): now it makes none."""
    home = tmp_path / "h"
    env_key = bytes(range(2, 34))
    _hub_with_a_case(home, env_key)
    worker = Settings(home=home, database_url=f"sqlite:///{home / 'tongyuan.db'}")
    with pytest.raises(ConfigError) as info:
        worker.pii_key()
    message = str(info.value)
    assert message.startswith(f"there is no PII key file at {worker.pii_key_file}")
    assert "a case's applicant ID" in message and "none was made" in message
    assert "Set TONGYUAN_PII_KEY here to that key" in message
    assert not worker.pii_key_file.exists()


def test_a_key_file_made_by_another_worker_meanwhile_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review r5: two workers on a fresh hub; the other made the key file and wrote data
    between this one's look for the file and its look at the libraries. That key fits:
    it is read, not refused."""
    import tongyuan.config as config

    home = tmp_path / "h"
    key = bytes(range(5, 37))
    _hub_with_a_case(home, key)
    worker = Settings(home=home, database_url=f"sqlite:///{home / 'tongyuan.db'}")
    refuse = config.refuse_new_key_on_written_libraries

    def other_worker_wins(settings: Settings) -> None:
        worker.secrets_dir.mkdir(parents=True, exist_ok=True)
        worker.pii_key_file.write_text(base64.b64encode(key).decode(), encoding="ascii")
        refuse(settings)

    monkeypatch.setattr(config, "refuse_new_key_on_written_libraries", other_worker_wins)
    assert worker.pii_key() == key


def test_a_key_checked_on_an_empty_hub_is_checked_again_once_data_exist(
    tmp_path: Path,
) -> None:
    """A long-running worker that began on an empty hub must still notice when another
    worker has since written under another key: nothing compared is nothing proven."""
    home = tmp_path / "h"
    mine = base64.b64encode(bytes(range(3, 35))).decode()
    worker = load_settings({"TONGYUAN_HOME": str(home), "TONGYUAN_PII_KEY": mine})
    worker.pii_key()  # no database yet: passes
    _hub_with_a_case(home, bytes(range(4, 36)))  # another worker, another key
    with pytest.raises(ConfigError, match="TONGYUAN_PII_KEY does not decrypt"):
        worker.pii_key()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://tongyuan:Tongyuan@2024@127.0.0.1:5432/tongyuan",
        "postgresql://tongyuan:p@ss:Secr3tPart/x@127.0.0.1:5432/tongyuan",
        "postgresql://tongyuan:p@2024/x@127.0.0.1/tongyuan",
        "not a url Secr3t",
    ],
)
def test_hub_url_with_an_unescaped_password_is_refused_without_echo(
    url: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"TONGYUAN_HOME": str(tmp_path), "TONGYUAN_DATABASE_URL": url})
    message = str(info.value)
    assert message.startswith("TONGYUAN_DATABASE_URL: ")
    assert "percent-encode @ : / # ? %" in message
    assert "2024" not in message and "Secr3t" not in message and "127.0.0.1" not in message


def test_hub_url_with_a_percent_encoded_password_is_accepted(tmp_path: Path) -> None:
    url = "postgresql+psycopg://tongyuan:Tongyuan%402024@127.0.0.1:5432/tongyuan"
    s = load_settings({"TONGYUAN_HOME": str(tmp_path), "TONGYUAN_DATABASE_URL": url})
    assert s.database_url == url
