"""The check before Qt starts: the xcb plugin's system libraries, and the package names a user
is told instead of Qt's abort (the real run with a library hidden is in
tests/integration/test_qt_preflight.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from longhand.core import qtlibs

DIRS = qtlibs.qt_dirs()
needs_qt = pytest.mark.skipif(DIRS is None or not sys.platform.startswith("linux"),
                              reason="PySide6's Linux xcb plugin not installed")


def _missing(*names):
    def resolve(soname):
        return f"{soname}: cannot open shared object file: No such file or directory" if soname in names else ""
    return resolve


@needs_qt
def test_needed_reads_the_plugins_dynamic_section():
    _lib, plugin = DIRS
    names = qtlibs.needed(plugin)
    assert "libQt6XcbQpa.so.6" in names and "libxcb.so.1" in names
    if shutil.which("readelf"):
        out = subprocess.run(["readelf", "-d", str(plugin)], capture_output=True, text=True, check=True).stdout
        assert names == [ln.split("[", 1)[1].rstrip("]") for ln in out.splitlines() if "(NEEDED)" in ln]


@needs_qt
def test_check_walks_qt_libraries_and_checks_system_ones():
    asked = []
    rep = qtlibs.check(resolve=lambda s: asked.append(s) or "")
    assert rep.missing == [] and rep.plugin.endswith("libqxcb.so")
    # the plugin's own X11 libraries and those of the Qt libraries it pulls in (libQt6Gui: EGL,
    # fontconfig), but never Qt's own files or the C runtime
    for soname in ("libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0", "libEGL.so.1",
                   "libfontconfig.so.1"):
        assert soname in asked, soname
    assert not [s for s in asked if s.startswith(("libQt6", "libicu", "libc.so", "libstdc++"))]
    assert len(asked) == len(set(asked))


@needs_qt
def test_a_missing_library_is_named_with_its_package_per_family():
    rep = qtlibs.check(resolve=_missing("libxcb-icccm.so.4", "libxcb-keysyms.so.1"))
    assert [m.soname for m in rep.missing] == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    text = qtlibs.message(rep, family="apt")
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in text
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in text
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms" in text
    assert "sudo pacman -S xcb-util-wm xcb-util-keysyms" in text
    assert "sudo zypper install libxcb-icccm4 libxcb-keysyms1" in text
    # this system's family first and marked
    first = text.splitlines()[4]
    assert "(apt)" in first and "(this system)" in first
    assert qtlibs.message(rep, family="pacman").splitlines()[4].startswith("  Arch")


@needs_qt
def test_a_library_missing_behind_another_names_the_one_not_found():
    def resolve(soname):
        return ("libxcb-util.so.0: cannot open shared object file: No such file or directory"
                if soname == "libxcb-image.so.0" else "")
    rep = qtlibs.check(resolve=resolve)
    assert [m.soname for m in rep.missing] == ["libxcb-util.so.0"]
    assert "sudo apt install <the package that provides libxcb-util.so.0>" in qtlibs.message(rep, family="")


def test_packages_of_one_family_are_listed_once():
    cmds = dict((k, line) for k, _label, line in qtlibs.install_commands(["libxcb-randr.so.0", "libxcb-shm.so.0"]))
    assert cmds["dnf"] == "sudo dnf install libxcb"
    assert cmds["apt"] == "sudo apt install libxcb-randr0 libxcb-shm0"


@pytest.mark.parametrize("text, family", [
    ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n', "apt"),
    ('ID=ubuntu\nID_LIKE=debian\n', "apt"),
    ('ID=linuxmint\nID_LIKE="ubuntu debian"\n', "apt"),
    ('ID=fedora\n', "dnf"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "dnf"),
    ('ID=arch\n', "pacman"),
    ('ID=steamos\nID_LIKE=arch\n', "pacman"),
    ('ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n', "zypper"),
    ('ID=gentoo\n', ""),
])
def test_distro_family(text, family):
    assert qtlibs.distro_family(text) == family


@pytest.mark.parametrize("env, argv, xcb", [
    ({}, [], True),
    ({"QT_QPA_PLATFORM": "offscreen"}, [], False),
    ({"QT_QPA_PLATFORM": "xcb"}, [], True),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, [], False),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, [], False),
    ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "x11"}, [], True),
    ({}, ["longhand", "-platform", "offscreen"], False),
])
def test_platform_needs_xcb(env, argv, xcb):
    assert qtlibs.platform_needs_xcb(env, argv) is xcb


def test_needed_of_a_non_elf_file_is_empty(tmp_path):
    p = tmp_path / "x.so"
    p.write_bytes(b"not an ELF file at all")
    assert qtlibs.needed(p) == []


@needs_qt
def test_gui_start_stops_before_qt_with_the_message(tmp_path):
    """longhand without arguments (the window) on a system where the lookup fails: exit code 3,
    the message, and Qt never imported."""
    code = textwrap.dedent("""
        import sys
        from longhand.core import qtlibs
        qtlibs.dlopen_error = lambda s: (s + ": cannot open shared object file") if s == "libxcb-icccm.so.4" else ""
        from longhand.cli import main
        rc = main([])
        print("qt imported:", any(k.startswith("PySide6.Qt") for k in sys.modules))
        sys.exit(rc)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY",
                                                            "LONGHAND_SKIP_QT_CHECK")}
    env.update(DISPLAY=":99", HOME=str(tmp_path), LONGHAND_QT_CHECK_DIALOG="0")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == qtlibs.EXIT_CODE, r.stderr
    assert "qt imported: False" in r.stdout
    assert "Longhand cannot open its window" in r.stderr
    assert "libxcb-icccm4" in r.stderr and "xcb-util-wm" in r.stderr
    assert "Could not load the Qt platform plugin" not in r.stderr


def test_without_a_terminal_the_message_goes_to_a_desktop_dialog(tmp_path, monkeypatch):
    """A start from the menu has no terminal: the first dialog tool on PATH shows the text."""
    log = tmp_path / "args.txt"
    tool = tmp_path / "kdialog"
    tool.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {log}\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":5")
    assert qtlibs.show_without_qt("install libxcb-icccm4 <now>") == "kdialog"
    assert log.read_text().splitlines() == ["--title", "Longhand", "--error", "install libxcb-icccm4 <now>"]
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert qtlibs.show_without_qt("x") == ""          # no display to show it on


def test_preflight_prints_and_shows_when_not_on_a_terminal(tmp_path, monkeypatch):
    import io
    shown = []
    monkeypatch.setattr(qtlibs, "check", lambda: qtlibs.Report("p", ["libxcb-icccm.so.4"],
                                                              [qtlibs.Missing("libxcb-icccm.so.4", "libqxcb.so")]))
    monkeypatch.setattr(qtlibs, "show_without_qt", lambda text: shown.append(text) or "zenity")
    monkeypatch.setattr(qtlibs.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("LONGHAND_SKIP_QT_CHECK", raising=False)
    monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
    out = io.StringIO()
    assert qtlibs.preflight(out) == qtlibs.EXIT_CODE
    assert "libxcb-icccm4" in out.getvalue() and shown == [out.getvalue().rstrip("\n")]


def test_a_dialog_tool_that_fails_gives_way_to_the_next(tmp_path, monkeypatch):
    (tmp_path / "zenity").write_text("#!/bin/sh\nexit 5\n")          # e.g. cannot open the display
    (tmp_path / "xmessage").write_text("#!/bin/sh\nexit 0\n")
    for t in ("zenity", "xmessage"):
        (tmp_path / t).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":5")
    assert qtlibs.show_without_qt("x") == "xmessage"
