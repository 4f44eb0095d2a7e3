"""The blob-store check shared by `materials for` and the integrity suite.

A stored file counted as sound when a file of that name was there: bytes altered in
place passed the reuse query, and a symbolic link to the same bytes outside the data
directory passed both."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tongyuan.config import Settings
from tongyuan.libraries.materials import blob_path, store_blob
from tongyuan.materials.stored import ALTERED, MISSING, NOT_REGULAR, check_stored_file


def _stored(settings: Settings, tmp_path: Path, content: bytes) -> tuple[str, Path]:
    source = tmp_path / "source.bin"
    source.write_bytes(content)
    sha256, _ = store_blob(settings, source)
    return sha256, blob_path(settings, sha256)


def test_a_sound_file_passes_and_an_altered_one_names_its_new_digest(
    settings: Settings, tmp_path: Path
) -> None:
    sha256, path = _stored(settings, tmp_path, b"evidence")
    assert check_stored_file(settings, sha256).ok
    path.write_bytes(b"evidence, edited")
    state = check_stored_file(settings, sha256)
    assert state.problem == ALTERED
    assert hashlib.sha256(b"evidence, edited").hexdigest() in state.detail


def test_a_link_to_the_same_bytes_outside_the_store_is_not_a_stored_file(
    settings: Settings, tmp_path: Path
) -> None:
    sha256, path = _stored(settings, tmp_path, b"evidence")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"evidence")
    path.unlink()
    path.symlink_to(outside)
    state = check_stored_file(settings, sha256)
    assert state.problem == NOT_REGULAR
    assert "is a symbolic link" in state.detail and str(outside) in state.detail
    path.unlink()
    path.symlink_to(tmp_path / "nowhere")  # a dangling link is a link, not a missing file
    assert check_stored_file(settings, sha256).problem == NOT_REGULAR


@pytest.mark.parametrize("level", [1, 2])
def test_a_shard_folder_that_is_a_link_out_of_the_store_fails(
    settings: Settings, tmp_path: Path, level: int
) -> None:
    """blobs/ab or blobs/ab/cd moved out and linked back: the file is no longer the
    store's, whatever its bytes."""
    sha256, path = _stored(settings, tmp_path, b"evidence")
    folder = path.parents[2 - level]  # level 1: blobs/ab, level 2: blobs/ab/cd
    outside = tmp_path / "outside" / folder.name
    outside.parent.mkdir()
    shutil.move(folder, outside)
    folder.symlink_to(outside)
    state = check_stored_file(settings, sha256)
    assert state.problem == NOT_REGULAR
    assert f"under {folder.name}/, which is a symbolic link" in state.detail
    # The store's root itself may be a link (var/blobs on another disk).
    root = settings.blobs_dir
    moved = tmp_path / "elsewhere"
    folder.unlink()
    shutil.move(outside, folder)
    shutil.move(root, moved)
    root.symlink_to(moved)
    assert check_stored_file(settings, sha256).ok


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_folder_or_a_pipe_under_the_digest_fails_without_blocking(
    settings: Settings, tmp_path: Path
) -> None:
    sha256, path = _stored(settings, tmp_path, b"evidence")
    path.unlink()
    os.mkfifo(path)
    state = check_stored_file(settings, sha256)
    assert (state.problem, state.detail.endswith("is a named pipe")) == (NOT_REGULAR, True)
    path.unlink()
    path.mkdir()
    assert check_stored_file(settings, sha256).problem == NOT_REGULAR


def test_no_digest_a_malformed_one_or_no_file_is_missing(settings: Settings) -> None:
    assert check_stored_file(settings, None).problem == MISSING
    assert check_stored_file(settings, "not-a-digest").problem == MISSING
    assert check_stored_file(settings, "0" * 64).problem == MISSING


@pytest.mark.parametrize("level", [1, 2])
def test_a_shard_folder_swapped_for_a_link_after_the_checks_is_not_followed(
    settings: Settings, tmp_path: Path, level: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the folder checks alone leave open: blobs/ab (or ab/cd) replaced by a
    link to a copy outside the store between the checks and the open."""
    import tongyuan.materials.stored as stored_mod

    sha256, path = _stored(settings, tmp_path, b"evidence")
    folder = path.parents[2 - level]
    outside = tmp_path / "outside" / folder.name
    checked = stored_mod._linked_folder

    def swap_after_check(*args: object) -> str | None:
        found = checked(*args)  # type: ignore[arg-type]
        outside.parent.mkdir()
        shutil.copytree(folder, outside)
        shutil.rmtree(folder)
        folder.symlink_to(outside)
        return found

    monkeypatch.setattr(stored_mod, "_linked_folder", swap_after_check)
    state = check_stored_file(settings, sha256)
    assert state.problem == NOT_REGULAR, state
