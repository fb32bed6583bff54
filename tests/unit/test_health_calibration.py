"""Calibration of the text-health check on real outputs of the demo model.

The texts live in ``tests/data/health_calibration``: ``documents.jsonl`` (one benchmark job a
line: its request, language and sections; the length set's outputs before and with the check,
the 20,000-word bounded-context novel, the 10,000-word prefix-reuse job, 10,000-word jobs on
the code before the check and the novel benchmark's scenes written as words run together) and
``recoveries.jsonl`` (what the engine's recoveries cut, with the text kept before the cut).
``collect.py`` beside them rebuilt them from the benchmark outputs; the test never reads
``bench/``.

Every section is labelled by an offline judge that is deliberately *not* the streaming
check: whole-section figures, the longest span copied from earlier text, and a line with the
start of the next one that two earlier sections already hold. The streaming
:class:`HealthMonitor` (fed the section piece by piece, with the earlier sections as its
reference, exactly as the engine runs it) must pass every clean section and stop every
failed one. Sections the judge calls neither are not used.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from longhand.core.engine.plan import is_story
from longhand.core.text.health import HealthMonitor, compression_ratio, fragments, topic_keys
from longhand.core.text.language import language_share
from longhand.core.text.wordcount import units

DATA = Path(__file__).resolve().parents[1] / "data" / "health_calibration"


# ---------------------------------------------------------------------------------------
# The offline judge

def longest_copied_span(text: str, earlier: str) -> int:
    """Longest run of units of ``text`` that also occurs, in order, in ``earlier`` or earlier
    in ``text`` itself (measured through 8-grams: the answer is a lower bound past 8)."""
    n = 8
    seen = set()
    ref = units(earlier)
    for i in range(len(ref) - n + 1):
        seen.add(tuple(ref[i:i + n]))
    u = units(text)
    best = run = 0
    for i in range(len(u) - n + 1):
        g = tuple(u[i:i + n])
        if g in seen:
            run = run + 1 if run else n
            best = max(best, run)
        else:
            run = 0
        seen.add(g)
    return best


def run_together_letters(text: str) -> float:
    """Share of the letters that stand in letter runs of 20 or more (words run together)."""
    runs = re.findall(r"[A-Za-z]+", text)
    letters = sum(map(len, runs))
    return sum(len(r) for r in runs if len(r) >= 20) / letters if letters else 0.0


def blocks(text: str, story: bool = False) -> list[str]:
    """Each line of 4+ units with the first 4 units of the line after it ("a small win
    reward | the setting of this"); in a story, each line of 4+ units alone as well."""
    lines = [units(ln) for ln in text.splitlines() if ln.strip()]
    out = [" ".join(a) + " | " + " ".join(b[:4]) for a, b in zip(lines, lines[1:])
           if len(a) >= 4 and len(b) >= 4]
    return out + ([" ".join(a) for a in lines if len(a) >= 4] if story else [])


def recurring_block(text: str, earlier: str, story: bool = False) -> bool:
    """A line and the start of the next one that the earlier text already has, standing a
    third time (or more) in all: the same part of a section, written again. In a story,
    the same line alone (fiction repeats no sub-headings)."""
    before: dict[str, int] = {}
    for b in blocks(earlier, story):
        before[b] = before.get(b, 0) + 1
    here: dict[str, int] = {}
    for b in blocks(text, story):
        here[b] = here.get(b, 0) + 1
    return any(before.get(b, 0) and n + before[b] >= 3 for b, n in here.items())


def judge(text: str, earlier: str, lang: str, topic: str = "", story: bool = False) -> str:
    """"clean", "failed" or "" (neither: not used for calibration)."""
    u = units(text)
    if len(u) < 60:
        return ""
    keys = topic_keys(topic, lang)
    if len(keys) >= 3 and len(u) >= 300 and not (topic_keys(text, lang) & keys):
        return "failed"        # about something else entirely (e.g. the plan prompt's example)
    bad, words = fragments(text)
    junk = bad / max(1, words + sum(1 for x in u if len(x) == 1 and "\u4e00" <= x <= "\u9fff"))
    share = language_share(text, lang) or 0.0
    copied = longest_copied_span(text, earlier)
    ratio = compression_ratio(text[-1500:])
    runs = run_together_letters(text)
    if junk > 0.05 or share < 0.8 or copied >= 40 or ratio < 0.25 or runs > 0.10 or \
            recurring_block(text, earlier, story):
        return "failed"
    if junk <= 0.03 and share >= 0.95 and copied < 12 and ratio >= 0.40 and runs < 0.03:
        return "clean"
    return ""


def stream(text: str, lang: str, reference: str, topic: str, story: bool = False):
    """Feed ``text`` to a monitor the way the engine does (a few characters at a time)."""
    # (chatter, the other axis, is calibrated on its own hand-labelled set of both models'
    # sections: tests/unit/test_chatter_calibration.py; many "clean" sections of the demo
    # model here are web-page talk, "I hope you enjoyed reading", that this judge cannot see)
    m = HealthMonitor(lang, reference=reference, topic_text=topic, story=story, chatter=False)
    for i in range(5, len(text) + 1, 5):
        h = m.feed(text[:i])
        if h is not None:
            return h
    return m.feed(text, final=True)


# ---------------------------------------------------------------------------------------
# The texts

def documents() -> list[tuple[str, str, str, list[tuple[str, str]]]]:
    """(name, language, instruction, [(main point, section text)...]) for every stored job."""
    docs = []
    for ln in (DATA / "documents.jsonl").read_text("utf-8").splitlines():
        if ln.strip():
            d = json.loads(ln)
            docs.append((d["name"], d["lang"], d["instruction"],
                         [(s["main_point"], s["text"]) for s in d["sections"]]))
    return docs


def labelled():
    out = []
    for name, lang, instruction, sections in documents():
        earlier: list[str] = []
        for i, (point, text) in enumerate(sections):
            topic = " ".join([instruction, point, earlier[-1][-3000:] if earlier else ""])
            label = judge(text, "\n\n".join(earlier), lang, topic, is_story(instruction))
            if label:
                out.append((f"{name}#{i + 1}", label, lang, text, "\n\n".join(earlier[-6:]), topic,
                            is_story(instruction)))
            earlier.append(text)
    return out


def recovery_samples():
    """What the engine's recoveries cut in the benchmark runs (``recoveries.jsonl``): failed
    samples when the offline judge agrees they failed (kept text, then the cut)."""
    out = []
    for path in [DATA / "recoveries.jsonl"]:
        for ln in path.read_text("utf-8").splitlines():
            if not ln.strip():
                continue
            d = json.loads(ln)
            cut, kept = d.get("cut_text", ""), d.get("kept_tail", "")
            if judge(cut, kept, d["lang"], d["instruction"] + " " + d.get("main_point", "")) == "failed":
                out.append((f"cut:{d['id']}#{d['index'] + 1}.{d['attempt']}", "failed", d["lang"], kept + cut,
                            "", d["instruction"] + " " + d.get("main_point", ""), is_story(d["instruction"])))
    return out


CASES = labelled() + recovery_samples()


def test_the_calibration_set_is_there():
    clean = [c for c in CASES if c[1] == "clean"]
    failed = [c for c in CASES if c[1] == "failed"]
    assert len(clean) >= 150, "clean sections in tests/data/health_calibration"
    assert len(failed) >= 90, "failed sections in tests/data/health_calibration"
    kinds = {c[0].split(":")[0] for c in failed}
    assert "failed" in kinds or "length" in kinds


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == "clean"], ids=lambda c: c[0])
def test_clean_sections_pass(case):
    name, _, lang, text, reference, topic, story = case
    h = stream(text, lang, reference, topic, story)
    assert h is None, f"{name} flagged: {h.reasons}"


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == "failed"], ids=lambda c: c[0])
def test_failed_sections_are_stopped(case):
    name, _, lang, text, reference, topic, story = case
    h = stream(text, lang, reference, topic, story)
    assert h is not None, f"{name} passed the check"
