"""LONGHAND_CONFIG_DIR and LONGHAND_DATA_DIR reach every file Longhand writes there."""

from __future__ import annotations

from longhand.core.paths import models_dir
from longhand.core.projects import recent
from longhand.core.projects.project import Project


def test_config_and_data_dirs_move_recent_list_backups_models_and_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LONGHAND_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("LONGHAND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LONGHAND_MODELS_DIR", raising=False)
    p = Project(instruction="Write a story about a fox.", target_words=300)
    p.path = tmp_path / "fox.longhand"
    p.lock()
    p.save()
    recent.remember(p.path, "Fox")
    assert (tmp_path / "cfg" / "recent.json").is_file()
    assert [r.path for r in recent.recent_projects()] == [p.path]
    backup = recent.close_project(p, make_backup=True)
    assert backup is not None and backup.parent == tmp_path / "data" / "backups" and backup.is_file()
    assert models_dir() == tmp_path / "data" / "models"
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(tmp_path / "m"))
    assert models_dir() == tmp_path / "m"
    from longhand.ui.settings import app_settings
    qs = app_settings()
    qs.setValue("engine/seed", 3)
    qs.sync()
    assert (tmp_path / "cfg" / "Longhand.ini").is_file()
