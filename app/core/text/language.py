"""Core: which language a request is written in, and how much of a text is in it.

Longhand answers a request in its own language. Two languages are told apart, the two that
LongBench-Write counts: Chinese (Han characters, ``[\\u4e00-\\u9fff]``) and English (Latin
words). A request is Chinese when Han characters make up a real part of it (a Chinese
request often quotes an English name or a number); anything else is treated as English.

:func:`language_share` is the share of a text's counted units (Chinese characters, Latin
words, words in other scripts) that are in the given language: 1.0 for a Chinese essay,
about 0.02 for an English essay that only repeats a Chinese title.
"""

from __future__ import annotations

import re

from .wordcount import CJK_CHAR

ZH, EN = "zh", "en"
LANGUAGES = (ZH, EN)

_HAN = CJK_CHAR
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
# Words in other scripts (Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai, Hangul, kana):
# they count against either language.
_OTHER_WORD = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u06ff\u0900-\u097f\u0e00-\u0e7f"
                         r"\u3040-\u30ff\uac00-\ud7af]+")


def detect_language(text: str) -> str:
    """"zh" when Han characters make up at least a third of the request's units, else "en"."""
    han = len(_HAN.findall(text or ""))
    latin = len(_LATIN_WORD.findall(text or ""))
    if han and han >= (han + latin) / 3:
        return ZH
    return EN


def units(text: str) -> tuple[int, int, int]:
    """(Han characters, Latin words, other-script words) in ``text``."""
    return (len(_HAN.findall(text)), len(_LATIN_WORD.findall(text)), len(_OTHER_WORD.findall(text)))


def language_share(text: str, lang: str) -> float | None:
    """Share of the counted units of ``text`` that are in ``lang``; None for a text without any."""
    han, latin, other = units(text or "")
    total = han + latin + other
    if not total:
        return None
    return (han if lang == ZH else latin) / total


def language_name(lang: str) -> str:
    """The language's name, as a prompt tells a model to write in it."""
    return {ZH: "Chinese (简体中文)", EN: "English"}.get(lang, "English")


# A request that names an East Asian language may want its characters in the text.
_NAMES_CJK = re.compile(r"\b(chinese|mandarin|cantonese|japanese|korean|kanji|hanzi|hanja|pinyin|kana)\b",
                        re.IGNORECASE)
_EAST_ASIAN = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]")


def wants_no_cjk(instruction: str) -> bool:
    """True when the text asked for is to hold no Chinese, Japanese or Korean character: a
    request written without any, that names none of those languages. (The instruct model, a
    Qwen, slipped Chinese words into English scenes: "gather更多的", "through她的 body".)"""
    return not _EAST_ASIAN.search(instruction or "") and not _NAMES_CJK.search(instruction or "")


# A request that names a language written in another script than Latin (or Chinese, Japanese,
# Korean) may want its letters in the text.
_NAMES_OTHER_SCRIPT = re.compile(
    r"\b(russian|ukrainian|belarusian|bulgarian|serbian|macedonian|kazakh|kyrgyz|tajik|mongolian|cyrillic|"
    r"greek|arabic|persian|farsi|urdu|pashto|hebrew|yiddish|syriac|hindi|marathi|nepali|sanskrit|bengali|"
    r"punjabi|gujarati|oriya|odia|tamil|telugu|kannada|malayalam|sinhala|thai|lao|burmese|khmer|tibetan|"
    r"georgian|armenian|amharic|tigrinya|cherokee)\b", re.IGNORECASE)
# Letters of those scripts: Greek to Myanmar, Georgian, Hangul Jamo, Ethiopic, Cherokee, Khmer,
# Mongolian (U+0370-U+1DFF, without the Latin extensions after it).
_OTHER_SCRIPT = re.compile(r"[\u0370-\u1dff]")


def wants_latin_only(instruction: str) -> bool:
    """True when the text asked for is to hold letters of the Latin script only: a request
    with no letter of another script, that names no language written in one. (Banned a
    phrase it had used, the instruct model spelt the word half in Cyrillic: "cartографers".)"""
    text = instruction or ""
    return wants_no_cjk(text) and not _OTHER_SCRIPT.search(text) and not _NAMES_OTHER_SCRIPT.search(text)

