"""Test doubles for the batch's training-data tests: a scripted backend that writes clean
prose, or a refusal, chatter, or an answer that ends short, by the job's instruction."""

from __future__ import annotations

import itertools
import json

from fakes import ScriptedBackend
from longhand.core.backends.base import Generation
from longhand.core.data.batch import Server
from longhand.core.data.instructions import parse_instructions

PLAN = ("Paragraph 1 - Main Point: The start of it all - Word Count: 150 words\n"
        "Paragraph 2 - Main Point: How it ends - Word Count: 150 words\n")
REFUSAL = ("I'm sorry, but I can't assist with that request. Please provide more information about "
           "what you would like.")
_seeds = itertools.count(1)


class Mixed(ScriptedBackend):
    """Writes clean made-up prose (new words for every job), except for jobs whose instruction
    says otherwise, whatever the engine asks (like a server that cannot ban the end of text):
    "REFUSE" answers every write call with a refusal and ends; "SHORT" gives twelve words on
    its first two write calls and nothing after."""

    def __init__(self) -> None:
        super().__init__(plan_text=PLAN)
        self._x = 12345 + 7919 * next(_seeds)
        self._writes = 0

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        text = prompt.text()
        planning = "Main Point" in text and "written so far" not in text
        if not planning:
            self._writes += 1
            if "REFUSE" in text or "SHORT" in text:
                if "REFUSE" in text:
                    pieces = [" " + w for w in REFUSAL.split()]
                else:
                    pieces = list(itertools.islice(self._sentences(), 12)) if self._writes <= 2 else []
                for p in pieces:
                    on_piece(p)
                return Generation("".join(pieces), "end", 100, 10, len(pieces), 0.01)
        return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                cancel=cancel, allow_end=allow_end)


def mixed_server(name: str = "s") -> Server:
    return Server(name=name, open=Mixed)


def jobs(*kinds: str):
    text = "\n".join(json.dumps({"id": f"{k}-{n}", "instruction": f"Write text {k} number {n}.",
                                 "target_words": 300}) for n, k in enumerate(kinds))
    return parse_instructions(text).instructions
