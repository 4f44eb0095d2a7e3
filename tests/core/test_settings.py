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
