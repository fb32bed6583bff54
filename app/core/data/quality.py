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
from ..text.health import check_text
from ..text.language import detect_language
from ..text.wordcount import count_words

MIN_SHARE = 0.8          # the share of the target an answer must reach (the writer's "short")


@dataclass
class Verdict:
    ok: bool = True
    reasons: list[str] = field(default_factory=list)


# -- chatter and refusals ------------------------------------------------------------------
# Placeholder until the shared chatter check lands in core/text: refusals and the commonest
# assistant chatter, anywhere in the answer. ``chatter_reasons`` is the one entry point.

_REFUSAL = re.compile(
    r"\b(?:I['’]m sorry,? but|I am sorry,? but|I apologi[sz]e,? but|Sorry,? but)\b[^.!?\n]{0,80}?"
    r"\b(?:can(?:no|['’])t|can not|am unable|unable|won['’]t|not able)\b"
    r"|\bI (?:can(?:no|['’])t|can not|am unable to|won['’]t) (?:assist|help|comply|fulfil|provide|write|create)"
    r"|\bAs an AI(?: language model)?\b", re.I)
_CHATTER = re.compile(
    r"^\s*(?:Certainly|Sure|Of course|Absolutely)[!,.]"
    r"|^\s*Here(?:['’]s| is) (?:a|an|the|your)\b[^.\n]{0,80}?(?:story|essay|article|text|report|guide|draft|version)"
    r"|\bI hope (?:this|that|you) (?:helps|help|enjoy|find)"
    r"|\b(?:Let me know|Feel free to (?:ask|let me know))\b"
    r"|\b(?:word count|this (?:story|essay|text|article) (?:is|has) (?:about |approximately )?\d+ words)\b",
    re.I | re.M)


def chatter_reasons(text: str) -> list[str]:
    """Why ``text`` reads as an assistant talking instead of the text asked for (empty: it
    does not)."""
    out = []
    m = _REFUSAL.search(text)
    if m:
        out.append(f"refusal: {m.group(0)[:60]!r}")
    m = _CHATTER.search(text)
    if m:
        out.append(f"chatter: {m.group(0).strip()[:60]!r}")
    return out


# -- the verdicts --------------------------------------------------------------------------

def judge_text(text: str, lang: str | None = None) -> Verdict:
    """The health check and the chatter check on one text."""
    lang = lang or detect_language(text)
    reasons = [f"health: {r}" for r in check_text(text, lang).reasons]
    reasons += chatter_reasons(text)
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
    reasons += chatter_reasons(text)
    return Verdict(not reasons, reasons)
