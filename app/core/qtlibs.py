"""Core: before Qt starts on Linux, check the system libraries its X11 (xcb) plugin needs.

Without them Qt aborts with "Could not load the Qt platform plugin "xcb" in "" even though it
was found ... Available platform plugins are: minimal, linuxfb, offscreen, xcb, ..." and names
no package (a fresh Debian 12 lacks ``libxcb-icccm4`` and ``libxcb-keysyms1``; Qt's own hint
names ``libxcb-cursor0`` even when that one is installed). :func:`check` reads which libraries
the plugin really links (the ``DT_NEEDED`` entries of ``libqxcb.so`` and of the Qt libraries it
pulls in from its own folder), tries to load each of the others the way the dynamic loader
would, and :func:`message` names the missing ones with the package to install per
distribution family (apt, dnf, pacman, zypper).

No Qt import here: this runs before the first ``import PySide6.QtWidgets``.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# soname -> package per family: (apt: Debian, Ubuntu, Mint; dnf: Fedora, RHEL; pacman: Arch,
# Manjaro, SteamOS; zypper: openSUSE). Libraries the C/C++ runtime provides are never missing.
PACKAGES: dict[str, tuple[str, str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor", "libxcb-cursor0"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm", "libxcb-icccm4"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util", "libxcb-util1"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image", "libxcb-image0"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms", "libxcb-keysyms1"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil",
                                "libxcb-render-util0"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb", "libxcb-randr0"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb", "libxcb-shm0"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb", "libxcb-sync1"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb", "libxcb-xfixes0"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb", "libxcb-render0"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb", "libxcb-shape0"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb", "libxcb-xkb1"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb", "libxcb1"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11", "libX11-xcb1"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11", "libX11-6"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon", "libxkbcommon0"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11",
                              "libxkbcommon-x11-0"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd", "libGL1"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd", "libEGL1"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd", "libOpenGL0"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig", "libfontconfig1"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2", "libfreetype6"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2", "libglib-2_0-0"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2", "libgthread-2_0-0"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus", "libdbus-1-3"),
    "libz.so.1": ("zlib1g", "zlib", "zlib", "libz1"),
    "libzstd.so.1": ("libzstd1", "libzstd", "zstd", "libzstd1"),
}

FAMILIES = (  # (key, index in PACKAGES, label, install command)
    ("apt", 0, "Debian, Ubuntu, Linux Mint (apt)", "sudo apt install"),
    ("dnf", 1, "Fedora, RHEL, Rocky, Alma (dnf)", "sudo dnf install"),
    ("pacman", 2, "Arch, Manjaro, SteamOS (pacman)", "sudo pacman -S"),
    ("zypper", 3, "openSUSE (zypper)", "sudo zypper install"),
)
_FAMILY_IDS = {"debian": "apt", "ubuntu": "apt", "linuxmint": "apt", "pop": "apt", "raspbian": "apt",
               "fedora": "dnf", "rhel": "dnf", "centos": "dnf", "rocky": "dnf", "almalinux": "dnf",
               "arch": "pacman", "manjaro": "pacman", "endeavouros": "pacman", "steamos": "pacman",
               "opensuse": "zypper", "suse": "zypper", "sles": "zypper", "opensuse-tumbleweed": "zypper",
               "opensuse-leap": "zypper"}

# what the C/C++ runtime provides: present wherever Python itself runs
_RUNTIME = re.compile(r"^(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|ld-linux[-\w]*)\.so")

EXIT_CODE = 3


@dataclass
class Missing:
    soname: str
    needed_by: str
    error: str = ""


@dataclass
class Report:
    plugin: str = ""                      # the libqxcb.so checked ("" when none was found)
    checked: list[str] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# ELF: the DT_NEEDED entries of a 64-bit little-endian shared library

def needed(path: Path) -> list[str]:
    """The libraries ``path`` names in its dynamic section, in order ([] when not ELF64-LE)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    e_phoff, = struct.unpack_from("<Q", data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], None
    for i in range(e_phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 1:                   # PT_LOAD
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:                 # PT_DYNAMIC
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return []
    entries, strtab = [], None
    for off in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, val = struct.unpack_from("<qQ", data, off)
        if tag == 0:
            break
        if tag == 1:                      # DT_NEEDED
            entries.append(val)
        elif tag == 5:                    # DT_STRTAB (an address: map it to the file)
            strtab = next((val - va + fo for va, fo, sz in loads if va <= val < va + sz), None)
    if strtab is None:
        return []
    out = []
    for idx in entries:
        start = strtab + idx
        out.append(data[start:data.index(b"\0", start)].decode("ascii", "replace"))
    return out


# ---------------------------------------------------------------------------------------
# Where the plugin is, and whether a library loads

def qt_dirs() -> tuple[Path, Path] | None:
    """(Qt's lib folder, the xcb plugin) of the PySide6 this Python would import, or None."""
    roots = []
    if getattr(sys, "frozen", False):
        roots.append(Path(getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))) / "PySide6")
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    for root in roots:
        plugin = root / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return root / "Qt" / "lib", plugin
    return None


def dlopen_error(soname: str) -> str:
    """'' when the dynamic loader finds and loads ``soname``, else its error."""
    try:
        ctypes.CDLL(soname)
        return ""
    except OSError as e:
        return str(e)


def check(resolve: Callable[[str], str] | None = None, dirs: tuple[Path, Path] | None = None) -> Report:
    """Which system libraries of Qt's xcb plugin do not load (``resolve`` returns the loader's
    error, '' when it loads; default :func:`dlopen_error`)."""
    resolve = resolve or dlopen_error
    rep = Report()
    found = dirs or qt_dirs()
    if found is None:
        return rep
    lib_dir, plugin = found
    rep.plugin = str(plugin)
    local = {p.name for p in lib_dir.iterdir()} if lib_dir.is_dir() else set()
    bundle = Path(getattr(sys, "_MEIPASS", "")) if getattr(sys, "frozen", False) else None
    todo, seen = [plugin], set()
    while todo:
        lib = todo.pop(0)
        for name in needed(lib):
            if name in seen or _RUNTIME.match(name):
                continue
            seen.add(name)
            if name in local:             # Qt's own folder (the plugin's RUNPATH)
                todo.append(lib_dir / name)
                continue
            if bundle is not None and (bundle / name).is_file():
                todo.append(bundle / name)   # the frozen app carries it (and what it needs?)
                continue
            rep.checked.append(name)
            err = resolve(name)
            if err:
                rep.missing.append(Missing(_missing_name(name, err), lib.name, err))
    return rep


def _missing_name(soname: str, error: str) -> str:
    """The library the loader could not find: ``soname`` itself, or one it needs in turn."""
    m = re.match(r"^([^\s:]+\.so[.\d]*): cannot open shared object file", error.strip())
    return m.group(1) if m else soname


# ---------------------------------------------------------------------------------------
# What to tell the user

def distro_family(os_release: str | None = None) -> str:
    """apt, dnf, pacman, zypper or '' from /etc/os-release's ID and ID_LIKE."""
    if os_release is None:
        try:
            os_release = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
    fields = dict(re.findall(r'^(ID|ID_LIKE)="?([^"\n]*)"?$', os_release, re.M))
    for ident in (fields.get("ID", "") + " " + fields.get("ID_LIKE", "")).split():
        fam = _FAMILY_IDS.get(ident.lower()) or ("zypper" if ident.lower().startswith("opensuse") else "")
        if fam:
            return fam
    return ""


def install_commands(sonames: list[str]) -> list[tuple[str, str, str]]:
    """(family key, label, command line) for each family, for the given missing libraries."""
    out = []
    for key, idx, label, cmd in FAMILIES:
        pkgs: list[str] = []
        for s in sonames:
            pkg = PACKAGES[s][idx] if s in PACKAGES else f"<the package that provides {s}>"
            if pkg not in pkgs:
                pkgs.append(pkg)
        out.append((key, label, f"{cmd} {' '.join(pkgs)}"))
    return out


def message(rep: Report, family: str | None = None) -> str:
    """What a user on a system without those libraries reads instead of Qt's abort."""
    names = list(dict.fromkeys(m.soname for m in rep.missing))
    fam = distro_family() if family is None else family
    lines = ["Longhand cannot open its window: Qt's X11 platform plugin (xcb) needs system "
             "libraries that are not installed:", "  " + ", ".join(names), "",
             "Install them with your distribution's package manager, then start Longhand again:"]
    cmds = install_commands(names)
    cmds.sort(key=lambda c: c[0] != fam)              # this system's family first
    for key, label, line in cmds:
        mark = "  (this system)" if key == fam and fam else ""
        lines.append(f"  {label}{mark}:")
        lines.append(f"      {line}")
    lines += ["", "The command line works without them (longhand write ..., longhand doctor)."]
    return "\n".join(lines)


def platform_needs_xcb(environ: dict[str, str] | None = None, argv: list[str] | None = None) -> bool:
    """True when Qt would use its xcb plugin (X11) on this Linux session."""
    env = os.environ if environ is None else environ
    args = sys.argv if argv is None else argv
    chosen = env.get("QT_QPA_PLATFORM", "")
    if "-platform" in args[:-1]:
        chosen = args[args.index("-platform") + 1]
    if chosen:
        return chosen.split(":")[0].split(";")[0].strip() == "xcb"
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return False                      # Qt picks its wayland plugin there
    return True


def show_without_qt(text: str) -> str:
    """Show ``text`` in a dialog of the desktop's own tools (a start from the menu has no
    terminal to print to): zenity, kdialog, xmessage, else a notification. The tool used, or ''."""
    import html
    import shutil
    import subprocess
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return ""
    tools = (("zenity", ["--error", "--no-wrap", "--title=Longhand", f"--text={html.escape(text)}"]),
             ("kdialog", ["--title", "Longhand", "--error", text]),
             ("xmessage", ["-center", "-title", "Longhand", text]),
             ("notify-send", ["--urgency=critical", "Longhand cannot open its window", text]))
    for tool, args in tools:
        path = shutil.which(tool)
        if path is None:
            continue
        try:
            r = subprocess.run([path, *args], timeout=3600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            continue
        if r.returncode == 0:             # shown and closed (else: no display for it, try the next)
            return tool
    return ""


def preflight(stream=None) -> int:
    """0 when the window can start; else prints :func:`message` (and shows it in a dialog when
    there is no terminal: a start from the menu) and returns :data:`EXIT_CODE`.

    Only on Linux, and only when Qt would use X11. ``LONGHAND_SKIP_QT_CHECK=1`` skips it;
    ``LONGHAND_QT_CHECK_DIALOG=0`` keeps the message on stderr only.
    """
    if not sys.platform.startswith("linux") or os.environ.get("LONGHAND_SKIP_QT_CHECK") == "1":
        return 0
    if not platform_needs_xcb():
        return 0
    rep = check()
    if not rep.missing:
        return 0
    text = message(rep)
    out = stream or sys.stderr
    print(text, file=out)
    isatty = getattr(out, "isatty", None)
    if not (isatty and isatty()) and os.environ.get("LONGHAND_QT_CHECK_DIALOG") != "0":
        show_without_qt(text)
    import logging
    logging.getLogger(__name__).info("missing libraries for Qt's xcb plugin: %s",
                                      ", ".join(m.soname for m in rep.missing))
    return EXIT_CODE
