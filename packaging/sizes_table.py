"""Packaging: the sizes and build times table of docs/user/packages.md, from the build's own
records (``packaging/build.py --record FILE.json``), never typed by hand.

    python packaging/sizes_table.py bench/results/packaging_cpu.json [bench/results/packaging_vulkan.json]

prints the Markdown table; ``--update docs/user/packages.md`` puts it between the
``<!-- sizes -->`` markers of that file (tests/unit/test_packaging_build.py checks they agree).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROWS = (  # (label, bytes key, seconds key)
    ("one-folder bundle (PyInstaller)", "bundle_bytes", "build_seconds"),
    ("AppDir", "appdir_bytes", "appdir_seconds"),
    ("squashfs image (the AppImage without its runtime)", "squashfs_bytes", "squashfs_seconds"),
    ("AppImage", "appimage_bytes", None),
    (".tar.gz", "tarball_bytes", "tarball_seconds"),
    (".deb", "deb_bytes", "deb_seconds"),
)
START, END = "<!-- sizes -->", "<!-- /sizes -->"


def table(records: list[dict]) -> str:
    head = "| | " + " | ".join(f"{r['variant']} variant" for r in records) + " |"
    lines = [head, "|---|" + "---|" * len(records)]
    for label, size_key, secs_key in ROWS:
        if not any(r.get(size_key) for r in records):
            continue
        cells = []
        for r in records:
            if not r.get(size_key):
                cells.append("not built")
                continue
            cell = f"{r[size_key] / 1e6:.1f} MB"
            if secs_key and r.get(secs_key) is not None:
                cell += f", {r[secs_key]:.0f} s"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records", nargs="+", type=Path)
    ap.add_argument("--update", type=Path, help="replace the table between the markers of this file")
    args = ap.parse_args(argv)
    text = table([json.loads(p.read_text(encoding="utf-8")) for p in args.records])
    if args.update:
        doc = args.update.read_text(encoding="utf-8")
        new, n = re.subn(re.escape(START) + r".*?" + re.escape(END), f"{START}\n{text}\n{END}", doc, flags=re.S)
        if n != 1:
            raise SystemExit(f"{args.update}: no {START} ... {END} markers")
        args.update.write_text(new, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
