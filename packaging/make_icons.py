"""Packaging: render the app icon (resources/longhand.svg) to every size the OSes want.

Writes resources/icons/longhand-<N>.png (16..512), resources/longhand.png (256),
resources/longhand.ico (Windows) and resources/longhand.icns (macOS). The SVG is the one
source; run this again after editing it:

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
SVG = RESOURCES / "longhand.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render_pngs() -> dict[int, Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SVG}")
    out = RESOURCES / "icons"
    out.mkdir(exist_ok=True)
    paths = {}
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out / f"longhand-{size}.png"
        image.save(str(path))
        paths[size] = path
    return paths


def main() -> int:
    from PIL import Image

    pngs = render_pngs()
    big = Image.open(pngs[512]).convert("RGBA")
    Image.open(pngs[256]).save(RESOURCES / "longhand.png")
    # .ico: Pillow picks each size from the largest image; give it the crisp renders instead.
    ico_sizes = [s for s in SIZES if s <= 256]
    frames = [Image.open(pngs[s]).convert("RGBA") for s in ico_sizes]
    frames[-1].save(RESOURCES / "longhand.ico", format="ICO",
                    sizes=[(s, s) for s in ico_sizes], append_images=frames[:-1])
    big.save(RESOURCES / "longhand.icns", format="ICNS",
             append_images=[Image.open(pngs[s]).convert("RGBA") for s in (16, 32, 64, 128, 256)])
    for name in ("longhand.ico", "longhand.icns", "longhand.png"):
        print(RESOURCES / name, (RESOURCES / name).stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
