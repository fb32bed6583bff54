"""Core: DOCX export (python-docx), in standard manuscript format or a plain style.

The layout comes from :func:`export.manuscript`; this module only maps its blocks to Word
paragraphs. Manuscript style: the Normal style carries the body format (12 pt, double
spacing, half-inch first-line indent, no space between paragraphs), the page has 1-inch
margins, page 1 has no header ("different first page") and later pages carry
"Surname / Title / <PAGE field>" at the top right.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches, Mm, Pt, RGBColor

from ..fileio import atomic_write_bytes
from ..projects.project import Project
from .manuscript import ExportError, ManuscriptOptions, manuscript

FONT_NAMES = {"times": "Times New Roman", "courier": "Courier New"}
EAST_ASIAN_FONT = "SimSun"     # Word's usual Chinese serif; viewers substitute their own
PAGE = {"letter": (Inches(8.5), Inches(11)), "a4": (Mm(210), Mm(297))}


def _set_font(style_or_run, name: str, size: Pt | None = None) -> None:
    font = style_or_run.font
    font.name = name
    if size is not None:
        font.size = size
    rpr = style_or_run.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        rfonts.set(qn(attr), name)
    rfonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)


def _add_page_field(paragraph) -> None:
    """A PAGE field (Word and LibreOffice fill in the page number)."""
    run = paragraph.add_run()
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = " PAGE "
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run._r.append(begin)
    run._r.append(instr)
    run._r.append(sep)
    shown = paragraph.add_run("2")
    end_run = paragraph.add_run()
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    end_run._r.append(end)
    del shown


def _plain_para(doc, text: str = "", *, align=None, indent: bool = False, spacing=None,
                before=None, page_break: bool = False, style: str | None = None):
    p = doc.add_paragraph(text, style=style)
    pf = p.paragraph_format
    if align is not None:
        pf.alignment = align
    if not indent:
        pf.first_line_indent = Inches(0)
    if spacing is not None:
        pf.line_spacing_rule = spacing
    if before is not None:
        pf.space_before = before
    if page_break:
        pf.page_break_before = True
    pf.keep_with_next = style is not None and style.startswith("Heading")
    return p


def build_docx(project: Project, options: ManuscriptOptions | None = None):
    """The manuscript as a python-docx Document (not saved)."""
    m = manuscript(project, options)
    opt = m.options
    doc = Document()
    font = FONT_NAMES[opt.font]
    sec = doc.sections[0]
    sec.page_width, sec.page_height = PAGE[opt.page_size]
    sec.left_margin = sec.right_margin = sec.top_margin = sec.bottom_margin = Inches(1)
    sec.header_distance = sec.footer_distance = Inches(0.5)
    doc.core_properties.title = m.title
    doc.core_properties.author = m.author
    doc.core_properties.comments = f"{m.words} words"

    normal = doc.styles["Normal"]
    _set_font(normal, font, Pt(12))
    pf = normal.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    pf.widow_control = True
    heading_style = doc.styles["Heading 1"]
    _set_font(heading_style, font, Pt(12) if opt.style == "manuscript" else Pt(16))
    heading_style.font.color.rgb = RGBColor(0, 0, 0)
    heading_style.font.bold = opt.style != "manuscript"
    heading_style.font.italic = False
    hpf = heading_style.paragraph_format
    hpf.alignment = WD_ALIGN_PARAGRAPH.CENTER
    hpf.first_line_indent = Inches(0)
    hpf.space_after = Pt(0) if opt.style == "manuscript" else Pt(12)

    if opt.style == "manuscript":
        pf.line_spacing_rule = WD_LINE_SPACING.DOUBLE
        pf.first_line_indent = Inches(0.5)
        hpf.line_spacing_rule = WD_LINE_SPACING.DOUBLE
        hpf.space_before = Inches(2)     # chapter titles sit about a third of the way down
        _manuscript_body(doc, m, sec)
    else:
        pf.line_spacing = 1.15
        pf.space_after = Pt(6)
        pf.first_line_indent = Inches(0.3)
        hpf.space_before = Pt(18)
        _plain_body(doc, m, sec)
    return doc


def _manuscript_body(doc, m, sec) -> None:
    single = WD_LINE_SPACING.SINGLE
    # Page 1: name and word count on one line (word count flush right), contact below.
    top = _plain_para(doc, spacing=single)
    top.paragraph_format.tab_stops.add_tab_stop(sec.page_width - sec.left_margin - sec.right_margin,
                                                WD_TAB_ALIGNMENT.RIGHT)
    top.add_run(f"{m.author}\t{m.word_count_label}")
    for line in m.contact:
        _plain_para(doc, line, spacing=single)
    # Title and byline centred about halfway down the page.
    used = Pt(14) * (1 + len(m.contact))
    half = (sec.page_height // 2) - sec.top_margin - used - Pt(24)
    _plain_para(doc, m.title, align=WD_ALIGN_PARAGRAPH.CENTER, before=max(Inches(0.5), half))
    _plain_para(doc, f"by {m.author}", align=WD_ALIGN_PARAGRAPH.CENTER)
    chapters = m.options.sections == "chapters"
    # a short story starts on page 1, a blank line below; a book's chapters on new pages
    pending_gap = not chapters and not (m.blocks and m.blocks[0].kind == "heading")
    for b in m.blocks:
        if b.kind == "heading":
            _plain_para(doc, b.text, style="Heading 1", page_break=True)
            if b.title:     # a book's chapter: "Chapter N", then its title
                _plain_para(doc, b.title, align=WD_ALIGN_PARAGRAPH.CENTER).paragraph_format.keep_with_next = True
        elif b.kind == "para":
            p = doc.add_paragraph(b.text)
            if pending_gap:
                p.paragraph_format.space_before = Pt(24)
                pending_gap = False
        elif b.kind == "break":
            _plain_para(doc, "#", align=WD_ALIGN_PARAGRAPH.CENTER)
        elif b.kind == "end":
            _plain_para(doc, "END", align=WD_ALIGN_PARAGRAPH.CENTER, before=Pt(24))
    # Running header from page 2: "Surname / Title / N", top right.
    sec.different_first_page_header_footer = True
    head = sec.header.paragraphs[0]
    head.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    head.paragraph_format.first_line_indent = Inches(0)
    head.paragraph_format.line_spacing_rule = single
    head.add_run(m.running_head)
    _add_page_field(head)
    sec.first_page_header.is_linked_to_previous = False
    first = sec.first_page_header.paragraphs[0]
    first.paragraph_format.first_line_indent = Inches(0)


def _plain_body(doc, m, sec) -> None:
    _plain_para(doc, m.title, style="Title", align=WD_ALIGN_PARAGRAPH.CENTER)
    _plain_para(doc, f"by {m.author}", align=WD_ALIGN_PARAGRAPH.CENTER)
    for b in m.blocks:
        if b.kind == "heading":
            _plain_para(doc, b.text, style="Heading 1")
            if b.title:
                _plain_para(doc, b.title, style="Heading 2", align=WD_ALIGN_PARAGRAPH.CENTER)
        elif b.kind == "para":
            p = doc.add_paragraph(b.text)
            if b.first:
                p.paragraph_format.first_line_indent = Inches(0)
        elif b.kind == "break":
            _plain_para(doc, "#", align=WD_ALIGN_PARAGRAPH.CENTER)
    foot = sec.footer.paragraphs[0]
    foot.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    foot.paragraph_format.first_line_indent = Inches(0)
    _add_page_field(foot)


def export_docx(project: Project, path: str | os.PathLike, **options) -> Path:
    try:
        opt = ManuscriptOptions(**options)
    except TypeError as e:
        raise ExportError(f"Unknown export option: {e}") from None
    doc = build_docx(project, opt)
    buf = io.BytesIO()
    doc.save(buf)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)
