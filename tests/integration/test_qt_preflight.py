"""A real start of the window on a system where a library of Qt's xcb plugin is missing.

The library is hidden for real: the command runs in a private mount namespace where the system
library folder is an overlay whose upper layer holds whiteouts for that library's files (the
dynamic loader then finds nothing, as on a system that never installed it). Needs root and
``unshare``; skipped otherwise. The frozen app gets the same check in test_packaging.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hidelib import hiding_prefix
from longhand.core import qtlibs

HIDE = "libxcb-cursor.so.0"          # present here (Qt's hint names it), needed by libqxcb.so


def _gui_env(tmp: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "LONGHAND_SKIP_QT_CHECK", "LONGHAND_MODEL")}
    env.update(HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "config"), XDG_STATE_HOME=str(tmp / "state"),
               XDG_DATA_HOME=str(tmp / "data"), DISPLAY=env.get("DISPLAY", ":99"), LONGHAND_QT_CHECK_DIALOG="0",
               **extra)
    return env


@pytest.mark.skipif(not sys.platform.startswith("linux") or qtlibs.qt_dirs() is None,
                    reason="PySide6's Linux xcb plugin not installed")
def test_window_start_with_a_hidden_library_names_the_package(tmp_path):
    prefix = hiding_prefix(tmp_path, HIDE)
    # the library is really gone in there
    r = subprocess.run(prefix + [sys.executable, "-c", f"import ctypes; ctypes.CDLL({HIDE!r})"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "cannot open shared object file" in r.stderr, r.stderr
    # `longhand` without arguments: the window
    longhand = [sys.executable, "-m", "longhand"]
    r = subprocess.run(prefix + longhand, capture_output=True, text=True, timeout=120,
                       env=_gui_env(tmp_path), cwd=tmp_path)
    (tmp_path / "message.txt").write_text(r.stderr)
    assert r.returncode == qtlibs.EXIT_CODE, r.stderr[-3000:]
    assert "Longhand cannot open its window" in r.stderr
    assert HIDE in r.stderr
    assert "sudo apt install libxcb-cursor0" in r.stderr
    assert "sudo dnf install xcb-util-cursor" in r.stderr
    assert "sudo pacman -S xcb-util-cursor" in r.stderr
    assert "Could not load the Qt platform plugin" not in r.stderr
    # what the same start did before the check: Qt's abort, no package named
    r = subprocess.run(prefix + longhand, capture_output=True, text=True, timeout=120,
                       env=_gui_env(tmp_path, LONGHAND_SKIP_QT_CHECK="1"), cwd=tmp_path)
    assert r.returncode != 0
    assert "Could not load the Qt platform plugin" in r.stderr, r.stderr[-3000:]
    assert "sudo apt install" not in r.stderr
    # the command line still works there
    r = subprocess.run(prefix + [sys.executable, "-m", "longhand", "--version"], capture_output=True,
                       text=True, timeout=120, env=_gui_env(tmp_path))
    assert r.returncode == 0 and r.stdout.startswith("Longhand ")

