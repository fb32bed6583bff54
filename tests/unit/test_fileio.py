"""Core: the atomic-write helper keeps file modes and never leaves half a file."""

import os
import stat

import pytest

from longhand.core.fileio import SaveError, atomic_write_text


def test_new_files_get_the_umask_default_and_existing_files_keep_their_mode(tmp_path):
    old = os.umask(0o022)
    try:
        p = tmp_path / "a.txt"
        atomic_write_text(p, "one")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
        p.chmod(0o640)
        atomic_write_text(p, "two")
        assert stat.S_IMODE(p.stat().st_mode) == 0o640
        assert p.read_text() == "two"
    finally:
        os.umask(old)


def test_failed_write_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "b.txt"
    atomic_write_text(p, "safe")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(SaveError, match="disk is full"):
        atomic_write_text(p, "lost")
    assert p.read_text() == "safe"
    assert [f.name for f in tmp_path.iterdir()] == ["b.txt"]
