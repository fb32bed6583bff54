"""Core: word counting, the one way Longhand counts words.

LongBench-Write counts English words (``\\b[a-zA-Z]+\\b``) plus Chinese characters
(``[\\u4e00-\\u9fff]``). Every word figure in Longhand (targets, the tracker, exports,
benchmarks) comes from :func:`count_words`, so the numbers the user sees are the
numbers the length score is computed from.
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Sequence

_EN_WORD = re.compile(r"\b[a-zA-Z]+\b")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")

# A sentence ends with terminal punctuation, optionally closed by quotes or brackets.
_SENTENCE_END = re.compile(r"""[.!?…。！？][”"’'»)\]」』]*$""")
_SENTENCE_END_ANYWHERE = re.compile(r"""[.!?…。！？][”"’'»)\]」』]*(?=\s|$)|[。！？][”"’'」』]*""")


def count_words(text: str) -> int:
    """Words as LongBench-Write counts them: English words plus Chinese characters."""
    if not text:
        return 0
    return len(_EN_WORD.findall(text)) + len(_CJK_CHAR.findall(text))


CJK_CHAR = _CJK_CHAR     # the one pattern for a Chinese character, for every module

# The units repetition is measured in: lower-case words (with their apostrophes: "don't" is
# one unit) and Chinese characters, which have no spaces between them.
UNIT = re.compile(r"[a-z]+(?:['’][a-z]+)*|" + CJK_CHAR.pattern)


def has_cjk(text: str) -> bool:
    """True when ``text`` holds a Chinese character (such text has no spaces between words)."""
    return _CJK_CHAR.search(text) is not None


def is_cjk(text: str) -> bool:
    """True when Chinese characters outnumber English words in ``text``."""
    return len(_CJK_CHAR.findall(text)) > len(_EN_WORD.findall(text))


def ends_sentence(text: str) -> bool:
    """True when ``text`` (ignoring trailing whitespace) ends at a sentence boundary."""
    return bool(_SENTENCE_END.search(text.rstrip()))


def continue_from(text: str) -> str:
    """Partial text to continue from: end a finished sentence with a paragraph break, else a
    space (none after Chinese, which has no spaces between words)."""
    stripped = text.rstrip()
    if ends_sentence(stripped):
        return stripped + "\n\n"
    return stripped + " " if not has_cjk(stripped[-1:]) else stripped


def trim_to_sentence(text: str, min_words: int = 0) -> str:
    """Cut ``text`` after its last complete sentence, if that keeps ``min_words`` words.

    Returns ``text`` unchanged (right-stripped) when it already ends a sentence or when no
    boundary leaves enough words.
    """
    stripped = text.rstrip()
    if ends_sentence(stripped):
        return stripped
    last = None
    for m in _SENTENCE_END_ANYWHERE.finditer(stripped):
        last = m
    if last is None:
        return stripped
    cut = stripped[: last.end()].rstrip()
    if count_words(cut) < min_words:
        return stripped
    return cut


def length_score(required: int, produced: int) -> float:
    """LongBench-Write's length score S_l for one output (0..100)."""
    if required <= 0:
        raise ValueError("required length must be positive")
    if produced <= 0:
        return 0.0
    if produced > required:
        return 100.0 * max(0.0, 1.0 - (produced / required - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (required / produced - 1.0) / 2.0)


def units(text: str) -> list[str]:
    """Lower-case words and Chinese characters (:data:`UNIT`), the units n-grams are made of."""
    return UNIT.findall(text.lower())


def grams(seq: Sequence[str], n: int = 4) -> list[tuple[str, ...]]:
    """The n-grams of a sequence of units, in order."""
    return [tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)]


def repeated_ngram_share(text: str | Sequence[str], n: int = 4, *, seen: Iterable[tuple[str, ...]] = (),
                         last: int | None = None) -> float:
    """Share of the n-grams of ``text`` that repeat one seen before (0 = no loops, 1 = all
    loops): in ``seen`` or earlier in ``text``. The one repetition measure (the health check,
    the benches); ``text`` is a string or its :func:`units`.

    With ``last``, only the last ``last`` n-grams are judged; the ones before them count as seen.
    """
    gs = grams(units(text) if isinstance(text, str) else text, n)
    known = set(seen)
    if last:
        known.update(gs[:-last])
        gs = gs[-last:]
    if not gs:
        return 0.0
    repeats = 0
    for g in gs:
        if g in known:
            repeats += 1
        else:
            known.add(g)
    return repeats / len(gs)


# ---------------------------------------------------------------------------------------
# Reading a target length out of an instruction ("a 5000-word story", "不少于2000字").

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def _cn_number(s: str) -> int | None:
    """Parse a simple Chinese numeral such as 两千, 三千五百, 一万."""
    total, section, digit = 0, 0, None
    for ch in s:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit == 10000:
                section = (section + (digit or 0)) * unit
                total += section
                section = 0
            else:
                section += (digit if digit is not None else 1) * unit
            digit = None
        else:
            return None
    value = total + section + (digit or 0)
    return value or None


_NUM = r"(\d{1,3}(?:[,\s]\d{3})+|\d+(?:\.\d+)?)\s*([kK])?"
_EN_TARGET = re.compile(
    _NUM + r"\s*(?:-|\s)?\s*(?:words?\b|word-long)", re.IGNORECASE)
_CN_TARGET = re.compile(r"(\d+(?:\.\d+)?)\s*([万千kK])?\s*字")
_CN_NUMERAL_TARGET = re.compile(r"([零〇一二两三四五六七八九十百千万]+)\s*字")


def target_from_instruction(instruction: str) -> int | None:
    """The word target an instruction states, or None.

    Understands "a 5000-word story", "about 300 words", "10,000 words", "5k words",
    "不少于2000字", "3万字", "两千字". When several are given, the largest wins (an
    instruction like "5 chapters of 2000 words" is ambiguous; the bigger figure is safer).
    """
    found: list[int] = []
    for m in _EN_TARGET.finditer(instruction):
        number = float(re.sub(r"[,\s]", "", m.group(1)))
        if m.group(2):
            number *= 1000
        found.append(int(number))
    for m in _CN_TARGET.finditer(instruction):
        number = float(m.group(1))
        unit = m.group(2)
        if unit in ("千", "k", "K"):
            number *= 1000
        elif unit == "万":
            number *= 10000
        found.append(int(number))
    for m in _CN_NUMERAL_TARGET.finditer(instruction):
        value = _cn_number(m.group(1))
        if value:
            found.append(value)
    found = [f for f in found if f > 0]
    return max(found) if found else None


def round_to(n: int, step: int) -> int:
    """Round ``n`` to the nearest multiple of ``step`` (half up), as manuscripts quote counts."""
    return int(math.floor(n / step + 0.5) * step)
