"""Test helper: run a command on this machine with a system library gone, for real.

The command runs in a private mount namespace where the library's folder is an overlay whose
upper layer holds whiteouts for that library's files: the dynamic loader finds nothing, as on a
system that never installed it. Needs root and ``unshare``; the tests skip otherwise.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import pytest


def _real_path(soname: str) -> Path | None:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return None
    for line in Path("/proc/self/maps").read_text().splitlines():
        if line.rstrip().endswith("/" + soname) or f"/{soname}." in line:
            return Path(line.split()[-1])
    return None


def hiding_prefix(tmp: Path, soname: str) -> list[str]:
    """A command prefix that runs its command with ``soname`` (and its versioned files) gone."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding a system library needs root and unshare")
    real = _real_path(soname)
    if real is None:
        pytest.skip(f"{soname} is not installed here")
    folder = real.resolve().parent
    upper, work = tmp / "upper", tmp / "work"
    upper.mkdir(parents=True)
    work.mkdir(parents=True)
    for f in folder.iterdir():
        if f.name == soname or f.name.startswith(soname + "."):
            os.mknod(upper / f.name, 0o600 | 0o020000, os.makedev(0, 0))     # overlay whiteout
    mount = (f"mount -t overlay overlay -o lowerdir={folder},upperdir={upper},workdir={work} {folder}"
             f" && exec \"$@\"")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, "sh",
                            "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no overlay mount here: {probe.stderr.strip()}")
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, "sh"]
