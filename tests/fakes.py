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
        for i in itertools.count():
            word = "Lorem" if i % self.sentence_words == 0 else "ipsum"
            end = "." if i % self.sentence_words == self.sentence_words - 1 else ""
            yield f" {word}{end}"
