"""Core: a book's word 4-grams, so that a model does not write the same phrase twice.

Over a whole novel a small chat model comes back to the same phrases ("stood at the edge of",
"the air was thick with", "she knew that she"): the instruct test model's first 24,000-word
novel repeated 22 % of its word 4-grams, most of them across chapters, out of reach of DRY
(which sees only the prompt's last tokens). A :class:`PhraseBook` holds the 4-grams of the text
written so far; given to the llama.cpp backend (``Sampling.avoid``), it bans at each step the
words that would complete a 4-gram already used ``limit`` times. The units are those of the
repetition measure (:func:`..wordcount.units`): lower-case words, apostrophes inside them.

Function words ("of", "to", "her", "that") are never banned: the ban falls on the next word
that is not one (the instruct model, banned "to", dropped it). A story's names repeat by
design: a word of a codex name is never banned, nor the word after a name's word when the two
stand together in the name ("Guild" "of" in "the Guild of Cartographers"). Text without spaces
between words (Chinese) is not guarded.
"""

from __future__ import annotations

import copy
import re
from typing import Iterable

from .health import STOPWORDS
from .wordcount import units

N = 4

_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)*")


def function_word(word: str) -> bool:
    """Words of one or two letters and the common function words: never banned."""
    return len(word) <= 2 or word in STOPWORDS


class PhraseBook:
    """The word 4-grams of a text, and the words each 3-word context may not be followed by.

    ``tail`` is the text right before the one being generated (the words a new text's first
    4-grams start in)."""

    def __init__(self, text: str = "", *, limit: int = 1, names: Iterable[str] = (), tail: str = "") -> None:
        self.limit = max(1, limit)
        self.followers: dict[tuple[str, ...], dict[str, int]] = {}
        self.keep_words: set[str] = set()
        self.keep_pairs: set[tuple[str, str]] = set()
        for name in names:
            us = units(name)
            self.keep_words.update(u for u in us if len(u) > 2 and u not in STOPWORDS)
            self.keep_pairs.update(zip(us, us[1:]))
        self.tail = tail
        self.add(text)

    def with_tail(self, tail: str) -> "PhraseBook":
        """The same book (its counts shared, not copied) before another text."""
        other = copy.copy(self)
        other.tail = tail
        return other

    def add(self, text: str) -> None:
        """Count the 4-grams of ``text`` (a new piece of the book: none across the seam)."""
        self.add_units(units(text))

    def add_units(self, us: list[str]) -> None:
        for i in range(len(us) - N + 1):
            nxt = self.followers.setdefault(tuple(us[i:i + N - 1]), {})
            nxt[us[i + N - 1]] = nxt.get(us[i + N - 1], 0) + 1

    def count(self, gram: Iterable[str]) -> int:
        """How often the 4-gram ``gram`` stands in the book."""
        g = tuple(gram)
        return self.followers.get(g[:-1], {}).get(g[-1], 0)

    def banned_after(self, key: tuple[str, ...]) -> set[str]:
        """The words that would repeat a 4-gram used ``limit`` times after the 3 words ``key``."""
        nxt = self.followers.get(key)
        if not nxt:
            return set()
        return {w for w, c in nxt.items() if c >= self.limit and self.allows_ban(key, w)}

    def allows_ban(self, key: tuple[str, ...], word: str) -> bool:
        """May ``word`` be banned after ``key``? Not a function word (the next word that is
        not one is: banned "to" and "of", the instruct model dropped them: "I am willing risk
        my reputation", "a deep shade blue"), nor a word of a name or a name's next word."""
        return not function_word(word) and word not in self.keep_words and (key[-1], word) not in self.keep_pairs

    def guard(self) -> "PhraseGuard":
        """Per-generation state: feed it the pieces as they come, ask it what is banned next."""
        return PhraseGuard(self)


class PhraseGuard:
    """Follows a generation piece by piece: the last words written, and which words may not
    come next. Only the book's phrases are banned, not the ones the generation writes: within
    the prompt's reach DRY stops loops, and a ban there breaks up the copies DRY penalises
    into copies in other words, which it no longer sees (a scene that copied the one before
    it with "intensity" for "intense", "thin space" for "thin air")."""

    def __init__(self, book: PhraseBook) -> None:
        self.book = book
        self.last: list[str] = []
        self.pending = ""            # text after the last complete word (the lower-cased tail)
        self.feed(book.tail[-200:])

    @property
    def ends_in_letter(self) -> bool:
        """The text so far ends inside a word (a token that starts with a letter goes on with it)."""
        return bool(self.pending) and (self.pending[-1].isalpha() or self.pending[-1] in "'’")

    def feed(self, piece: str) -> None:
        if not piece:
            return
        self.pending += piece.lower()
        # a word followed by anything but a letter or a lone apostrophe is complete
        done = 0
        for m in _WORD.finditer(self.pending):
            rest = self.pending[m.end():]
            if not rest or rest in ("'", "’"):
                break       # it may go on in the next piece
            self.last = (self.last + [m.group(0)])[-(N - 1):]
            done = m.end()
        self.pending = self.pending[done:]

    def _banned_after(self, last: list[str]) -> set[str]:
        return self.book.banned_after(tuple(last)) if len(last) == N - 1 else set()

    def _partial(self) -> str:
        words = _WORD.findall(self.pending)
        return words[-1] if words and self.ends_in_letter else ""

    def banned(self) -> set[str]:
        """Words that may not start next: they would repeat a 4-gram. A word the text ends in
        counts as finished (a token that starts a new word finishes it)."""
        partial = self._partial()
        return self._banned_after((self.last + [partial])[-(N - 1):] if partial else self.last)

    def banned_endings(self) -> set[str]:
        """What may not follow the word the text ends in, for it to finish as a banned word
        ("aches" after "head", when "headaches" would repeat a 4-gram: a word written in two
        tokens). Empty when the text does not end inside a word."""
        partial = self._partial()
        if not partial:
            return set()
        return {w[len(partial):] for w in self._banned_after(self.last)
                if len(w) > len(partial) and w.startswith(partial)}


__all__ = ["N", "PhraseBook", "PhraseGuard", "function_word"]
