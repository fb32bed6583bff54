"""Core: words a sampler ran together ("thelandscape", "ofGuild", "tostop"), found and split.

A penalised token (DRY, a book's phrase ban) pushes a small model to the unspaced spelling of
the word it wanted: the instruct model's novel held "thelandscape", "theGreywater", "ofGuild",
"Youhave", "toyour", "tostop" and "taketo" in 14,000 words, typos to a reader. Such a word is a
function word glued to a word the text uses on its own (at either end), and not a word of the
language. Which words are words, the model's vocabulary says (``known``: " within", " forget",
" tonight" are tokens of their own; " thelandscape" is not). A word the vocabulary does not
hold whole is split only where the text also has its two words apart ("the landscape"): a
model that glued them writes them apart elsewhere, while a rare word is seldom its parts in a
row (on Moby-Dick, with the instruct model's vocabulary, the split without that test broke 105
real words, "ashore", "herring", "intolerable", "forbidding"; with it 25; in the instruct
model's four novels it keeps 41 of the 42 words split before, and the one it leaves, "aglow",
is a word). Without a vocabulary only a function word glued to a capitalised word counts
("ofGuild", "theGreywater"). Latin script only.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Optional

# Function words a model glues to the next word (or the word before glues to).
GLUE = frozenset("""a an the to of in on at and or but for with from by as is was it its you your he
she her his him we they them their i my me that this not""".split())

_WORD = re.compile(r"(?<![\w'’-])[A-Za-z]+(?![\w'’-])")
_CAMEL = re.compile(r"([a-z]+)([A-Z][a-z]+)")
MIN_PART = 4          # the other part's letters ("atone" is not "at one")
MIN_COUNT = 3         # times the other part stands on its own in the text


def glued_words(text: str, known: Optional[Callable[[str], Optional[bool]]] = None) -> dict[str, str]:
    """{run-together word: the words apart} in ``text`` (see the module's doc). ``known(word)``
    is True when ``word`` (lower case) is a word, None when it cannot tell."""
    words = _WORD.findall(text)
    counts = Counter(w.lower() for w in words)
    lower = re.findall(r"[a-z]+", text.lower())
    pairs = set(zip(lower, lower[1:]))          # the words the text has in a row
    fixes: dict[str, str] = {}
    for w in dict.fromkeys(words):
        m = _CAMEL.fullmatch(w)
        if m and m.group(1) in GLUE and len(m.group(1)) > 1:     # ("iPhone")
            fixes[w] = f"{m.group(1)} {m.group(2)}"
            continue
        lw = w.lower()
        if len(lw) < 5 or known is None:
            continue
        k = next((k for k in range(1, len(lw)) if (lw[:k], lw[k:]) in pairs
                  and (_glue_and_word(lw[:k], lw[k:], counts) or _glue_and_word(lw[k:], lw[:k], counts))), 0)
        if k and known(lw) is False:          # (the vocabulary asked last: it is the slow part)
            fixes[w] = f"{w[:k]} {w[k:]}"
    return fixes


def _glue_and_word(glue: str, word: str, counts: Counter) -> bool:
    return glue in GLUE and (word in GLUE or (len(word) >= MIN_PART and counts[word] >= MIN_COUNT))


__all__ = ["GLUE", "glued_words"]
