"""Test doubles (never in app/): a scripted backend to test engine logic exactly."""

from __future__ import annotations

import itertools
import time

from longhand.core.backends.base import Backend, BackendInfo, Generation, Prompt, Sampling, Steer


class ScriptedBackend(Backend):
    """Writes sentences of ``sentence_words`` words; wants to end after ``wants_end_after`` words.

    It honours Steer exactly like a real backend: it ends only when ``allow_end`` is true,
    stops when told, and stops on cancel. Each piece is one word with its leading space.
    """

    def __init__(self, sentence_words: int = 7, wants_end_after: int = 10**9, style: str = "chat",
                 plan_text: str = "", delay: float = 0.0) -> None:
        self.sentence_words = sentence_words
        self.wants_end_after = wants_end_after
        self.plan_text = plan_text
        self.delay = delay
        self.default_sampling = Sampling()
        self.info = BackendInfo("scripted", "scripted", "CPU", 1_000_000, style, style)
        self.prompts: list[Prompt] = []
        self.calls = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        self.prompts.append(prompt)
        self.calls += 1
        if self.plan_text and "Main Point" in prompt.text() and "written so far" not in prompt.text():
            pieces = [self.plan_text]
        else:
            pieces = self._sentences()
        out, n, finish = [], 0, "length"
        for piece in pieces:
            if n >= max_tokens:
                break
            if cancel is not None and cancel.cancelled:
                finish = "cancelled"
                break
            if self.delay:
                time.sleep(self.delay)
            out.append(piece)
            n += 1
            steer = on_piece(piece) if on_piece else None
            steer = steer or Steer()
            if steer.stop:
                finish = "stop"
                break
            words = len("".join(out).split())
            if words >= self.wants_end_after and steer.allow_end:
                finish = "end"
                break
        else:
            finish = "end"
        text = "".join(out)
        return Generation(text, finish, 100, 10, n, 0.01)

    def _sentences(self):
        # "Lorem ipsum ipsum" then made-up words that do not repeat in 4-grams, not even across
        # calls: the engine's health check (core/text/health.py) rightly cuts a text that loops.
        for i in itertools.count():
            self._x = x = (getattr(self, "_x", 12345) * 1103515245 + 12345) % (2 ** 31)
            k = i % self.sentence_words
            word = "Lorem" if k == 0 else "ipsum" if k < 3 else "".join(_SYL[(x >> s) % 20] for s in (0, 5, 10))
            end = "." if k == self.sentence_words - 1 else ""
            yield f" {word}{end}"


_SYL = ["ka", "lo", "mi", "ren", "tu", "sa", "vel", "no", "bri", "da", "fen", "go", "hul", "ji", "mar", "pe",
        "qua", "ris", "te", "wo"]
