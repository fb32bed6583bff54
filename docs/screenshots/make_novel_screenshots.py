"""Screenshots of a novel in two levels in the desktop app, from a real run on the
demo model: the tree outline (chapters ▸ scenes) and the Codex tab; also the chapter opening
of the exported manuscript (PDF, and DOCX when LibreOffice can render it).

    xvfb-run -s "-screen 0 1920x1080x24" python docs/screenshots/make_novel_screenshots.py
    (or QT_QPA_PLATFORM=offscreen)

The window plans the book (chapters) with the demo model, then "Write chapter" writes
chapter 1 (its scenes planned just before, then its summary and codex proposals). Writes
tree-outline.png and codex-tab.png next to this script, the project as
``$OUT/novel-demo.longhand`` (default: a temporary folder) and, with ``--manuscripts``,
docs/manuscript-chapter-pdf.png and docs/manuscript-chapter-docx.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
sys.path.insert(0, str(HERE.parents[1]))

INSTRUCTION = ("Write a 10000-word fantasy novel in chapters about Mara Voss, a cartographer in the "
               "drowned town of Lowmere who discovers that her maps change the land they depict.")
CODEX = [
    {"name": "Mara Voss", "kind": "character", "aliases": ["Mara"],
     "text": "A cartographer, 34, precise and stubborn; her father drowned when Lowmere flooded."},
    {"name": "Lowmere", "kind": "place", "aliases": ["the drowned town"],
     "text": "A town of canals on a sinking coast; its lower streets flood at every spring tide."},
    {"name": "Surveyor's Pen", "kind": "object", "aliases": ["the pen"],
     "text": "Mara's father's brass drawing pen; whatever it draws, the land becomes."},
]


def main() -> int:
    import make_screenshots as shots  # next to this script: the same start-up and waits

    out = Path(os.environ.get("OUT") or tempfile.mkdtemp(prefix="longhand-novel-"))
    out.mkdir(parents=True, exist_ok=True)
    app, w = shots.open_window(out / "settings", seed=5)
    w.confirm = lambda q: True

    from longhand.core.engine.codex import entry_from_dict
    from longhand.core.projects.project import Project

    def wait_until(cond, timeout: float = 3600.0) -> None:
        shots.wait_until(cond, timeout, interval_ms=50)

    def settle(ms: int = 500) -> None:
        shots.settle(ms)

    def laid_out() -> bool:
        """The manuscript has finished its layout: the page is as tall as its content, each
        card as tall as its heading, words line and text. (A rebuild settles over a few passes
        of the event loop, and a fixed wait is not enough on a loaded machine:
        tree-outline.png of 6cf39d9 was grabbed before the page had been sized, every card
        a thin strip with its heading over its text.)"""
        v = w.view
        page = v.widget()
        return (page.height() >= page.minimumSizeHint().height()
                and all(c.height() >= c.layout().totalMinimumSize().height()
                        and c.body.height() >= int(c.body.document().size().height()) for c in v.cards)
                and all(h.height() >= h.heightForWidth(h.width()) for h in v.chapter_heads))

    def shot(name: str) -> None:
        settle()
        app.processEvents()
        wait_until(laid_out, timeout=120)
        if not laid_out():
            print("warning: the manuscript's layout had not settled after 120 s", flush=True)
        settle(200)
        w.grab().save(str(HERE / name))
        print("saved", HERE / name, w.width(), "x", w.height(), flush=True)

    path = out / "novel-demo.longhand"
    existing = os.environ.get("PROJECT")
    if existing:                      # a project written before: only the screenshots
        shutil.copy(existing, path)
        w.open_project(path)
    else:
        w.instruction.setPlainText(INSTRUCTION)
        w.save_as(path)
        for obj in CODEX:
            w.project.codex.add(entry_from_dict(obj))
        w.novel.codex.refresh()
        t0 = time.perf_counter()
        w.plan()
        wait_until(lambda: not w.runner.busy)
        print(f"book plan: {len(w.project.chapters)} chapters in {time.perf_counter() - t0:.0f} s "
              f"({w.job_label.text()})", flush=True)
        t0 = time.perf_counter()
        w.novel.write_chapter(0)
        wait_until(lambda: not w.runner.busy)
        print(f"chapter 1: {w.project.words} words in {time.perf_counter() - t0:.0f} s; "
              f"error: {w.last_error}", flush=True)
        w.novel.write_next_scene()          # chapter 2 planned, its first scene written
        wait_until(lambda: not w.runner.busy)
        w.save()
    if w.last_error:
        print("error:", w.last_error)
    p = w.project
    w.banner.hide()
    book = w.outline.book
    book.expand_chapter(0)
    book.expand_chapter(1)
    book.select_chapter(0)
    w.jobs.refresh_progress()
    shot("tree-outline.png")
    scene = next((i for i, s in enumerate(p.sections) if s.codex_used), 0)
    w.tabs.setCurrentWidget(w.novel.codex)
    w.outline.select_row(scene)
    w.novel.codex.select_entry(0)
    shot("codex-tab.png")
    w.close()
    if "--manuscripts" in sys.argv:
        manuscripts(Project.load(path), out)
    return 0


def manuscripts(p, out: Path) -> None:
    """The chapter opening of the PDF and DOCX manuscripts, as PNG (pdftoppm; LibreOffice for DOCX)."""
    from longhand.core.export import export
    pdf = export(p, out / "novel.pdf")
    docx = export(p, out / "novel.docx")
    page = _chapter_page(pdf)
    _png(pdf, page, DOCS / "manuscript-chapter-pdf.png")
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        print("LibreOffice not installed: DOCX page not rendered")
        return
    subprocess.run([office, "--headless", "--convert-to", "pdf", "--outdir", str(out / "docx"), str(docx)],
                   check=True, capture_output=True, timeout=300)
    docx_pdf = out / "docx" / "novel.pdf"
    _png(docx_pdf, _chapter_page(docx_pdf), DOCS / "manuscript-chapter-docx.png")


def _chapter_page(pdf: Path) -> int:
    """The first page that opens a chapter ("Chapter 1")."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    for n, page in enumerate(text.split("\f"), 1):
        if "Chapter 1" in page or "CHAPTER 1" in page:
            return n
    return 2


def _png(pdf: Path, page: int, dest: Path) -> None:
    stem = dest.with_suffix("")
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", str(page), "-l", str(page), "-singlefile",
                    str(pdf), str(stem)], check=True)
    print("saved", dest, "(page", page, "of", pdf.name + ")")


if __name__ == "__main__":
    raise SystemExit(main())
