"""Unit: a two-level book's manuscript (DOCX and PDF, read back): each chapter on a new page
under "Chapter N" and its title, scenes separated by a centred "#"."""

from __future__ import annotations

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from pypdf import PdfReader

from longhand.core.engine.book_model import Chapter
from longhand.core.engine.plan import DONE, Section
from longhand.core.export import export
from longhand.core.export.manuscript import manuscript
from longhand.core.projects.project import Project


def _book() -> Project:
    p = Project(instruction="Write a 20000-word novel about a cartographer.", target_words=20_000,
                title="The Moving Map", author="Ada Quill")
    p.chapters = [Chapter("The Silver Nib", "Ilse finds the pen.", 10_000),
                  Chapter("High Water", "The river moves.", 10_000),
                  Chapter("Not Yet Written", "Later.", 0 or 1)]
    texts = [("Ilse opened the case.\nThe nib was cold.", 0), ("Tomas came at noon with the tide.", 0),
             ("By morning the Greywater had moved a mile.", 1), ("The Duke sent a letter.\n* * *\nNight fell.", 1)]
    p.sections = [Section(f"scene {i}", 500, text=t, status=DONE, chapter=c) for i, (t, c) in enumerate(texts)]
    p.sections.append(Section("unwritten", 500, chapter=2))
    return p


def test_book_blocks():
    m = manuscript(_book())
    kinds = [(b.kind, b.text, b.title) for b in m.blocks if b.kind != "para"]
    assert kinds == [("heading", "Chapter 1", "The Silver Nib"), ("break", "#", ""),
                     ("heading", "Chapter 2", "High Water"), ("break", "#", ""), ("break", "#", ""),
                     ("end", "END", "")]
    assert "Chapter 3" not in m.body_text()


def test_docx_chapters_on_new_pages_with_number_and_title(tmp_path):
    f = export(_book(), tmp_path / "book.docx")
    doc = Document(str(f))
    paras = [p for p in doc.paragraphs if p.text.strip()]
    texts = [p.text for p in paras]
    for n, title in ((1, "The Silver Nib"), (2, "High Water")):
        i = texts.index(f"Chapter {n}")
        assert paras[i].paragraph_format.page_break_before
        assert texts[i + 1] == title and paras[i + 1].alignment == WD_ALIGN_PARAGRAPH.CENTER
    hashes = [p for p in paras if p.text == "#"]
    assert len(hashes) == 3 and all(p.alignment == WD_ALIGN_PARAGRAPH.CENTER for p in hashes)
    assert texts.index("Tomas came at noon with the tide.") > texts.index("#") > texts.index("The nib was cold.")
    assert "Chapter 3" not in texts and texts[-1] == "END"


def test_pdf_chapter_opens_a_page(tmp_path):
    f = export(_book(), tmp_path / "book.pdf")
    pages = [p.extract_text() for p in PdfReader(str(f)).pages]
    ch1 = next(i for i, t in enumerate(pages) if "Chapter 1" in t)
    ch2 = next(i for i, t in enumerate(pages) if "Chapter 2" in t)
    assert ch2 > ch1 > 0
    for i, title in ((ch1, "The Silver Nib"), (ch2, "High Water")):
        lines = [ln.strip() for ln in pages[i].splitlines() if ln.strip()]
        at = next(k for k, ln in enumerate(lines) if ln.startswith("Chapter"))
        assert lines[at + 1] == title           # the page opens with the chapter, then its title
    assert "#" in pages[ch1].splitlines() or any(ln.strip() == "#" for ln in pages[ch1].splitlines())
    assert "By morning the Greywater had moved a mile." in pages[ch2]


def test_markdown_and_text_read_as_the_manuscript(tmp_path):
    """Chapter headings with their titles, scene breaks between scenes, no scene titles (the
    Markdown export had the scenes' titles as headings and no chapters)."""
    md = export(_book(), tmp_path / "book.md").read_text(encoding="utf-8")
    assert md.startswith("# The Moving Map\n\n## Chapter 1: The Silver Nib\n\nIlse opened the case.\n\nThe nib was cold.\n\n* * *\n\n"
                         "Tomas came at noon with the tide.\n\n## Chapter 2: High Water\n\n")
    assert md.count("* * *") == 3 and "scene 0" not in md and "Chapter 3" not in md
    txt = export(_book(), tmp_path / "book.txt").read_text(encoding="utf-8")
    lines = [ln for ln in txt.splitlines() if ln]
    assert lines[:5] == ["Chapter 1: The Silver Nib", "Ilse opened the case.", "The nib was cold.", "#",
                         "Tomas came at noon with the tide."]
    assert lines[-3:] == ["The Duke sent a letter.", "#", "Night fell."] and "scene 1" not in txt
