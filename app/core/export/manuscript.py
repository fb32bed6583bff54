"""Core: exporting a project as a manuscript (Markdown, plain text; DOCX and PDF in
``export_docx`` / ``export_pdf``). ``export`` picks the format from the file suffix.

DOCX and PDF follow standard manuscript format (William Shunn's): 12 pt Times New Roman or
Courier, double-spaced, 1-inch margins, half-inch first-line indents, no blank lines between
paragraphs; a title block (name and contact top left, word count rounded to the nearest
hundred top right, title and byline centred halfway down the page); a running header
"Surname / Title / page" from page 2; chapters on a new page with a centred heading; scene
breaks as a centred "#"; "END" at the end. ``style="plain"`` gives a simple readable
document instead. Both exporters read the manuscript through :func:`manuscript`, so they lay
out exactly the same blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import LonghandError
from ..projects.project import Project
from ..text.wordcount import has_cjk, round_to

TEXT_FORMATS = (".md", ".txt")
STYLES = ("manuscript", "plain")
FONTS = ("times", "courier")
SECTION_MODES = ("chapters", "scenes", "continuous")
PAGE_SIZES = ("letter", "a4")


class ExportError(LonghandError):
    """An export could not be produced."""


@dataclass
class ManuscriptOptions:
    """How a DOCX/PDF manuscript looks. Empty title/author/contact come from the project."""

    style: str = "manuscript"           # "manuscript" (Shunn) or "plain"
    font: str = "times"                 # "times" or "courier"
    sections: str = "chapters"          # each section a chapter | scene breaks between | one run
    page_size: str = "letter"           # "letter" or "a4"
    title: str = ""
    author: str = ""
    contact: str = ""                   # address, e-mail, phone: one item per line

    def check(self) -> "ManuscriptOptions":
        for name, allowed in (("style", STYLES), ("font", FONTS), ("sections", SECTION_MODES),
                              ("page_size", PAGE_SIZES)):
            if getattr(self, name) not in allowed:
                raise ExportError(f"Unknown {name.replace('_', ' ')} {getattr(self, name)!r}; use one "
                                  f"of {', '.join(allowed)}.")
        return self


# ---------------------------------------------------------------------------------------
# The manuscript as blocks, shared by the DOCX and PDF writers

@dataclass
class Block:
    kind: str            # "heading" (new chapter), "para", "break" (scene break), "end"
    text: str = ""
    first: bool = False  # first paragraph after a heading or break
    title: str = ""      # a book's chapter title, under its "Chapter N" heading


@dataclass
class Manuscript:
    title: str
    author: str
    surname: str
    contact: list[str]
    words: int
    blocks: list[Block] = field(default_factory=list)
    options: ManuscriptOptions = field(default_factory=ManuscriptOptions)

    @property
    def word_count_label(self) -> str:
        """'about 2,000 words': the count rounded to the nearest hundred, as editors expect."""
        return f"about {max(100, round_to(self.words, 100)):,} words"

    @property
    def running_head(self) -> str:
        """'Surname / Title / ' (the page number follows)."""
        return f"{self.surname} / {running_head_title(self.title)} / "

    def body_text(self) -> str:
        """The manuscript's words in order, as an export of it should read back."""
        return "\n".join(t for b in self.blocks if b.kind in ("heading", "para")
                         for t in ([b.text, b.title] if b.title else [b.text]))


_SCENE_BREAK = re.compile(r"^\s*(?:#|(?:\*\s*){3,}|(?:-\s*){3,}|(?:~\s*){3,}|(?:#\s*){3}|§)\s*$")
_INSTRUCTION_LEAD = re.compile(
    r"^\s*(?:please\s+)?(?:write|compose|create|draft|give\s+me|tell)\s+(?:me\s+)?(?:an?\s+|the\s+)?"
    r"(?:(?:about\s+|approximately\s+|roughly\s+)?[\d,.]+\s*[kK]?[- ]words?[- ]?(?:long\s+)?)?",
    re.IGNORECASE)


_SMALL_WORDS = {"a", "an", "the", "of", "in", "on", "at", "to", "for", "with", "and", "or", "but",
                "who", "which", "that", "about", "from", "by", "as", "into", "his", "her", "their"}


_CLAUSE_WORDS = {"who", "that", "which", "whose", "whom", "where", "when", "while", "because"}


def title_for(project: Project) -> str:
    """The project's title, or one made from the instruction ("Story about a lighthouse…")."""
    if project.title.strip():
        return project.title.strip()
    first = project.instruction.strip().splitlines()[0] if project.instruction.strip() else ""
    first = re.split(r"(?<=[.!?。！？])\s", first, maxsplit=1)[0].rstrip(" .。")
    t = _INSTRUCTION_LEAD.sub("", first).strip()
    if not t:
        return "Untitled"
    if has_cjk(t):
        return t[:24]
    words = t.split()[:8]
    # a relative clause is not part of a title ("… a cartographer who discovers that her maps…")
    cut = next((k for k, w in enumerate(words) if k >= 2 and w.lower() in _CLAUSE_WORDS), len(words))
    words = words[:cut]
    while len(words) > 2 and words[-1].lower().strip(",;:") in _SMALL_WORDS:
        words.pop()      # a title cut short should not end on "a", "of", "who"...
    t = " ".join(words).rstrip(",;:")
    return t[0].upper() + t[1:]


def running_head_title(title: str, max_words: int = 4) -> str:
    """A title's key words for the running header ("Surname / Key Words / page")."""
    if has_cjk(title):
        return title[:12]
    words = title.rstrip("…").split()
    if words and words[0].lower() in ("the", "a", "an") and len(words) > 2:
        words = words[1:]
    words = words[:max_words]
    while len(words) > 1 and words[-1].lower().strip(",;:") in _SMALL_WORDS:
        words.pop()       # "Fantasy novel about a" -> "Fantasy novel"
    return " ".join(words).rstrip(",;:")


def paragraphs(text: str) -> list[str]:
    """A section's paragraphs: every non-empty line is one (models use single newlines too)."""
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def manuscript(project: Project, options: ManuscriptOptions | None = None) -> Manuscript:
    """The manuscript's title block and body as blocks, ready for a layout engine."""
    opt = (options or ManuscriptOptions()).check()
    author = (opt.author or project.author).strip() or "Anonymous"
    contact = (opt.contact or project.contact).strip()
    m = Manuscript(title=(opt.title.strip() or title_for(project)), author=author,
                   surname=author.split()[-1] if author.split() else author,
                   contact=[ln.strip() for ln in contact.splitlines() if ln.strip()],
                   words=project.words, options=opt)
    if getattr(project, "chapters", None) and opt.sections != "continuous":
        _book_blocks(m, project)
        if opt.style == "manuscript":
            m.blocks.append(Block("end", "END"))
        return m
    written = [s for s in project.sections if s.text.strip()]
    for n, sec in enumerate(written, 1):
        if opt.sections == "chapters":
            m.blocks.append(Block("heading", sec.title.strip() or sec.heading or f"Chapter {n}"))
        elif opt.sections == "scenes" and n > 1:
            m.blocks.append(Block("break", "#"))
        first = True
        for para in paragraphs(sec.text):
            if _SCENE_BREAK.match(para):
                if m.blocks and m.blocks[-1].kind == "para":
                    m.blocks.append(Block("break", "#"))
                first = True
                continue
            m.blocks.append(Block("para", para, first=first))
            first = False
    if opt.style == "manuscript":
        m.blocks.append(Block("end", "END"))
    return m


def _book_blocks(m: Manuscript, project: Project) -> None:
    """A two-level book: each chapter with text on a new page under "Chapter N" and its
    title; its scenes separated by a centred "#" (scene breaks inside a scene too)."""
    for c, ch in enumerate(project.chapters):
        scenes = [s for s in project.sections if s.chapter == c and s.text.strip()]
        if not scenes:
            continue
        m.blocks.append(Block("heading", f"Chapter {c + 1}", title=ch.title.strip()))
        for k, sec in enumerate(scenes):
            if k:
                m.blocks.append(Block("break", "#"))
            first = True
            for para in paragraphs(sec.text):
                if _SCENE_BREAK.match(para):
                    if m.blocks[-1].kind == "para":
                        m.blocks.append(Block("break", "#"))
                    first = True
                    continue
                m.blocks.append(Block("para", para, first=first))
                first = False
