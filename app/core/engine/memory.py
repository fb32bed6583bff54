"""Core: memory for novel-length jobs: section summaries written by the model.

AgentWrite puts the whole text written so far into every write prompt. Past the model's
context that cannot work, so the engine (``AgentWriter._context``) keeps the most recent
sections verbatim and carries earlier ones as short summaries (``Section.summary``, stored
in the project and editable by the user); the story bible goes into every prompt.

This module writes those summaries. It is called only for finished sections that are
leaving the verbatim window, never for every section: a summary prompt replaces the
backend's cached prefix, and the window moves in big steps so that most write prompts
still share their prefix with the one before. A summary the user wrote is never replaced.
"""

from __future__ import annotations

import logging

from ..backends.base import Backend, Prompt, Sampling, Steer
from ..text.wordcount import count_words, ends_sentence, trim_to_sentence
from .plan import Section
from .status import SectionStatus

log = logging.getLogger(__name__)

SUMMARY_WORDS = 50      # per section: about three sentences

# Chat style (instruction-tuned models).
SUMMARY_CHAT = """\
Summarize this part of a longer text in at most {words} words, for a writer who will \
continue the text without seeing it. Keep the names, places, events, decisions and open \
questions; leave out style and description. Output only the summary.

Part "{heading}":
{text}"""

# Completion style (base models): a document of parts, each followed by its summary. The
# example is deliberately unlike a novel's usual material, so that a small model that copies
# it is easy to catch (see ``copies_example``).
EXAMPLE_TEXT = ("Daniel arrived forty minutes early and waited in the lobby, rehearsing answers under "
                "his breath. The manager, a tall woman named Mrs. Okafor, asked only one question: why "
                "he had left his last job. He looked at the framed photograph of a bakery behind her "
                "desk and told her the truth.")
EXAMPLE_SUMMARY = ("Daniel goes to a job interview with Mrs. Okafor. Asked why he left his last job, "
                   "he decides to tell her the truth.")
SUMMARY_COMPLETION = """\
Chapter notes. Each part of the book is followed by a short summary of what happens in it.

Part: The interview
Text: """ + EXAMPLE_TEXT + """
Summary: """ + EXAMPLE_SUMMARY + """

Part: {heading}
Text: {text}
Summary:"""


class SectionSummarizer:
    """Writes ``Section.summary`` with the model. The engine calls it through a hook."""

    def __init__(self, backend: Backend, *, words: int = SUMMARY_WORDS,
                 sampling: Sampling | None = None) -> None:
        self.backend = backend
        self.words = words
        base = sampling or backend.default_sampling
        # Summaries should be faithful, not creative.
        self.sampling = Sampling(**{**base.__dict__, "temperature": min(base.temperature, 0.3)})
        self.summaries_written = 0

    @property
    def max_tokens(self) -> int:
        """Upper bound of a summary's size in tokens (the engine budgets with it)."""
        return int(self.words * 1.6) + 8

    def prompt(self, section: Section, text: str) -> Prompt:
        style = self.backend.info.prompt_style
        template = SUMMARY_COMPLETION if style == "completion" else SUMMARY_CHAT
        return Prompt(user=[template.format(words=self.words, heading=section.heading,
                                            text=" ".join(text.split()))])

    def summarize(self, section: Section, *, max_text_tokens: int | None = None) -> str:
        """A summary of ``section.text`` (not stored; see :meth:`ensure`)."""
        text = section.text.strip()
        if not text:
            return ""
        limit = max_text_tokens or max(256, self.backend.info.n_ctx - 3 * self.max_tokens - 400)
        if self.backend.count_tokens(text) > limit:
            # A section longer than the context: summarize its last part, which the
            # continuation needs most.
            words = text.split()
            keep = max(50, int(len(words) * limit / max(1, self.backend.count_tokens(text))))
            text = "… " + " ".join(words[-keep:])
        buf: list[str] = []

        def on_piece(piece: str) -> Steer:
            buf.append(piece)
            done = "".join(buf)
            # a base model goes on with the next "Part:"; a blank line ends the summary
            stop = "\n\n" in done.lstrip() or "\nPart:" in done or "\nText:" in done \
                or count_words(done) >= self.words * 1.3
            return Steer(allow_end=True, stop=stop)

        g = self.backend.generate(self.prompt(section, text), max_tokens=self.max_tokens,
                                  sampling=self.sampling, on_piece=on_piece)
        summary = clean_summary(g.text, self.words)
        if not summary or copies_example(summary, section.text):
            summary = fallback_summary(section.text, self.words)
        return summary

    def ensure(self, sections: list[Section], indexes) -> int:
        """Write the missing summaries of the finished sections among ``indexes``."""
        n = 0
        for i in indexes:
            sec = sections[i]
            if sec.summary.strip() or not sec.text.strip() or not SectionStatus(sec.status).finished:
                continue
            sec.summary = self.summarize(sec)
            self.summaries_written += 1
            n += 1
            log.info("summary of section %d: %d words", i + 1, count_words(sec.summary))
        return n

    __call__ = ensure


def clean_summary(text: str, words: int) -> str:
    """The model's summary cut at a blank line or a leaked label, at most ~1.3x ``words``."""
    text = text.strip()
    for mark in ("\n\n", "\nPart:", "\nText:", "\nSummary:"):
        if mark in text:
            text = text.split(mark, 1)[0]
    text = " ".join(text.split())
    if count_words(text) > words * 1.3:
        text = " ".join(text.split()[: int(words * 1.3)])
    if text and not ends_sentence(text):
        text = trim_to_sentence(text, min_words=0)
    return text.strip() if count_words(text) >= 3 else ""


def copies_example(summary: str, source: str) -> bool:
    """True when a summary repeats the prompt's example rather than the section (small models do)."""
    import re
    example = set(re.findall(r"[a-z]+", (EXAMPLE_TEXT + " " + EXAMPLE_SUMMARY).lower()))
    own = set(re.findall(r"[a-z]+", source.lower()))
    words = re.findall(r"[a-z]+", summary.lower())
    borrowed = [w for w in words if w in example and w not in own]
    return bool(words) and (len(borrowed) >= 3 or "okafor" in words)


def fallback_summary(text: str, words: int) -> str:
    """When the model writes no usable summary: the section's first and last sentences."""
    flat = " ".join(text.split())
    head = trim_to_sentence(" ".join(flat.split()[: words // 2]), min_words=0) or \
        " ".join(flat.split()[: words // 2])
    tail_words = flat.split()[-(words // 2):]
    tail = " ".join(tail_words)
    return f"{head} … {tail}".strip() if tail and tail not in head else head
