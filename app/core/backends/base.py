"""Core: the one interface every text-generation backend implements.

The engine talks to a backend in three calls: ``count_tokens``, ``generate`` and ``close``.
``generate`` takes a :class:`Prompt` made of segments (the instruction header, then the text
written so far, section by section), so that consecutive prompts share a long, token-exact
prefix and the backend's prefix cache is reused. While it streams, the backend calls
``on_piece`` with each new piece of text; the callback answers with a :class:`Steer` that
says whether the end of text may be sampled next and whether to stop now. That is how the
engine controls length without knowing anything about tokens or samplers.

Optional hooks have a default that does nothing: ``ensure_context`` (grow the context for a
long job) and ``save_cache``/``load_cache`` (the prefix cache on disk, so that a reopened job
does not evaluate its first prompt again; the llama.cpp backend only).

Real backends live in ``backends.llama`` (llama-cpp-python) and ``backends.remote``
(OpenAI-compatible servers). Test doubles live in ``tests/``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from ..errors import CancelToken

if TYPE_CHECKING:
    from ..text.phrases import PhraseBook

# LongWriter models are trained at a 32k context; the default upper bound of a job's context.
MAX_CONTEXT = 32768

__all__ = ["MAX_CONTEXT", "Sampling", "Steer", "Prompt", "Generation", "BackendInfo", "Backend", "OnPiece"]


# DRY's sequence breakers as llama.cpp sets them by default: a line break, a colon, a double
# quote, an asterisk (a repeat DRY follows ends at one).
DRY_SEQ_BREAKERS: tuple[str, ...] = ("\n", ":", "\"", "*")


@dataclass
class Sampling:
    """Sampling settings. LongWriter's own runs use temperature 0.5 (top_p 0.8 for GLM)."""

    temperature: float = 0.5
    top_p: float = 0.9
    top_k: int = 50
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    repeat_last_n: int = 256
    # DRY ("don't repeat yourself") penalises verbatim loops, the failure mode of long outputs.
    dry_multiplier: float = 0.8
    dry_base: float = 1.75
    dry_allowed_length: int = 3
    # DRY looks this far back (tokens of the prompt's tail included), so a section that
    # starts retelling an earlier one is penalised too, not only loops within 256 tokens.
    # Measured on the demo model, 1,200 words in 3 sections: repeated 4-gram share 0.278
    # with a 256-token window, 0.010 with 2048 (bench/dry_window.py).
    dry_last_n: int = 2048
    # Words DRY never penalises a repeat through (besides line breaks, colons, quotes and
    # asterisks): a story's names. Penalised, the instruct model cut them short to dodge the
    # penalty ("Ile Marren", "Else" for Ilse).
    dry_breakers: tuple[str, ...] = ()
    # What ends a repeat DRY follows, before those words (llama.cpp's own defaults).
    dry_seq_breakers: tuple[str, ...] = DRY_SEQ_BREAKERS
    # Characters no token of the text may hold (llama.cpp bans every token that contains
    # one; a remote server cannot be told, its text is taken as it comes): "*" in a chat
    # model's story, which set whole paragraphs in bold ("**Ilse took a deep breath…**").
    ban_chars: str = ""
    # No token holding a Chinese, Japanese or Korean character (or its first byte) may be
    # sampled: a text in English asked for none (text.language.wants_no_cjk). llama.cpp
    # only, as ban_chars.
    ban_cjk: bool = False
    # No token holding a letter of another script than Latin (Greek, Cyrillic, Arabic,
    # Hebrew, the Indic scripts, Thai…, or its first byte): a text asked for in Latin letters
    # only (text.language.wants_latin_only). llama.cpp only, as ban_chars.
    ban_scripts: bool = False
    # The book's phrases the text may not repeat (a text.phrases.PhraseBook): at each step
    # llama.cpp may not start a word that would complete a word 4-gram the book already holds
    # (names excepted). A whole novel's phrases are out of DRY's reach. llama.cpp only.
    avoid: Optional["PhraseBook"] = None
    seed: Optional[int] = None


@dataclass
class Steer:
    """The engine's answer to each streamed piece."""

    allow_end: bool = True   # may the model end the text (EOS / stop token) next?
    stop: bool = False       # stop generating now


@dataclass
class Prompt:
    """A prompt as segments. ``user`` is the request; ``answer`` the assistant's text so far.

    Chat models see ``format.prefix + user + format.suffix + answer``; completion (base)
    models see ``user + answer``. Segments are tokenized one by one and concatenated, so an
    unchanged leading segment always yields the same tokens (the prefix cache hits).

    ``turns`` makes it a conversation: (the assistant's answer as segments, the user's next
    message) pairs that follow the request, each answer closed and the message opened with the
    format's turn markers; ``answer`` then continues the answer to the last message. A
    conversation only grows at its end, so consecutive prompts share their prefix too.
    """

    user: list[str]
    answer: list[str] = field(default_factory=list)
    turns: list[tuple[list[str], str]] = field(default_factory=list)
    # The system message of chat models (who the model is and what it must never write);
    # formats without a system role get it at the top of the user message. Base models
    # (completion style) get no system message.
    system: str = ""
    # GBNF that the answer must follow (plans; see engine.grammar). llama.cpp applies it with
    # its grammar sampler, a llama.cpp server gets it as ``grammar``; others ignore it (the
    # engine's parser copes either way).
    grammar: Optional[str] = None

    def text(self) -> str:
        return "".join(self.user) + "".join("".join(a) + "\n\n" + u for a, u in self.turns) + "".join(self.answer)


@dataclass
class Generation:
    """What one ``generate`` call produced."""

    text: str
    finish: str                 # "end" (model ended), "length" (max_tokens), "stop" (steered), "cancelled"
    prompt_tokens: int          # tokens of the prompt
    prompt_tokens_evaluated: int  # prompt tokens actually computed (not served from the cache)
    generated_tokens: int
    seconds: float
    first_token_seconds: float = 0.0


@dataclass
class BackendInfo:
    name: str                   # "llama.cpp" or "openai"
    model: str                  # model file name or remote model id
    device: str                 # "CPU", "GPU (33/33 layers)", "remote"
    n_ctx: int
    prompt_style: str           # "chat" or "completion"
    format_name: str
    demo: bool = False
    notes: list[str] = field(default_factory=list)


OnPiece = Callable[[str], Optional[Steer]]


class Backend(ABC):
    """A text generator the AgentWrite engine can drive."""

    info: BackendInfo
    default_sampling: Sampling

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes in this model."""

    def whole_word(self, word: str) -> bool | None:
        """Is ``word`` (lower case, after a space) one token of this model's vocabulary, so a
        word of its language? None when this backend cannot tell (see text.glued)."""
        return None

    @abstractmethod
    def generate(self, prompt: Prompt, *, max_tokens: int, sampling: Sampling | None = None,
                 on_piece: OnPiece | None = None, cancel: CancelToken | None = None,
                 allow_end: bool = True) -> Generation:
        """Stream a completion of ``prompt``; call ``on_piece`` for each new piece of text.

        ``allow_end`` is the steering before the first piece (False: the text may not end at
        once, as when continuing a section that is still too short). Must return (not raise)
        with finish="cancelled" when ``cancel`` is set, keeping what was generated. Raises
        BackendError on failures.
        """

    def ensure_context(self, n_tokens: int) -> None:  # noqa: B027 - optional hook
        """Make room for prompts of ``n_tokens`` if the backend can (default: nothing)."""

    def save_cache(self, path: str | os.PathLike) -> bool:
        """Write the prompt cache (what the model has already read) to ``path``, so that a
        new backend can :meth:`load_cache` it instead of reading the prompt again. True when
        written; False when the backend keeps no such cache (the default) or the write failed
        (never raises: the cache is an optimisation)."""
        return False

    def load_cache(self, path: str | os.PathLike) -> int:
        """Restore a cache written by :meth:`save_cache`; returns the tokens restored, 0 when
        there is none, it does not belong to this model and context, or it is damaged (never
        raises). The next prompt then evaluates only what the cache lacks."""
        return 0

    def forget_cache(self) -> None:  # noqa: B027 - optional hook
        """Forget what the model has read: the next prompt is evaluated whole (benches that
        compare prompts from an empty context; default: nothing to forget)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free resources."""
