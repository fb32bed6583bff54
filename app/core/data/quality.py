"""Core: is a finished answer a long-form writing example a trainer can trust?

LongWriter keeps only answers that meet the length requirement; a refusal, or an answer
wrapped in assistant chatter ("Certainly! Here is…", "I hope this helps"), is no writing
example either. :func:`judge_project` says why a finished job's answer should not become an
SFT record:

* **short**: fewer than ``min_share`` (80 %) of the target's words;
* **needs attention**: a section the engine's health check gave up on (it ended short, the
  model's text kept failing);
* **health**: a section that fails :func:`longhand.core.text.health.check_text` as a whole
  (fragments, loops, another language);
* **chatter / refusal**: :func:`chatter_reasons`.

:func:`judge_text` is the same check for one piece of text (the chosen side of a DPO pair).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..projects.project import Project
from ..text.chatter import LETTER, find_chatter, is_refusal
from ..text.health import check_text
from ..text.language import detect_language
from ..text.wordcount import count_words

MIN_SHARE = 0.8          # the share of the target an answer must reach (the writer's "short")


@dataclass
class Verdict:
    ok: bool = True
    reasons: list[str] = field(default_factory=list)


# -- chatter and refusals ------------------------------------------------------------------

_BARE_OPENER = re.compile(r"^\W{0,4}(?:certainly|sure|of course|absolutely|okay|alright|gladly)\W*$", re.I)

def chatter_reasons(text: str, instruction: str = "") -> list[str]:
    """Why ``text`` reads as an assistant talking instead of the text asked for (empty: it
    does not): a refusal in its first lines, or any line of assistant chatter
    (:mod:`longhand.core.text.chatter`; a letter's closing lines to its reader are manuscript)."""
    out = []
    if is_refusal(text):
        first = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
        out.append(f"refusal: {first[:60]!r}")
    talk = find_chatter(text, letter=bool(LETTER.search(instruction)))
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if not talk and _BARE_OPENER.match(first):
        # an opener left on a line of its own ("Certainly!") when the engine cut the rest of it
        out.append(f"chatter: preamble: {first.strip()[:60]!r}")
    if talk:
        more = f" (and {len(talk) - 1} more lines)" if len(talk) > 1 else ""
        out.append(f"chatter: {talk[0].why}: {talk[0].snippet[:60]!r}{more}")
    return out


# -- the verdicts --------------------------------------------------------------------------

def judge_text(text: str, lang: str | None = None, instruction: str = "") -> Verdict:
    """The health check and the chatter check on one text (written for ``instruction``)."""
    lang = lang or detect_language(instruction or text)
    reasons = [f"health: {r}" for r in check_text(text, lang).reasons]
    reasons += chatter_reasons(text, instruction)
    return Verdict(not reasons, reasons)


def judge_project(project: Project, *, min_share: float = MIN_SHARE) -> Verdict:
    """Should this finished job's answer be an SFT record? (see the module's docstring)"""
    reasons: list[str] = []
    words, target = project.words, project.target_words
    if target and words < min_share * target:
        reasons.append(f"short: {words} of {target} words (under {min_share:.0%})")
    lang = detect_language(project.instruction)
    for i, sec in enumerate(project.sections, 1):
        if sec.needs_attention:
            reasons.append(f"needs attention: section {i} ended short, its text kept failing the health check")
        if sec.text.strip():
            for r in check_text(sec.text, lang).reasons:
                reasons.append(f"health: section {i}: {r}")
    text = project.text()
    if not count_words(text):
        reasons.append("empty: no text")
    reasons += chatter_reasons(text, project.instruction)
    return Verdict(not reasons, reasons)
