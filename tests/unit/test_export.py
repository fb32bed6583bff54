"""Exports read back: DOCX through python-docx, PDF through pypdf (and pdftotext when present)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.shared import Inches, Pt
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from longhand.cli import main
from longhand.core.engine.plan import DONE, Section
from longhand.core.export import export
from longhand.core.export.manuscript import ExportError, paragraphs
from longhand.core.projects.project import Project
from longhand.core.text.wordcount import count_words, round_to

ENGLISH = [
    ("The Bottle", "The bottle came in with the morning tide, green glass furred with weed. Mara "
     "turned it over twice before she trusted her eyes.\nInside, rolled tight, was a letter.\n\n"
     "* * *\n\nShe did not open it until the lamp was lit and the kettle had sung. “Not yet,” she "
     "told the gulls, and meant it."),
    ("The Letter", "The handwriting was her mother's, though her mother had been dead for thirty "
     "years. " * 12 + "\nMara read it twice, then a third time, aloud, to the empty room."),
    ("The Crossing", "At dawn she took the boat out past the reef, where the water turns from green "
     "to a blue so deep it looks like evening. " * 8),
]
CHINESE = [
    ("瓶子", "清晨的潮水把一个绿色的玻璃瓶冲上了岸。玛拉把它翻过来看了两遍，才相信自己的眼睛。\n瓶子里卷着一封信。"),
    ("信", "那是她母亲的笔迹，可她的母亲已经去世三十年了。" * 10 + "\n她读了两遍，然后对着空房间大声读了第三遍。"),
]


def make(sections, **kw) -> Project:
    p = Project(instruction="Write a 1000-word story about a lighthouse keeper.", target_words=1000,
                title="The Keeper's Letter", author="Ada King Lovelace",
                contact="12 Harbour Road\nPenzance TR18 4AA\nada@example.org", **kw)
    p.sections = [Section(main_point=f"Part {i}", target_words=300, title=t, text=x, status=DONE)
                  for i, (t, x) in enumerate(sections, 1)]
    return p


def expected_body(project: Project) -> list[str]:
    """Headings and paragraphs in order, scene-break lines as '#'."""
    out = []
    for s in project.sections:
        out.append(s.title)
        out += ["#" if re.fullmatch(r"[*\s]+", para) else para for para in paragraphs(s.text)]
    return out


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------------------------------
# DOCX

def test_docx_manuscript_format(tmp_path):
    p = make(ENGLISH)
    path = export(p, tmp_path / "book.docx")
    doc = Document(path)
    sec = doc.sections[0]
    assert (sec.page_width, sec.page_height) == (Inches(8.5), Inches(11))
    assert sec.left_margin == sec.right_margin == sec.top_margin == sec.bottom_margin == Inches(1)
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(12)
    pf = normal.paragraph_format
    assert pf.line_spacing_rule == WD_LINE_SPACING.DOUBLE
    assert pf.first_line_indent == Inches(0.5)
    assert pf.space_after == Pt(0) and pf.space_before == Pt(0)

    paras = doc.paragraphs
    # Title page: name left, word count right (rounded to the nearest hundred), contact below.
    words = p.words
    assert paras[0].text == f"Ada King Lovelace\tabout {round_to(words, 100):,} words"
    assert [q.text for q in paras[1:4]] == ["12 Harbour Road", "Penzance TR18 4AA", "ada@example.org"]
    title, byline = paras[4], paras[5]
    assert title.text == "The Keeper's Letter" and byline.text == "by Ada King Lovelace"
    assert title.alignment == byline.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert title.paragraph_format.space_before > Inches(3)        # about halfway down the page

    body = paras[6:]
    assert body[-1].text == "END" and body[-1].alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert [q.text for q in body[:-1]] == expected_body(p)
    headings = [q for q in body if q.style.name == "Heading 1"]
    assert [h.text for h in headings] == [s.title for s in p.sections]
    for h in headings:   # each chapter on a new page, centred
        assert h.paragraph_format.page_break_before
        assert doc.styles["Heading 1"].paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
    breaks = [q for q in body if q.text == "#"]
    assert len(breaks) == 1 and breaks[0].alignment == WD_ALIGN_PARAGRAPH.CENTER
    # Paragraphs: no blank ones, indented by the style.
    assert all(q.text.strip() for q in paras)
    # Running header from page 2 only: "Surname / Title / PAGE".
    assert sec.different_first_page_header_footer
    head = sec.header.paragraphs[0]
    assert head.text.startswith("Lovelace / Keeper's Letter / ")
    assert head.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert " PAGE " in head._p.xml and 'w:fldCharType="begin"' in head._p.xml
    assert sec.first_page_header.paragraphs[0].text == ""
    assert doc.core_properties.title == "The Keeper's Letter"
    assert count_words("\n".join(q.text for q in body if q.style.name != "Heading 1")) == words + 1  # + "END"


def test_docx_courier_scenes_and_a4(tmp_path):
    p = make(ENGLISH)
    doc = Document(export(p, tmp_path / "c.docx", font="courier", sections="scenes", page_size="a4"))
    assert doc.styles["Normal"].font.name == "Courier New"
    assert round(doc.sections[0].page_width.mm) == 210 and round(doc.sections[0].page_height.mm) == 297
    texts = [q.text for q in doc.paragraphs]
    assert not any(q.style.name == "Heading 1" for q in doc.paragraphs)
    assert texts.count("#") == 1 + len(p.sections) - 1      # the one in the text + between sections
    assert texts[-1] == "END"


def test_docx_plain_style(tmp_path):
    p = make(ENGLISH)
    doc = Document(export(p, tmp_path / "plain.docx", style="plain"))
    assert doc.styles["Normal"].paragraph_format.line_spacing == 1.15
    assert not doc.sections[0].different_first_page_header_footer
    texts = [q.text for q in doc.paragraphs]
    assert texts[0] == "The Keeper's Letter" and "END" not in texts
    assert texts[2:] == expected_body(p)
    assert " PAGE " in doc.sections[0].footer.paragraphs[0]._p.xml


def test_docx_chinese(tmp_path):
    p = make(CHINESE)
    doc = Document(export(p, tmp_path / "cn.docx"))
    body = [q.text for q in doc.paragraphs][6:-1]
    assert body == expected_body(p)
    rfonts = doc.styles["Normal"].element.rPr.rFonts
    assert rfonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia")


# ---------------------------------------------------------------------------------------
# PDF

def _pdf_pages(path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def _text_runs(page):
    """(x, y, text, font) of every text-showing operation on a page."""
    runs = []

    def visit(text, cm, tm, font_dict, font_size):
        if text.strip():
            x = tm[4] * cm[0] + cm[4]
            y = tm[5] * cm[3] + cm[5]
            runs.append((x, y, text, (font_dict or {}).get("/BaseFont", "")))

    page.extract_text(visitor_text=visit)
    return runs


def test_pdf_manuscript_reads_back(tmp_path):
    p = make(ENGLISH)
    path = export(p, tmp_path / "book.pdf")
    reader = PdfReader(path)
    assert reader.metadata.title == "The Keeper's Letter" and reader.metadata.author == "Ada King Lovelace"
    pages = _pdf_pages(path)
    assert len(pages) >= 4
    first = pages[0]
    assert "Ada King Lovelace" in first and f"about {round_to(p.words, 100):,} words" in first
    assert "ada@example.org" in first and "The Keeper's Letter" in first and "by Ada King Lovelace" in first
    assert "Lovelace /" not in first                          # no header on page 1
    body = []
    for n, text in enumerate(pages[1:], 2):
        lines = text.splitlines()
        assert lines[0].strip() == f"Lovelace / Keeper's Letter / {n}"
        body += lines[1:]
    assert squash("\n".join(body)) == squash("\n".join(expected_body(p) + ["END"]))
    for page in reader.pages:
        assert page.mediabox.width == 612 and page.mediabox.height == 792
        assert not page.images, "text, not pictures of text"


def test_pdf_margins_and_fonts(tmp_path):
    p = make(ENGLISH)
    reader = PdfReader(export(p, tmp_path / "book.pdf"))
    seen: set[float] = set()
    for n, page in enumerate(reader.pages[1:], 2):
        runs = _text_runs(page)
        header = [r for r in runs if r[2].startswith("Lovelace /")]
        assert len(header) == 1 and header[0][1] > 792 - 72, "the running head sits in the top margin"
        body = [r for r in runs if r not in header]
        assert body
        for x, y, text, font in body:
            assert x >= 72 - 0.01                          # 1-inch left margin
            assert 72 - 0.01 <= y <= 792 - 72              # between the top and bottom margins
            assert x + stringWidth(text.rstrip("\n"), "Times-Roman", 12) <= 612 - 72 + 1
            assert "Times-Roman" in font
        centred = {s.title for s in p.sections} | {"#", "END"}
        starts = {round(x, 1) for x, y, text, font in body if text.strip() not in centred}
        assert starts <= {72.0, 108.0}                  # the margin, or a half-inch first-line indent
        seen |= starts
    assert seen == {72.0, 108.0}
    # double spacing: consecutive lines 24 pt apart
    ys = sorted({round(y, 1) for x, y, *_ in _text_runs(reader.pages[2])}, reverse=True)
    gaps = {round(a - b, 1) for a, b in zip(ys[1:], ys[2:])}
    assert gaps == {24.0}


def test_pdf_chinese_text(tmp_path):
    p = make(CHINESE + ENGLISH[:1])
    path = export(p, tmp_path / "cn.pdf")
    pages = _pdf_pages(path)
    body = [ln for text in pages[1:] for ln in text.splitlines()[1:]]
    assert squash("\n".join(body)) == squash("\n".join(expected_body(p) + ["END"]))
    fonts = {r[3] for page in PdfReader(path).pages for r in _text_runs(page)}
    assert any("STSong-Light" in f for f in fonts) and any("Times-Roman" in f for f in fonts)
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                             text=True, check=True).stdout
        for _title, text in CHINESE:
            for para in paragraphs(text):
                assert squash(para) in squash(out)


def test_pdf_chinese_title_and_mixed_header(tmp_path):
    p = make(CHINESE)
    p.title, p.author = "灯塔的信", "林 小雨"
    pages = _pdf_pages(export(p, tmp_path / "t.pdf", page_size="a4"))
    assert "灯塔的信" in pages[0] and "林 小雨" in pages[0]
    reader = PdfReader(tmp_path / "t.pdf")
    box = reader.pages[0].mediabox
    head = [r for r in _text_runs(reader.pages[1]) if r[1] > float(box.height) - 72]
    assert squash("".join(r[2] for r in sorted(head))) == "小雨/灯塔的信/2"
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_pdf_plain_style(tmp_path):
    p = make(ENGLISH)
    pages = _pdf_pages(export(p, tmp_path / "plain.pdf", style="plain", font="courier"))
    lines = pages[0].splitlines()
    assert "1" in (lines[0].strip(), lines[-1].strip())    # page number in the footer
    assert [ln.strip() for ln in lines if ln.strip() != "1"][0] == "The Keeper's Letter"
    assert "END" not in "".join(pages)
    assert squash("".join(pages)).count(squash(ENGLISH[0][1].splitlines()[0])) == 1


# ---------------------------------------------------------------------------------------
# Markdown, plain text, CLI, errors

def test_markdown_and_text(tmp_path):
    p = make(ENGLISH)
    md = export(p, tmp_path / "b.md").read_text(encoding="utf-8")
    assert md.startswith("# The Keeper's Letter\n\n## The Bottle\n\n")
    assert squash(md) == squash("# The Keeper's Letter" + "".join(f"## {s.title}{s.text}" for s in p.sections))
    txt = export(p, tmp_path / "b.txt").read_text(encoding="utf-8")
    assert txt == p.text() and count_words(txt) == p.words


def test_export_errors(tmp_path):
    p = make(ENGLISH)
    with pytest.raises(ExportError, match="Unsupported output format .odt"):
        export(p, tmp_path / "b.odt")
    with pytest.raises(ExportError, match="does not exist"):
        export(p, tmp_path / "nowhere" / "b.pdf")
    with pytest.raises(ExportError, match="Unknown font"):
        export(p, tmp_path / "b.pdf", font="comic")
    with pytest.raises(ExportError, match="Unknown export option"):
        export(p, tmp_path / "b.docx", colour="red")


def test_cli_export(tmp_path, capsys):
    p = make(ENGLISH)
    p.author = ""
    src = p.save(tmp_path / "book.longhand")
    assert main(["export", str(src), "--out", str(tmp_path / "b.docx"), "--author", "Jo March",
                 "--contact", "1 Orchard St;jo@example.org", "--font", "courier"]) == 0
    doc = Document(tmp_path / "b.docx")
    assert doc.paragraphs[0].text.startswith("Jo March\tabout ")
    assert doc.paragraphs[2].text == "jo@example.org"
    assert doc.sections[0].header.paragraphs[0].text.startswith("March / ")
    assert main(["export", str(src), "--out", str(tmp_path / "b.pdf")]) == 0
    assert "Anonymous" in _pdf_pages(tmp_path / "b.pdf")[0]
    assert main(["export", str(src), "-o", str(tmp_path / "b.txt")]) == 0
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == p.text()
    assert main(["export", str(tmp_path / "missing.longhand"), "--out", str(tmp_path / "x.pdf")]) == 2
    assert "Project file not found" in capsys.readouterr().err
    assert main(["export", str(src), "--out", str(tmp_path / "x.rtf")]) == 2
    assert "Unsupported output format" in capsys.readouterr().err


def test_pdf_other_scripts_use_the_bundled_font(tmp_path):
    """Letters the standard fonts lack (Ł, ế, Greek, Cyrillic) come out as text, not holes."""
    text = "Łódź and Kraków. Ελληνικά. Русский текст. Tiếng Việt. Naïve café."
    p = make([("Różne", text)])
    reader = PdfReader(export(p, tmp_path / "x.pdf"))
    body = reader.pages[1].extract_text()
    assert squash(text) in squash(body) and "Różne" in body
    fonts = {r[3] for r in _text_runs(reader.pages[1])}
    assert any("DejaVuSerif" in f for f in fonts) and any("Times-Roman" in f for f in fonts)


def test_a_title_made_from_the_request_is_its_subject_not_half_a_clause():
    from longhand.core.export.manuscript import title_for
    cases = {
        "Write a 30000-word fantasy novel about a cartographer who discovers that her maps change the land.":
            "Fantasy novel about a cartographer",
        "Write a 1200-word story about a family of clockmakers in a mountain town.":
            "Story about a family of clockmakers",
        "Write a 5000-word essay on why cities flood.": "Essay on why cities flood",
        "写一篇关于灯塔看守人的小说。": "写一篇关于灯塔看守人的小说",
    }
    for request, title in cases.items():
        assert title_for(Project(instruction=request, target_words=1000)) == title, request
    assert title_for(Project(instruction="x", target_words=1000, title="The Moving Map")) == "The Moving Map"


def test_a_running_head_does_not_end_on_a_small_word():
    from longhand.core.export.manuscript import running_head_title
    assert running_head_title("Fantasy novel about a cartographer") == "Fantasy novel"
    assert running_head_title("The Keeper's Letter") == "Keeper's Letter"
    assert running_head_title("The Lighthouse Keeper of Lowmere Bay") == "Lighthouse Keeper of Lowmere"
