"""Core: grammars (GBNF) that make plan answers parse, for chat and completion models.

Small models drift from the plan format (other numbering, no word count, chatter, a story
instead of a plan). On llama.cpp the answer can be *constrained*: the grammar sampler
(``llama_sampler_init_grammar``) masks every token that would leave the format, so each line
is a plan line. llama.cpp's server takes the same GBNF as a ``grammar`` request field. The
tolerant parser (:func:`plan.parse_plan`) stays as the fallback for backends that cannot
constrain (other servers) and for what a grammar cannot express (sensible targets, distinct
points).

Three line shapes, one per plan level:

* ``Paragraph N - Main Point: … - Word Count: N words`` (one-level plans, AgentWrite's own);
* ``Chapter N - Title: … - Synopsis: … - Word Count: N words`` (the book plan);
* ``Scene N - Main Point: … - Word Count: N words`` (a chapter's scenes);

and ``Part N - Title: … - Synopsis: …``, the parts of a long book's story (chat models plan
them before its chapters).

A completion-style prompt already ends with the first line's label (``Paragraph 1 - Main
Point:``), so its grammar starts inside that line (``start="point"``); a chat answer starts
with a whole line (``start="line"``). The line count is bounded so that a model cannot loop,
and the text of a point is bounded in length so a line always ends.
"""

from __future__ import annotations

# Text of a main point / synopsis: no newline, not empty, bounded (a line always ends).
# Words separated by single spaces; a word may hold any character but space and newline, and
# does not open with "[": asked for chapters 5 to 8 of a 40-chapter book, the instruct model
# filled every line with the format's own placeholders ("Chapter 5 - Title: [title] -
# Synopsis: [what happens] - Word Count: 600 words"), answer after answer.
_TEXT = """
text ::= word (" " word){{{min_words},{max_words}}}
word ::= [^ \\n\\[-] [^ \\n]{{0,24}}
num ::= [1-9] [0-9]{{0,4}}
"""

LABELS = {
    "paragraph": ("Paragraph", " - Main Point: "),
    "scene": ("Scene", " - Main Point: "),
    # the chat plan: a short title per part, then its main point
    "titled": ("Paragraph", " - Title: \" title \" - Main Point: "),
    "scene-titled": ("Scene", " - Title: \" title \" - Main Point: "),
}


def plan_grammar(level: str = "paragraph", *, max_lines: int = 50, start: str = "line",
                 max_words: int = 60, min_lines: int = 1) -> str:
    """GBNF for a plan of ``level`` ("paragraph", "scene", "chapter", or "titled" and
    "scene-titled": a short title before each main point) lines.

    ``start="line"``: the answer starts with a whole line (chat models). ``start="point"``:
    the prompt already ends with the first line's label (``… - Main Point:`` or ``… -
    Title:``), the answer starts with a space and the text. The plan ends with a blank line,
    after ``min_lines`` to ``max_lines`` lines (a small model otherwise likes to stop after one).
    """
    if level not in ("chapter", "part", *LABELS):
        raise ValueError(f"unknown plan level {level!r}")
    if start not in ("line", "point"):
        raise ValueError(f"unknown start {start!r}")
    n_more = max(0, max_lines - 1)
    n_least = max(0, min(min_lines, max_lines) - 1)
    if level == "chapter":
        line = ('line ::= "Chapter " num " - Title: " title " - Synopsis: " text '
                '" - Word Count: " num " words"')
        first_rest = 'first ::= " " title " - Synopsis: " text " - Word Count: " num " words"'
        extra = 'title ::= word (" " word){0,9}'
    elif level == "part":
        line = 'line ::= "Part " num " - Title: " title " - Synopsis: " text'
        first_rest = 'first ::= " " title " - Synopsis: " text'
        extra = 'title ::= word (" " word){0,9}'
    else:
        word, label = LABELS[level]
        line = f'line ::= "{word} " num "{label}" text " - Word Count: " num " words"'
        first_rest = 'first ::= " " text " - Word Count: " num " words"'
        extra = 'title ::= word (" " word){0,7}' if level.endswith("titled") else ""
    head = "first" if start == "point" else "line"
    root = f'root ::= {head} ("\\n" line){{{n_least},{n_more}}} "\\n\\n"'
    parts = [root, line, first_rest, extra, _TEXT.format(min_words=2, max_words=max_words)]
    return "\n".join(p.strip() for p in parts if p.strip()) + "\n"


def chapter_line(n: int, title: str, synopsis: str, words: int) -> str:
    """One book-plan line in the format the chapter grammar and parser read."""
    return f"Chapter {n} - Title: {title} - Synopsis: {synopsis} - Word Count: {words} words"
