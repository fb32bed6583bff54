"""App files and user dirs: the icon set, the desktop file, where user files go, logging,
the first start without a model (no build, no model; the frozen app is tested in
tests/integration/test_packaging.py)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from longhand.core import paths

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def test_icon_set_has_every_size(qapp):
    from PySide6.QtGui import QImage
    for size in ICON_SIZES:
        img = QImage(str(RESOURCES / "icons" / f"longhand-{size}.png"))
        assert (img.width(), img.height()) == (size, size), size
        assert img.hasAlphaChannel()
        # drawn, not blank: the centre pixel is opaque
        assert img.pixelColor(size // 2, size // 2).alpha() == 255
    assert paths.icon_sizes() == list(ICON_SIZES)
    assert paths.icon_path().read_text().lstrip().startswith("<?xml")
    assert (RESOURCES / "longhand.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (RESOURCES / "longhand.icns").read_bytes()[:4] == b"icns"


def test_desktop_file_is_valid():
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(RESOURCES / "longhand.desktop", encoding="utf-8")
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Longhand"
    assert entry["Icon"] == "longhand"
    assert entry["Terminal"] == "false"
    assert entry["Exec"].split()[0] == "longhand-gui"   # the pip-installed GUI script
    assert entry["Categories"].endswith(";")
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(["desktop-file-validate", str(RESOURCES / "longhand.desktop")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_user_dirs_follow_platformdirs_and_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    if sys.platform.startswith("linux"):
        assert paths.config_dir() == tmp_path / "cfg" / "longhand"
        assert paths.log_dir() == tmp_path / "state" / "longhand" / "log"
    monkeypatch.setenv("LONGHAND_PROJECTS_DIR", str(tmp_path / "books"))
    assert paths.projects_dir() == tmp_path / "books"


def test_nothing_is_written_inside_a_frozen_bundle(tmp_path, monkeypatch):
    bundle = tmp_path / "Longhand" / "_internal"
    bundle.mkdir(parents=True)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert paths.is_frozen() and paths.bundle_dir() == bundle.resolve()
    with pytest.raises(ValueError, match="inside the app bundle"):
        paths.writable_dir(bundle / "logs")
    monkeypatch.setenv("LONGHAND_LOG_DIR", str(tmp_path / "logs"))
    assert paths.writable_dir(paths.log_dir()).is_dir()


def test_file_logging_goes_to_the_log_dir(tmp_path, monkeypatch):
    import logging
    monkeypatch.setenv("LONGHAND_LOG_DIR", str(tmp_path / "logs"))
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        log = paths.setup_file_logging()
        assert paths.setup_file_logging() == log          # no second handler
        assert len(root.handlers) == len(before) + 1
        logging.getLogger("longhand.test").warning("hello from the packaging test")
        for h in root.handlers:
            h.flush()
        assert "hello from the packaging test" in log.read_text(encoding="utf-8")
        assert log.parent == tmp_path / "logs"
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
                h.close()


def test_first_start_without_a_model_opens_the_model_manager(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from longhand.core.library.demo import DEMO_PACKAGE
    from longhand.ui import main as gui_main
    from longhand.ui.window import MainWindow
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qs"))
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setitem(sys.modules, DEMO_PACKAGE, None)     # as in the frozen app
    window = MainWindow()
    qtbot.addWidget(window)
    assert gui_main.no_model_available(window)
    shown, opened = [], []
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: shown.append(a[2]))
    monkeypatch.setattr(window, "open_models", lambda: opened.append(True))
    gui_main.first_start_without_model(window)
    assert "none is installed" in shown[0] and opened == [True]
    # a model chosen in the settings, or present in the models dir, means no first-start dialog
    (tmp_path / "no-models").mkdir()
    (tmp_path / "no-models" / "gemma-3-270m-q4_k_m.gguf").write_bytes(b"GGUF" + bytes(60))
    assert not gui_main.no_model_available(window)
