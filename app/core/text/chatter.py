"""Core: assistant chatter in a manuscript: text that talks *about* the text.

Instruction-tuned models answer like assistants: they open with "Certainly! Here is part 2:",
close with "I hope you enjoyed the story! Feel free to ask…", report "The word count of this
section is about 350 words", describe what they just wrote ("This paragraph continues the
narrative…"), echo the request they were given ("(End of the text so far.) Now write only the
next part…") and sometimes refuse ("I'm sorry, but I can't assist with that."). None of it is
manuscript, and every word of it counts toward the length target unless it is found.

:func:`find_chatter` finds such lines. It looks at whole lines (paragraphs), at the first
and last sentences of a line, and at a few phrases that never occur in prose, so that a
character who says "Sure," in dialogue or an email that ends "Feel free to call me" is not
flagged. :func:`strip_preamble` removes an assistant's opening lines from a new section;
the health check (:mod:`.health`) treats chatter anywhere else as a failure and cuts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .wordcount import count_words

# An assistant's opening: "Certainly! Here's the next part:", "Sure, here is the story:".
_OPENERS = (
    r"(?:certainly|sure|of course|absolutely|okay|ok|alright|great|gladly)\b[!,.]?\s*(?:here|i\b|i'll|i will|let)"
    r"|here(?:'s| is| are)\s+(?:the|a|an|your|my)?\s*(?:next|final|first|second|third|continued|continuation|"
    r"rest|remaining|revised|new|following|full|complete)?\s*"
    r"(?:part|paragraph|section|scene|chapter|text|story|article|essay|report|content|draft|email|letter|"
    r"continuation|blog|post|plan|outline|version)"
    r"|(?:below|above) is (?:the|a|an|your)\b"
)
# Sentences that only an assistant writes about its own answer.
_META = (
    # the plan's fields and our own prompt's words
    r"\bword\s*count\b|\bmain\s*point\s*[:：]|\btext written so far\b|\bend of the (?:text|next text|"
    r"previous text|chapter text)\b|\bnow write only\b|\boutput only the\b|\bcontinue naturally\b"
    r"|\bthe (?:text|story|article) (?:written )?so far\b"
    # the chapter request's words: "Continue with the next scene.", "Do not end the story."
    r"|\bcontinue with the (?:next|following|final|first|last) (?:scene|chapter|part|section|paragraph|step)\b"
    r"|\bkeep writing (?:the )?(?:chapters|scenes|parts|story|book)\b"
    r"|\bwrite each (?:chapter|scene|part) in full\b|\bdo not end the (?:story|book)\b"
    r"|\bnever retell\b|\btells only what is new\b|\bheading line\b"
    # the scene request's "(not to be told yet)": "In the next scene (not to be told), Ilse…"
    r"|\(not to be (?:told|said|written)\b|\bnot to be told yet\b"
    # the ask to go on with a scene, echoed: "Her next moments, in detail:", "Its next moments:
    # As I sit here…", "**The scene goes on as follows:**", "The scene ends here, with Ilse…"
    r"|\bnext moments,? in detail\b|(?:^|[.!?]\s+)(?:her|his|its|their|the scene's) next moments\s*[:：]"
    r"|\bthe scene is not over yet\b|\brepeat nothing already written\b|\bwhat the characters do, say and\b"
    r"|\bthe (?:scene|chapter|story) (?:goes on|continues) as follows\b|\b(?:the|this) scene (?:ends|closes) here\b"
    r"|\b(?:the )?(?:actual )?text of the story should\b"
    # a fallback scene plan's words: "Let it turn on Saltmarsh: Harbour town on a grey estuary…",
    # "A complication got in the way. As the Greywater moved…", "It leads towards: …"
    r"|(?:^|[.!?]\s+)let it turn on\b[^.!?:]{0,80}[:：]|\bit leads towards\s*[:：]"
    r"|(?:^|[.!?]\s+)(?:opening|end) of the chapter\s*[:：]"
    r"|\ba complication (?:gets|got) in the way\b|\ba conversation changes the plan\b"
    # the chapter block's and the scene list's quotes of where the text stopped, echoed: "The
    # previous chapter ended: "I feel very happy now…"" (the demo model's last scene of a story)
    r"|(?:^|[.!?]\s+)the (?:previous chapter|last of them) ended\s*[:：]"
    # talk about paragraphs/sections/parts of the answer
    r"|\b(?:this|the (?:above|following|previous|next|last|final))\s+(?:paragraph|section|part|segment|scene|"
    r"chapter|text|passage|continuation|content)\s+(?:continues|describes|explores|covers|introduces|focuses|"
    r"concludes|completes|ends|is written|was written|follows|provides|highlights|sets|delves|"
    r"serves|maintains|adheres|meets|contains|has been|will)\b"
    r"|\bthis (?:completes|concludes) (?:the|this|our|my)\b"
    r"|\b(?:paragraph|part|section|scene|step) \d+ (?:of the (?:plan|outline)|is complete|ends here)\b"
    r"|\bapproximately \d[\d,]* words\b|\b\d[\d,]* words? (?:long|in length|total)\b|\(\d[\d,]* words?\)"
    # a running tally: "1049 words written. 85% completion. Next scene: Chapter 5 - …"
    r"|\b\d[\d,]* words (?:written|so far)\b|\b\d{1,3}% (?:completion|complete|done)\b"
    r"|\bnext (?:scene|chapter)\s*[:：]\s*chapter \d+"
    # a sentence that only names the next scene, ends one or counts words: "The next scene: Ilse
    # embarks…", "938 words. End scene. Next scene: …" ("the next scene of the play" is prose)
    r"|(?:^|[.!?:]\s+)(?:the )?next (?:scene|chapter)\s*[:：]|(?:^|[.!?]\s+)end scene[.!]"
    r"|(?:^|[.!?:]\s+)\d[\d,]* words\.(?:\s|$)"
    r"|\bas (?:per|requested in) (?:the|your) (?:instructions?|request|plan|outline)\b"
    r"|\bthe (?:given|provided) (?:instructions?|plan|outline|step)\b"
    # the assistant persona
    r"|\bas an ai\b|\bi am an ai\b|\blanguage model\b|\bqwen\b"
    r"|\bi hope you enjoy(?:ed)? (?:reading|the|this|my)\b|\bhappy writing\b"
    r"|\bif you(?:'d| would) like me to\b|\bplease provide (?:the|more|me)\b"
    r"|\bi'?m sorry,? but i (?:can(?:not|'t)|am unable)\b|\bi can(?:not|'t) (?:assist|fulfill|comply)\b"
    r"|\bi apologi[sz]e,? but\b|\bi (?:cannot|can't|am unable to) (?:continue|assist|help|complete) with "
    r"(?:that|this|your) request\b|\bmy (?:platform|guidelines|programming)\b"
    r"|\bthe above (?:message|text|response|answer|content)\b"
)
# Closings addressed to the reader of an answer. A letter or an email may say the same to its
# addressee ("Feel free to call me if you have any questions"), so there they are manuscript.
_CLOSING = (
    r"\bi hope (?:you (?:like|liked|found)|this (?:helps|meets|story|article|text|essay|was)|that helps)\b"
    r"|\bfeel free to (?:ask|let me know|reach out)\b|\blet me know if (?:you|there)\b"
    r"|\bif you have any (?:other |more |further )?(?:questions|requests)\b"
    r"|\bif you(?:'d| would) like (?:any|a different|more)\b"
    # a line that opens by thanking the reader (the instruct model closed an article with
    # "Thank you for your interest in urban beekeeping. If you are interested in…")
    r"|^thank you (?:(?:so|very) much )?for (?:reading|your (?:interest|attention|time))\b"
)
_OPEN_RE = re.compile(r"^\W{0,4}(?:" + _OPENERS + r")", re.I)
_META_RE = re.compile(_META, re.I)
_CLOSING_RE = re.compile(_CLOSING, re.I)
# Requests for letters and emails (their closings are manuscript).
LETTER = re.compile(r"\b(?:e-?mails?|letters?|memos?|notes? to)\b|邮件|书信|信件|一封信", re.I)
# A line that is only a label: "**Paragraph 2**", "Part 3 (250 words):", "Scene 5 (Mara…)",
# "Paragraph 4 - Main Point: …", "Note:", "(End of part 2)".
_LABEL_RE = re.compile(
    r"^\W{0,6}(?:(?:paragraph|part|section|scene|step|segment|chapter)\s+\d+\b(?:\s*[(:\-–—]|\W*$)"
    r"|note\s*[:：]|notes\s*[:：]|\((?:end|continued|to be continued)\b[^)]*\)\W*$|end of (?:the )?(?:part|paragraph|"
    r"section|scene|chapter|book|story|novel)\b"
    # a scene sheet instead of a scene: "**Setting:** …", "**Characters:** …", "**Plot Summary:**"
    r"|(?:setting|characters|plot(?: summary)?|scene summary)\s*[:：]"
    # an answer that only says the scene goes on: "**Scene Continues** 620 words:", "Continued:"
    r"|(?:the\s+)?(?:scene|chapter|story|text)\s+continues\b\W*(?:\d[\d,]*\s+words?)?\W*$"
    r"|(?:continued|continuation|continuing)\s*(?:\(?\d[\d,]*\s+words?\)?)?\s*[:：.…]*\W*$)", re.I)

_NUMBERED = re.compile(r"^\W{0,4}(?:paragraph|part|section|scene|step|segment)\s+\d+\b", re.I)

# Chinese: openers, talk about the answer, requests to the user.
_ZH_OPEN = re.compile(r"^\W{0,4}(?:好的|当然|没问题|以下是|下面是|这是(?:第|您|你)|根据(?:您|你)的要求)")
_ZH_META = re.compile(
    r"字数|第\s*\d+\s*段|本段|这一段|这段文字|已写内容|已经写好的内容|上文的最后|请提供|请继续|继续编写|写作计划|"
    r"希望(?:这|你|您)(?:篇|个|能|喜欢)|如果(?:您|你)(?:有|需要|还有)|作为(?:一个)?(?:AI|人工智能)|抱歉，我(?:无法|不能)")

# Reasoning blocks (reasoning models, LongWriter-Zero): never manuscript.
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S | re.I)
_ANSWER_TAGS = re.compile(r"</?answer>", re.I)


@dataclass(frozen=True)
class Chatter:
    """One stretch of chatter: ``text[start:end]`` and why."""

    start: int
    end: int
    why: str
    snippet: str


def _lines(text: str):
    pos = 0
    for line in text.splitlines(keepends=True):
        yield pos, line
        pos += len(line)


def _first_sentence(line: str) -> str:
    m = re.search(r"[.!?:。！？：](?:\s|$)", line)
    return line[: m.end()] if m else line


def _is_quoted(line: str) -> bool:
    return line.lstrip()[:1] in "\"“‘'「『"


@lru_cache(maxsize=8192)   # a streaming section's finished lines are judged again at every look
def line_chatter(line: str, letter: bool = False) -> str:
    """Why ``line`` (one line of text) is chatter, or "" when it is manuscript. ``letter``:
    the text is a letter or an email, whose closing lines speak to the reader."""
    body = line.strip()
    if not body or _is_quoted(body):
        return ""
    head = re.sub(r"[*_#`>]+", "", body).strip()
    if _LABEL_RE.match(head) or (_NUMBERED.match(head) and count_words(head) <= 8):
        return "label"
    if _OPEN_RE.match(head) and (head.rstrip().endswith(":") or count_words(_first_sentence(head)) <= 14):
        return "preamble"
    if _ZH_OPEN.match(head) and len(head) <= 60:
        return "preamble"
    m = _META_RE.search(head) or (None if letter else _CLOSING_RE.search(head))
    if m:
        return "meta: " + m.group(0).lstrip(" .!?:：").rstrip().lower()
    z = _ZH_META.search(head)
    if z:
        return "meta: " + z.group(0)
    return ""


def find_chatter(text: str, letter: bool = False) -> list[Chatter]:
    """Lines of ``text`` that are assistant chatter (see the module's doc)."""
    out: list[Chatter] = []
    for pos, line in _lines(text):
        why = line_chatter(line, letter)
        if why:
            out.append(Chatter(pos, pos + len(line), why, line.strip()[:120]))
    return out


def chatter_words(text: str, letter: bool = False) -> int:
    """Words (Chinese: characters) of ``text`` that stand in chatter lines."""
    return sum(count_words(text[c.start:c.end]) for c in find_chatter(text, letter))


def chatter_share(text: str, letter: bool = False) -> float:
    """The share of ``text``'s words that are chatter (0.0 for clean text)."""
    total = count_words(text)
    return chatter_words(text, letter) / total if total else 0.0


_RULE = re.compile(r"[ \t]*(?:-{3,}|\*{3,}|_{3,}|\*(?:[ \t]*\*){2,})[ \t]*$")
# A label an answer opens with, the text on the same line: "Its next moments: As I sit here…"
_LEAD_LABEL = re.compile(
    r"[*_#\s]{0,4}(?:(?:her|his|its|their|the scene's)\s+next moments(?:,?\s*in detail)?"
    r"|(?:the\s+)?scene\s+(?:goes on|continues)(?:\s+as follows)?|continuing|continued)"
    r"\s*(?:[*_]+\s*[:：.…]*|[:：.…]+[*_]*)[ \t]*(?=[^\s\d(*_])",
    re.I)


def strip_preamble(text: str) -> str:
    """``text`` without the assistant's opening lines ("Certainly! Here is part 2:",
    "**Paragraph 2**", a blank line) and without a reasoning block; the manuscript after them
    is kept as it is."""
    text = strip_reasoning(text)
    lead = len(text) - len(text.lstrip())
    body = text[lead:]
    while body:
        nl = body.find("\n")
        line = body if nl < 0 else body[:nl]
        if nl < 0 and not re.search(r"[:：.!?。！？]\s*$", line):
            break                 # an unfinished first line: not judged yet
        label = _LEAD_LABEL.match(line)
        if label:                       # the label goes, the text after it on its line stays
            body = body[label.end():]
            continue
        rule = _RULE.match(line)        # a horizontal rule the answer opens with ("---")
        if not rule and (not line_chatter(line) or (line_chatter(line).startswith("meta")
                                                    and count_words(line) > 40)):
            break
        body = "" if nl < 0 else body[nl + 1:].lstrip()
    return body if body != text[lead:] else text


def strip_reasoning(text: str) -> str:
    """A reasoning model's answer without its ``<think>…</think>`` block and ``<answer>`` tags
    (LongWriter-Zero answers ``<think>…</think><answer>…</answer>``)."""
    if "<think>" not in text.lower() and "<answer>" not in text.lower() and "</answer>" not in text.lower():
        return text
    return _ANSWER_TAGS.sub("", _THINK.sub("", text)).lstrip()


def is_refusal(text: str) -> bool:
    """Does the answer refuse or ask for more instead of writing? (Its first lines say so.)"""
    head = "\n".join(text.strip().splitlines()[:3])
    return bool(re.search(r"\bi'?m sorry,? but i\b|\bi apologi[sz]e,? but\b|"
                          r"\bi can(?:not|'t) (?:assist|help|fulfill|comply|continue)\b|"
                          r"\bplease provide (?:more|the)\b|抱歉|我无法|请提供", head, re.I))
