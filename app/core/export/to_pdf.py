"""Core: PDF export (reportlab), in standard manuscript format or a plain style.

Real text, not images: every word is selectable and searchable. Each piece of text is set
in the font that covers it (see :func:`runs`):

* Western European text in the PDF standard fonts (Times-Roman or Courier): nothing embedded;
* Chinese (and other CJK) in Adobe's CID font STSong-Light, which PDF viewers provide;
* other Latin, Greek and Cyrillic letters (Ł, ế, Ж, λ…) in the bundled DejaVu Serif
  (``resources/fonts``), embedded as a subset.

No font has to be installed on the machine, and no LaTeX, pandoc or office suite runs.

The layout comes from :func:`export.manuscript`, the same blocks the DOCX writer lays out.
"""

from __future__ import annotations

import io
import os
import re
from importlib.resources import as_file, files
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import BaseDocTemplate, Frame, PageBreak, PageTemplate, Paragraph, Spacer, Table, TableStyle

from ..fileio import atomic_write_bytes
from ..projects.project import Project
from .manuscript import ExportError, Manuscript, ManuscriptOptions, manuscript

FONTS = {"times": "Times-Roman", "courier": "Courier"}
CJK_FONT = "STSong-Light"
EXTRA_FONT = "DejaVuSerif"
PAGES = {"letter": letter, "a4": A4}
MARGIN = inch
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")

_extra_chars: frozenset[int] | None = None


def _register() -> None:
    global _extra_chars
    if _extra_chars is not None:
        return
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    try:
        with as_file(files("longhand.resources") / "fonts" / "DejaVuSerif.ttf") as ttf:
            pdfmetrics.registerFont(TTFont(EXTRA_FONT, str(ttf)))
        _extra_chars = frozenset(pdfmetrics.getFont(EXTRA_FONT).face.charToGlyph)
    except (OSError, ModuleNotFoundError, TTFError):   # not bundled: the CJK font does its best
        _extra_chars = frozenset()


def _standard(ch: str) -> bool:
    """Can the standard (WinAnsi-encoded) fonts show this character?"""
    try:
        ch.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


def font_for(ch: str, base: str) -> str:
    if ch.isspace() or _standard(ch):
        return base
    if not _CJK.match(ch) and ord(ch) in (_extra_chars or ()):
        return EXTRA_FONT
    return CJK_FONT


def runs(text: str, base: str = "Times-Roman") -> list[tuple[str, str]]:
    """Split text into (font, piece) runs, each piece in a font that has its characters."""
    _register()
    out: list[tuple[str, str]] = []
    for ch in text:
        f = font_for(ch, base)
        if out and out[-1][0] == f:
            out[-1] = (f, out[-1][1] + ch)
        else:
            out.append((f, ch))
    return out


def markup(text: str, base: str = "Times-Roman") -> str:
    """Paragraph markup with the runs the base font cannot show switched to one that can."""
    return "".join(escape(piece) if f == base else f'<font name="{f}">{escape(piece)}</font>'
                   for f, piece in runs(text, base))


def _draw_mixed(canvas, x: float, y: float, text: str, font: str, size: float, align: str) -> None:
    pieces = runs(text, font)
    width = sum(pdfmetrics.stringWidth(p, f, size) for f, p in pieces)
    if align == "right":
        x -= width
    elif align == "center":
        x -= width / 2
    for f, p in pieces:
        canvas.setFont(f, size)
        canvas.drawString(x, y, p)
        x += pdfmetrics.stringWidth(p, f, size)


class _Styles:
    def __init__(self, font: str, manuscript_style: bool) -> None:
        size = 12
        lead = 24 if manuscript_style else 15
        self.body = ParagraphStyle("Body", fontName=font, fontSize=size, leading=lead,
                                   firstLineIndent=0.5 * inch if manuscript_style else 0.3 * inch,
                                   spaceAfter=0 if manuscript_style else 6, alignment=TA_LEFT,
                                   allowWidows=0, allowOrphans=0)
        self.body_cjk = ParagraphStyle("BodyCJK", parent=self.body, wordWrap="CJK")
        self.first = ParagraphStyle("First", parent=self.body, firstLineIndent=0)
        self.center = ParagraphStyle("Center", parent=self.body, firstLineIndent=0, alignment=TA_CENTER)
        self.single = ParagraphStyle("Single", parent=self.body, firstLineIndent=0, leading=14)
        self.single_right = ParagraphStyle("SingleRight", parent=self.single, alignment=TA_RIGHT)
        if manuscript_style:
            self.title = self.center
            self.heading = ParagraphStyle("Heading", parent=self.center, keepWithNext=1)
        else:
            self.title = ParagraphStyle("Title", parent=self.center, fontSize=20, leading=26, spaceAfter=6)
            self.heading = ParagraphStyle("Heading", parent=self.center, fontSize=15, leading=20,
                                          spaceBefore=18, spaceAfter=10, keepWithNext=1)


def _para(text: str, style: ParagraphStyle, cjk_style: ParagraphStyle | None = None) -> Paragraph:
    if cjk_style is not None and _CJK.search(text):
        style = cjk_style
    return Paragraph(markup(text, style.fontName), style)


def build_pdf(project: Project, options: ManuscriptOptions | None = None) -> bytes:
    """The manuscript as PDF bytes."""
    _register()
    m: Manuscript = manuscript(project, options)
    opt = m.options
    font = FONTS[opt.font]
    page_w, page_h = PAGES[opt.page_size]
    is_ms = opt.style == "manuscript"
    st = _Styles(font, is_ms)
    buf = io.BytesIO()
    doc = BaseDocTemplate(buf, pagesize=(page_w, page_h), leftMargin=MARGIN, rightMargin=MARGIN,
                          topMargin=MARGIN, bottomMargin=MARGIN, title=m.title, author=m.author,
                          subject=f"{m.words} words", creator="Longhand")
    frame = Frame(MARGIN, MARGIN, page_w - 2 * MARGIN, page_h - 2 * MARGIN, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)

    def first_page(canvas, _doc):
        if not is_ms:
            _page_number(canvas, _doc)

    def later_pages(canvas, _doc):
        if is_ms:   # "Surname / Title / N", top right, half an inch from the top
            _draw_mixed(canvas, page_w - MARGIN, page_h - MARGIN / 2 - 4, m.running_head + str(_doc.page),
                        font, 12, "right")
        else:
            _page_number(canvas, _doc)

    def _page_number(canvas, _doc):
        _draw_mixed(canvas, page_w / 2, MARGIN / 2, str(_doc.page), font, 11, "center")

    def on_page(canvas, _doc):
        (first_page if _doc.page == 1 else later_pages)(canvas, _doc)

    doc.addPageTemplates([PageTemplate(id="pages", frames=[frame], onPage=on_page)])

    story = _title_page(m, st, page_w - 2 * MARGIN, page_h) + _body(m, st)
    doc.build(story)
    return buf.getvalue()


def _title_page(m: Manuscript, st: "_Styles", width: float, page_h: float) -> list:
    """The title (a manuscript's: the author's contact and word count, the title halfway down)."""
    story: list = []
    if m.options.style == "manuscript":
        left = [_para(m.author, st.single)] + [_para(line, st.single) for line in m.contact]
        table = Table([[left, _para(m.word_count_label, st.single_right)]],
                      colWidths=[width * 0.62, width * 0.38])
        table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                                   ("TOPPADDING", (0, 0), (-1, -1), 0),
                                   ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
        story.append(table)
        used = 14 * (1 + len(m.contact))
        story.append(Spacer(1, max(36, page_h / 2 - MARGIN - used - 24)))
        story.append(_para(m.title, st.title))
        story.append(_para(f"by {m.author}", st.center))
        if m.options.sections != "chapters":
            story.append(Spacer(1, 24))
    else:
        story.append(_para(m.title, st.title))
        story.append(_para(f"by {m.author}", st.center))
        story.append(Spacer(1, 12))
    return story


def _body(m: Manuscript, st: "_Styles") -> list:
    """The manuscript's blocks: headings (a manuscript's on a new page), paragraphs, breaks, END."""
    is_ms = m.options.style == "manuscript"
    story: list = []
    for b in m.blocks:
        if b.kind == "heading":
            if is_ms:
                story += [PageBreak(), Spacer(1, 2 * inch)]
            story.append(_para(b.text, st.heading))
            if b.title:     # a book's chapter: "Chapter N", then its title
                story.append(_para(b.title, st.heading))
        elif b.kind == "para":
            story.append(_para(b.text, st.first if (b.first and not is_ms) else st.body, st.body_cjk))
        elif b.kind == "break":
            story.append(Paragraph("#", st.center))
        elif b.kind == "end":
            story += [Spacer(1, 24), Paragraph("END", st.center)]
    return story


def export_pdf(project: Project, path: str | os.PathLike, **options) -> Path:
    try:
        opt = ManuscriptOptions(**options)
    except TypeError as e:
        raise ExportError(f"Unknown export option: {e}") from None
    atomic_write_bytes(path, build_pdf(project, opt))
    return Path(path)
