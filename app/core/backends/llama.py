"""Core: the llama.cpp backend (llama-cpp-python), with prefix reuse and a C sampling loop.

Why not ``Llama.create_completion``: it samples in Python over the whole vocabulary (262k
tokens for Gemma), cannot be steered token by token, and hides how many prompt tokens it
re-evaluated. This backend keeps llama-cpp-python's model/context loading and tokenizer and
runs its own loop: ``llama_decode`` on the new prompt suffix only, then llama.cpp's C
sampler chain (penalties, DRY, top-k/top-p/min-p, temperature) token by token, with a
logit-bias stage that keeps end-of-text away while the engine says the text is too short.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

from ..errors import BackendError, CancelToken, ModelError
from ..library.gguf import GGUF_MAGIC
from .base import MAX_CONTEXT, Backend, BackendInfo, Generation, OnPiece, Prompt, Sampling
from .formats import FORMATS, PromptFormat, detect_format
from .ggml import gpu_memory_error, log_mark, log_since
from .streaming import INVISIBLE, PieceStream

log = logging.getLogger(__name__)

def check_model_file(path: str | os.PathLike) -> Path:
    """Fail with a clear message unless ``path`` looks like a GGUF model file."""
    from ..library.gguf import existing_file
    p = existing_file(path)
    try:
        with p.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        raise ModelError(f"Cannot read model file {p}: {e.strerror or e}") from e
    if len(head) < 8 or head[:4] != GGUF_MAGIC:
        raise ModelError(f"{p.name} is not a GGUF model file (bad header). "
                         "Download it again or pick another file.")
    return p


def _silence_llama_logs() -> None:
    """Route llama.cpp's C logging to Python logging (debug) instead of stderr."""
    from .ggml import route_logs
    route_logs()


def load_llama_backends():
    """Load llama.cpp's compute backends (CPU, and Vulkan/CUDA/Metal where the build has
    them as modules) once, before a model opens; see :mod:`.ggml`. Returns the report."""
    from .ggml import load_backends
    return load_backends()


def _fallback_note(what: str, layers: int, next_layers: int, log_lines: list[str]) -> str:
    """What the user reads when a load with ``layers`` on the GPU failed."""
    oom = gpu_memory_error(log_lines)
    why = f"out of GPU memory: {oom}" if oom else "out of GPU memory, or a GPU driver problem"
    then = f"retrying with {next_layers} layers on the GPU." if next_layers else "running on the CPU instead."
    return f"Loading {what} with {layers} layers on the GPU failed ({why}); {then}"


def offload_ladder(layers: int) -> list[int]:
    """The layer counts to try, in order, when loading with ``layers`` on the GPU runs out of
    device memory: that many, half as many, then the CPU (0). ``-1`` means all layers."""
    if layers == 0:
        return [0]
    steps = [layers]
    if layers > 1:
        steps.append(layers // 2)
    steps.append(0)
    return steps


class _Samplers:
    """The sampler chains of one generate call: ``free_chain`` (the text may end),
    ``banned_chain`` (end of text, markup and headings banned) and, with a grammar, ``check``
    (the sampled token alone) and ``full`` (the grammar over the whole vocabulary)."""

    def __init__(self, ends: set[int], free_chain: Any, banned_chain: Any) -> None:
        self.ends = ends                  # tokens that end the text
        self.free_chain, self.banned_chain = free_chain, banned_chain
        self.check: Any = None
        self.full: Any = None

    def sample(self, ctx: Any, allow_end: bool) -> int:
        """The next token, from the chain the engine's steering picks; every chain sees it."""
        import llama_cpp as C
        chain, other = (self.free_chain, self.banned_chain) if allow_end else (self.banned_chain, self.free_chain)
        tok = C.llama_sampler_sample(chain, ctx, -1)
        if self.check is not None:
            if LlamaCppBackend._grammar_allows(self.check, tok):
                C.llama_sampler_accept(self.full, tok)
            else:
                tok = C.llama_sampler_sample(self.full, ctx, -1)
            C.llama_sampler_accept(self.check, tok)
        C.llama_sampler_accept(other, tok)
        return tok

    def free(self) -> None:
        import llama_cpp as C
        for smpl in (self.free_chain, self.banned_chain, self.check, self.full):
            if smpl is not None:
                C.llama_sampler_free(smpl)


class LlamaCppBackend(Backend):
    """Runs a GGUF model in-process through llama-cpp-python."""

    def __init__(self, model_path: str | os.PathLike, *, n_ctx: int = 8192,
                 n_gpu_layers: int | str = "auto", n_threads: int | None = None,
                 format_name: str | None = None, demo: bool = False, n_batch: int = 512,
                 max_ctx: int = MAX_CONTEXT) -> None:
        path = check_model_file(model_path)
        try:
            from llama_cpp import Llama
        except Exception as e:  # a broken or missing llama.cpp install: say so, no traceback
            raise ModelError(f"llama.cpp (llama-cpp-python) cannot be loaded: {e}. Reinstall "
                             "Longhand, or use a remote server (--backend openai).") from e
        backends = load_llama_backends()
        if backends.error:
            raise ModelError(f"{backends.error} Reinstall Longhand, or use a remote server "
                             "(--backend openai).")
        self.path = path
        self.max_ctx = max_ctx
        self._n_threads = n_threads or int(os.environ.get("LONGHAND_THREADS", 0)) or max(1, os.cpu_count() or 1)
        self._n_batch = n_batch
        notes: list[str] = list(backends.notes)
        from .gpu import offload_supported  # the one check (after the backends are loaded)
        offload = offload_supported()
        if n_gpu_layers == "auto":
            from .gpu import auto_gpu_layers  # layers that fit free VRAM at this context
            layers, why = auto_gpu_layers(path, n_ctx) if offload else (0, "")
            notes += [why] if why else []
            if not offload:
                from .gpu import gpu_backends_loaded  # a GPU build on a machine without a GPU
                found = gpu_backends_loaded()
                if found:
                    notes.append(f"The {', '.join(found)} backend found no GPU on this machine; "
                                 "running on the CPU.")
        else:
            layers = int(n_gpu_layers)
        if layers != 0 and not offload:
            notes.append("This llama-cpp-python build cannot offload to a GPU; running on the CPU.")
            layers = 0
        if layers < 0:                   # "all": count them, so that a fallback can halve them
            from ..library.gguf import read_gguf
            layers = read_gguf(path).block_count + 1
        self._Llama = Llama
        failures: list[str] = []
        ladder = offload_ladder(layers)
        for i, attempt in enumerate(ladder):
            mark = log_mark()
            try:
                self.llm = self._load(n_ctx, attempt)
                layers = attempt
                break
            except ModelError as e:
                if i == len(ladder) - 1:
                    raise
                failures.append(f"{attempt} layers: {e}")
                msg = _fallback_note(path.name, attempt, ladder[i + 1], log_since(mark))
                log.warning("%s (%s)", msg, e)
                notes.append(msg)
        self.load_failures = failures
        self._layers = layers
        meta = dict(self.llm.metadata or {})
        self.metadata = meta
        self.n_ctx_train = int(self.llm._model.n_ctx_train()) if hasattr(self.llm._model, "n_ctx_train") else n_ctx
        fname = format_name or detect_format(meta)
        self.format = self._make_format(fname, meta)
        self.default_sampling = self.format.sampling
        n_layer = int(meta.get(f"{meta.get('general.architecture', '')}.block_count", 0) or 0)
        if layers == 0:
            device = "CPU"
        else:   # as llama.cpp counts them: the output layer and the last layers - 1 blocks
            total = n_layer + 1 if n_layer else 0
            device = f"GPU ({min(layers, total or layers)}/{total or '?'} layers)"
        self.info = BackendInfo(name="llama.cpp", model=path.name, device=device,
                                n_ctx=self.llm.n_ctx(), prompt_style=self.format.style,
                                format_name=self.format.name, demo=demo, notes=notes)
        self._vocab = self.llm._model.vocab
        self._n_vocab = self.llm.n_vocab()
        self._cached: list[int] = []          # tokens whose KV entries are in the context
        self._segment_tokens: dict[tuple[str, bool], list[int]] = {}
        self._generated_memo: dict[str, list[int]] = {}
        self._end_tokens: list[int] | None = None
        self._all_pieces: list[bytes] | None = None   # every token's text (_vocab_pieces)
        self._scanned: dict[str, list[int]] = {}     # token ids by what they hold (_vocab_ids)
        self._words: dict[str, list[tuple[int, bool]]] | None = None   # (_word_token_ids)
        self._first_tokens: dict[str, int | None] = {}                  # (_first_letter_token)
        self._markup_tokens: list[int] | None = None
        self._piece_buf = ctypes.create_string_buffer(64)
        self.prompt_tokens_evaluated = 0
        self.generated_tokens = 0

    # -- loading ---------------------------------------------------------------------------

    def _load(self, n_ctx: int, layers: int):
        kwargs: dict[str, Any] = dict(n_ctx=n_ctx, n_gpu_layers=layers, n_threads=self._n_threads,
                      n_threads_batch=self._n_threads, n_batch=self._n_batch, verbose=False,
                      # Sliding-window models (Gemma 3) must keep the full cache, or the
                      # prefix cannot be rewound and every prompt is evaluated from scratch.
                      swa_full=True)
        if layers == 0:
            # The CPU, really: no KV cache and no big-batch matmuls on a GPU either (llama.cpp
            # would otherwise still use one for prompt processing, and run out of its memory).
            kwargs.update(offload_kqv=False, op_offload=False)
        try:
            return self._Llama(str(self.path), **kwargs)
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelError(f"Could not load {self.path.name}: the file may be corrupt, truncated "
                             f"or of an unsupported architecture ({e}).") from e
        except MemoryError as e:
            raise ModelError(f"Not enough memory to load {self.path.name} with a context of "
                             f"{n_ctx} tokens. Try a smaller model or context.") from e

    def ensure_context(self, n_tokens: int) -> None:
        """Reload with a larger context when a job needs one (up to the model's training size)."""
        current = self.llm.n_ctx()
        if n_tokens <= current:
            return
        # Never past the model's training size, nor past max_ctx: GLM GGUFs claim 1M tokens,
        # and a KV cache that size would not fit in memory. Longer books use summaries.
        limit = self._context_limit()
        new = min(limit, ((n_tokens + 4095) // 4096) * 4096)
        if new <= current:
            return
        log.info("growing context from %d to %d tokens", current, new)
        kept = self._kv_snapshot()       # the cache moves to the larger context
        old = self.llm
        old.close()                      # free its memory (GPU memory too) before the reload
        ladder = offload_ladder(self._layers)
        for i, attempt in enumerate(ladder):
            mark = log_mark()
            try:
                self.llm = self._load(new, attempt)
                break
            except ModelError as e:
                if i == len(ladder) - 1:
                    self.llm = self._load(current, self._layers)   # keep working at the old size
                    self._reloaded(kept)
                    raise
                msg = _fallback_note(f"{self.path.name} ({new}-token context)", attempt,
                                     ladder[i + 1], log_since(mark))
                log.warning("%s (%s)", msg, e)
                self.info.notes.append(msg)
        self._layers = attempt
        if attempt == 0:
            self.info.device = "CPU"
        self._reloaded(kept)

    def _reloaded(self, kept: tuple[Any, int, list[int]] | None) -> None:
        """After a reload: the new model's vocabulary, and the KV cache copied back."""
        self._vocab = self.llm._model.vocab
        self._cached = []
        self.info.n_ctx = self.llm.n_ctx()
        if kept is not None:
            self._kv_restore(*kept)

    def _context_limit(self) -> int:
        """The largest context :meth:`ensure_context` may grow to."""
        current = self.llm.n_ctx()
        return min(max(self.n_ctx_train, current), max(self.max_ctx, current))

    def _make_format(self, name: str, meta: dict) -> PromptFormat:
        if name in FORMATS:
            return FORMATS[name]
        if name == "gguf-template":
            template = meta.get("tokenizer.chat_template", "")
            try:
                prefix, suffix, system_open, system_close, turn = _split_chat_template(template, self.llm)
                return PromptFormat("gguf-template", "chat", prefix=prefix, suffix=suffix, add_bos=False,
                                    system_open=system_open, system_close=system_close, turn=turn)
            except Exception as e:  # a template we cannot render: treat as a base model
                log.warning("chat template unusable (%s); using completion style", e)
                return FORMATS["completion"]
        raise ModelError(f"Unknown prompt format {name!r}; choose one of "
                         f"{', '.join(list(FORMATS) + ['gguf-template'])}.")

    # -- tokens ----------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def whole_word(self, word: str) -> bool | None:
        return self.count_tokens(" " + word) == 1

    def _tokens(self, text: str, special: bool) -> list[int]:
        key = (text, special)
        toks = self._segment_tokens.get(key)
        if toks is None:
            toks = self._from_generated(text) if not special else None
            if toks is None:
                toks = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)
            self._remember_tokens(key, toks)
        return toks

    def _remember_tokens(self, key: tuple[str, bool], toks: list[int]) -> None:
        """Keep a piece's tokens for the next prompt (a bounded memo: cleared when full)."""
        if len(self._segment_tokens) > 4096:
            self._segment_tokens.clear()
        self._segment_tokens[key] = toks

    def _from_generated(self, text: str) -> list[int] | None:
        """The ids the model generated for ``text``, also when the engine trimmed it.

        The engine strips leading whitespace and cuts sections back to a sentence end;
        retokenizing that text would give different ids from the ones in the KV cache and
        force a re-evaluation of the whole section. Reuse the generated ids up to the cut.
        """
        exact = self._generated_memo.get(text)
        if exact is not None or not text:
            return exact
        for full, ids in reversed(list(self._generated_memo.items())):
            lead = len(full) - len(full.lstrip())
            if not full[lead:].startswith(text):
                continue
            pieces = [self._piece(t).decode("utf-8", "replace") for t in ids]
            pos, start, out = 0, None, []
            for tok, piece in zip(ids, pieces):
                if start is None:
                    if pos == lead:
                        start = pos
                    elif pos > lead:
                        break          # the stripped whitespace ends inside a token
                if start is not None:
                    if pos - start + len(piece) > len(text):
                        break
                    out.append(tok)
                pos += len(piece)
            if start is None:
                continue
            used = sum(len(self._piece(t).decode("utf-8", "replace")) for t in out)
            rest = text[used:]
            if rest:
                out += self.llm.tokenize(rest.encode("utf-8"), add_bos=False, special=False)
            return out
        return None

    def prompt_tokens(self, prompt: Prompt) -> list[int]:
        out: list[int] = []
        if self.format.add_bos:
            bos = self.llm.token_bos()
            if bos >= 0:
                out.append(bos)
        on_cache = out == self._cached[:len(out)]
        for text, special in self._pieces_of(prompt):
            if not text:
                continue
            toks = self._from_cache(text, len(out)) if on_cache and not special else None
            if toks is None:
                toks = self._tokens(text, special)
            else:
                self._remember_tokens((text, False), toks)
            on_cache = on_cache and self._cached[len(out):len(out) + len(toks)] == toks
            out.extend(toks)
        return out

    def _pieces_of(self, prompt: Prompt) -> list[tuple[str, bool]]:
        """The prompt as (text, is it markup) pieces, in order, tokenized one by one (an
        unchanged piece always gives the same tokens)."""
        fmt = self.format
        out = list(fmt.chat_pieces(prompt.system))
        out += [(seg, False) for seg in prompt.user]
        if fmt.style == "chat" and fmt.suffix:
            out.append((fmt.suffix, True))
        for answer, message in prompt.turns:
            if fmt.turn is None:
                raise BackendError(f"The {fmt.name} prompt format has no conversations.")
            out += [(seg, False) for seg in answer]
            out += [(fmt.turn, True), (message, False), (fmt.suffix, True)]
        return out + [(seg, False) for seg in prompt.answer]

    def _from_cache(self, text: str, at: int) -> list[int] | None:
        """The context's own tokens from position ``at`` on, where they spell ``text`` (or
        its start, the rest tokenized), else None.

        A text the model wrote comes back in later prompts trimmed, cut back to a sentence
        end, or joined to what it wrote after a recovery: tokenized anew, it would not be
        the ids the model generated and the KV cache holds, and everything after the first
        difference would be evaluated again (a whole scene and the asks after it).
        """
        target = text.encode("utf-8")
        pieces = self._vocab_pieces()
        pos, n = 0, 0
        for tok in self._cached[at:]:
            piece = pieces[tok]
            if not piece or not target.startswith(piece, pos):
                break
            pos += len(piece)
            n += 1
            if pos == len(target):
                return self._cached[at:at + n]
        while n and pos < len(target) and 0x80 <= target[pos] < 0xC0:    # (not inside a character)
            n -= 1
            pos -= len(pieces[self._cached[at + n]])
        if not n:
            return None
        return self._cached[at:at + n] + self.llm.tokenize(target[pos:], add_bos=False, special=False)

    def _piece(self, tok: int) -> bytes:
        import llama_cpp as C
        buf = self._piece_buf
        n = C.llama_token_to_piece(self._vocab, tok, buf, len(buf), 0, False)
        if n < 0:
            buf = self._piece_buf = ctypes.create_string_buffer(-n)
            n = C.llama_token_to_piece(self._vocab, tok, buf, len(buf), 0, False)
        return buf.raw[:max(0, n)]

    def _markup_token_ids(self) -> list[int]:
        """Special tokens that would print markup into prose (Gemma's <start_of_image>, <table>,
        [multimodal]...): control or user-defined tokens, except end-of-text and whitespace."""
        if self._markup_tokens is None:
            import llama_cpp as C
            special = C.LLAMA_TOKEN_ATTR_CONTROL | C.LLAMA_TOKEN_ATTR_USER_DEFINED
            end = set(self._end_token_ids())
            ids = []
            for i in range(self._n_vocab):
                if i in end or not (C.llama_vocab_get_attr(self._vocab, i) & special):
                    continue
                piece = self._piece(i)
                if piece.strip() or not piece:
                    ids.append(i)
            self._markup_tokens = ids
        return self._markup_tokens

    def _vocab_pieces(self) -> list[bytes]:
        """Every token's text, read from the model once (a call per token: about a second for
        Gemma's 262k tokens) for the scans below and for matching a text to the context's
        tokens (:meth:`_from_cache`). Every generation scans (for the invisible characters)."""
        if self._all_pieces is None:
            self._all_pieces = [self._piece(i) for i in range(self._n_vocab)]
        return self._all_pieces

    def _vocab_ids(self, key: str, pattern: bytes) -> list[int]:
        """The tokens whose text (bytes) holds a match of ``pattern``, looked up once per
        ``key`` (a compiled pattern: a Python test per token took most of a second more)."""
        ids = self._scanned.get(key)
        if ids is None:
            search = re.compile(pattern, re.DOTALL).search
            ids = self._scanned[key] = [i for i, piece in enumerate(self._vocab_pieces()) if search(piece)]
        return ids

    def _char_token_ids(self, chars: str) -> list[int]:
        """Tokens whose text holds any of ``chars`` (``Sampling.ban_chars``), looked up once."""
        if not chars:
            return []
        key = "".join(sorted(set(chars)))
        return self._vocab_ids("chars:" + key, b"|".join(re.escape(c.encode()) for c in key))

    def _cjk_token_ids(self) -> list[int]:
        """Tokens that hold a Chinese, Japanese or Korean character, or the first byte of one
        (byte-level vocabularies split a character over tokens): UTF-8 lead bytes E3-ED
        (U+3000-U+DFFF: CJK punctuation, kana, Han, Hangul) and the fullwidth forms (EF BC,
        EF BD). English punctuation (dashes, quotes, the ellipsis: E2) is not among them."""
        return self._vocab_ids("cjk", rb"[\xe3-\xed]|\xef[\xbc\xbd]")

    def _script_token_ids(self) -> list[int]:
        """Tokens that hold a letter of another script than Latin, or the first byte of one
        (``Sampling.ban_scripts``): UTF-8 lead bytes CE-DF (U+0380-U+07FF: Greek, Cyrillic,
        Armenian, Hebrew, Arabic…), E0 (U+0800-U+0FFF: the Indic scripts, Thai, Tibetan) and
        E1 80-B7 (U+1000-U+1DFF: Myanmar, Georgian, Ethiopic, Khmer…; not the Latin extensions
        from U+1E00). Latin letters with accents (C3-C9) and combining marks are not among them."""
        return self._vocab_ids("scripts", rb"[\xce-\xe0]|\xe1(?:[\x00-\xb7]|\Z)")

    def _word_token_ids(self) -> dict[str, list[tuple[int, bool]]]:
        """Tokens by the word they start (lower case; see ``Sampling.avoid``): each with
        whether it is glued (starts with a letter, so after a letter it goes on with that
        word). Tokens that start with an apostrophe are none's: they go on with a word."""
        table = self._words
        if table is None:
            table = {}
            first = re.compile(r"((?:[^\w'’]|_)*)([a-z]+(?:['’][a-z]+)*)")   # ("_land" too)
            for i, raw in enumerate(self._vocab_pieces()):
                try:
                    piece = raw.decode("utf-8").lower()
                except UnicodeDecodeError:
                    continue
                m = first.match(piece)
                if m:
                    table.setdefault(m.group(2), []).append((i, not m.group(1)))
            self._words = table
        return table

    def _ban_words(self, ctx: Any, guard: Any) -> None:
        """Make the words ``guard`` bans next impossible (their tokens' logits to -inf): the
        tokens that start such a word, the first token of its own spelling in tokens when no
        one token holds it, and the token that would finish the word the text ends in as one."""
        words, endings = guard.banned(), guard.banned_endings()
        if not words and not endings:
            return
        import llama_cpp as C
        table = self._word_token_ids()
        in_word = guard.ends_in_letter      # (then a glued token goes on with the last word)
        ban: set[int] = set()
        for w in words:
            # (glued ones too: after "the", a banned " edge" would come back as "theedge",
            # as phrases penalised through DRY came back run together: "ofthe")
            toks = table.get(w, ())
            ban.update(tok for tok, _ in toks)
            # no token holds the word: ban the first token of its spelling (" head" of " head"
            # + "aches"); glued to the word the text ends in, always ("the" + "land" + "scape"
            # for a banned " landscape" made "thelandscape")
            spellings = [] if any(not glued for _, glued in toks) else [" " + w, " " + w.capitalize()]
            if in_word or not any(glued for _, glued in toks):
                spellings += [w] if in_word else [w, w.capitalize()]
            for spelt in spellings:
                first = self._first_letter_token(spelt)
                if first is not None:
                    ban.add(first)
        for rest in endings:
            ban.update(tok for tok, glued in table.get(rest, ()) if glued)
        logits = C.llama_get_logits_ith(ctx, -1)
        for tok in ban:
            logits[tok] = -math.inf

    def _first_letter_token(self, text: str) -> int | None:
        """The first token of ``text`` if it holds a letter (looked up once per text: the
        phrase ban asks before each token)."""
        if text not in self._first_tokens:
            first = self.llm.tokenize(text.encode(), add_bos=False, special=False)[:1]
            ok = first and any(ch.isalpha() for ch in self._piece(first[0]).decode("utf-8", "replace"))
            self._first_tokens[text] = first[0] if ok else None
        return self._first_tokens[text]

    def _heading_token_ids(self) -> list[int]:
        """Tokens that contain '#': in completion style they start the next section's heading."""
        return self._vocab_ids("heading", rb"#")

    def _end_token_ids(self) -> list[int]:
        """Every token that ends a text: end-of-generation tokens and the format's stops."""
        if self._end_tokens is None:
            import llama_cpp
            ids = {i for i in range(self._n_vocab) if llama_cpp.llama_vocab_is_eog(self._vocab, i)}
            for stop in self.format.stops:
                toks = self.llm.tokenize(stop.encode(), add_bos=False, special=True)
                if len(toks) == 1:
                    ids.add(toks[0])
            self._end_tokens = sorted(ids)
        return self._end_tokens

    # -- sampling --------------------------------------------------------------------------

    def _sampler_chain(self, s: Sampling, ban: list[int], grammar: str | None = None):
        import llama_cpp as C
        chain = C.llama_sampler_chain_init(C.llama_sampler_chain_default_params())
        if grammar:
            # First in the chain: the grammar masks the whole vocabulary, so top-k keeps only
            # tokens the grammar allows (after it, top-k could leave none).
            try:
                C.llama_sampler_chain_add(chain, self._grammar_sampler(grammar))
            except BackendError:
                C.llama_sampler_free(chain)
                raise
        if ban:
            biases = (C.llama_logit_bias * len(ban))()
            for i, tok in enumerate(ban):
                biases[i].token = tok  # type: ignore[assignment]  # ctypes converts the int
                biases[i].bias = -float("inf")
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_logit_bias(self._n_vocab, len(ban), biases))
        if s.temperature > 0:
            # top-k first: the later stages then scan 50 candidates, not the whole vocabulary
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_top_k(s.top_k))
        if s.repeat_penalty and s.repeat_penalty != 1.0:
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_penalties(
                self._n_vocab, s.repeat_last_n, s.repeat_penalty, 0.0, 0.0))
        if s.dry_multiplier > 0:
            breakers = [*(b.encode() for b in s.dry_seq_breakers if b),
                        *(w.encode()[:40] for w in s.dry_breakers if w.strip())]
            arr = (ctypes.c_char_p * len(breakers))(*breakers)
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_dry(
                self._vocab, s.dry_multiplier, s.dry_base, s.dry_allowed_length,
                max(s.dry_last_n, s.repeat_last_n), arr, len(breakers)))
        if s.temperature <= 0:
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_greedy())
            return chain
        C.llama_sampler_chain_add(chain, C.llama_sampler_init_top_p(s.top_p, 1))
        C.llama_sampler_chain_add(chain, C.llama_sampler_init_min_p(s.min_p, 1))
        C.llama_sampler_chain_add(chain, C.llama_sampler_init_temp(s.temperature))
        seed = s.seed if s.seed is not None else int.from_bytes(os.urandom(4), "little")
        C.llama_sampler_chain_add(chain, C.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _samplers(self, s: Sampling, prompt: Prompt, tokens: list[int]) -> _Samplers:
        """The sampler chains of one generate call, their repetition history seeded."""
        import llama_cpp as C
        end_ids = self._end_token_ids()
        # While the text is too short a base model must not open the next section either.
        never = self._markup_token_ids() + self._char_token_ids(s.ban_chars + INVISIBLE) \
            + (self._cjk_token_ids() if s.ban_cjk else []) + (self._script_token_ids() if s.ban_scripts else [])
        # (chat prompts lay the text out under headings too: see engine.prompts)
        ban_ids = end_ids + never + self._heading_token_ids()
        samplers = _Samplers(set(end_ids), self._sampler_chain(s, never), self._sampler_chain(s, ban_ids))
        # A grammar (plans) is checked on the sampled token alone; it is applied to the whole
        # vocabulary (about 0.8 s a token with Gemma's 262k tokens on a busy CPU) only when
        # that token would break it. (llama.cpp's own samplers do the same.)
        if prompt.grammar:
            samplers.check = self._grammar_sampler(prompt.grammar)
            samplers.full = self._sampler_chain(s, never, prompt.grammar)
            return samplers
        # Seed the repetition history with the tail of the prompt (the text written so far),
        # so repetition control spans calls and sections. (Not with a grammar: it would have
        # to accept the prompt's tokens, which are not in its language.)
        for tok in tokens[-max(s.repeat_last_n, s.dry_last_n):]:
            C.llama_sampler_accept(samplers.free_chain, tok)
            C.llama_sampler_accept(samplers.banned_chain, tok)
        return samplers

    def _grammar_sampler(self, grammar: str):
        import llama_cpp as C
        g = C.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
        if not g:
            raise BackendError("llama.cpp could not parse the plan grammar.")
        return g

    @staticmethod
    def _grammar_allows(grammar, tok: int) -> bool:
        """Would ``grammar`` (a grammar sampler) accept ``tok`` next? Checked on one candidate."""
        import llama_cpp as C
        data = (C.llama_token_data * 1)()
        data[0].id, data[0].logit, data[0].p = tok, 0.0, 0.0  # type: ignore[assignment]  # ctypes ints
        arr = C.llama_token_data_array(data, 1, -1, False)
        C.llama_sampler_apply(grammar, ctypes.byref(arr))
        return data[0].logit != float("-inf")

    # -- generation ------------------------------------------------------------------------

    def _prefill(self, tokens: list[int], cancel: CancelToken | None) -> int:
        """Make the context hold ``tokens``, computing only what the cache lacks."""
        n_keep = 0
        for a, b in zip(self._cached, tokens):
            if a != b:
                break
            n_keep += 1
        if n_keep == len(tokens):
            n_keep -= 1              # the last token must be evaluated to get its logits
        elif n_keep < len(self._cached) and log.isEnabledFor(logging.DEBUG):
            # where a prompt parts from what the context holds (all after it is evaluated)
            def show(ts: list[int]) -> str:
                return b"".join(self._piece(t) for t in ts).decode("utf-8", "replace")
            log.debug("prompt parts from the cache at token %d of %d (%d cached): %r | cached %r | now %r",
                      n_keep, len(tokens), len(self._cached), show(tokens[max(0, n_keep - 12):n_keep]),
                      show(self._cached[n_keep:n_keep + 12]), show(tokens[n_keep:n_keep + 12]))
        if not self.llm._ctx.kv_cache_seq_rm(-1, n_keep, -1):
            log.warning("KV cache could not be rewound; evaluating the prompt from scratch")
            self.llm._ctx.kv_cache_clear()
            n_keep = 0
        self.llm.n_tokens = n_keep
        self._cached = tokens[:n_keep]
        todo = tokens[n_keep:]
        for i in range(0, len(todo), self._n_batch):
            if cancel is not None and cancel.cancelled:
                break
            chunk = todo[i:i + self._n_batch]
            self._eval(chunk)
        return len(self._cached) - n_keep

    def _eval(self, toks: list[int]) -> None:
        try:
            self.llm.eval(toks)
        except Exception as e:
            self._cached = self._cached[: self.llm.n_tokens]
            raise BackendError(f"llama.cpp failed to evaluate the prompt: {e}") from e
        self._cached.extend(toks)

    def generate(self, prompt: Prompt, *, max_tokens: int, sampling: Sampling | None = None,
                 on_piece: OnPiece | None = None, cancel: CancelToken | None = None,
                 allow_end: bool = True) -> Generation:
        s = sampling or self.default_sampling
        tokens = self.prompt_tokens(prompt)
        n_ctx = self.llm.n_ctx()
        if len(tokens) >= n_ctx - 8:
            raise BackendError(f"The prompt ({len(tokens)} tokens) does not fit the context "
                               f"window ({n_ctx} tokens).")
        max_tokens = max(1, min(max_tokens, n_ctx - len(tokens) - 1))
        stream = PieceStream(on_piece, cancel, allow_end)
        evaluated = self._prefill(tokens, cancel)
        self.prompt_tokens_evaluated += evaluated
        if stream.cancelled():
            return stream.result(prompt_tokens=len(tokens), evaluated=evaluated, generated=0)
        samplers = self._samplers(s, prompt, tokens)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        out_tokens: list[int] = []
        ctx = self.llm._ctx.ctx
        guard = s.avoid.guard() if s.avoid is not None else None
        try:
            while len(out_tokens) < max_tokens and not stream.cancelled():
                if guard is not None:
                    self._ban_words(ctx, guard)
                tok = samplers.sample(ctx, stream.steer.allow_end)
                if tok in samplers.ends:
                    stream.finish = "end"
                    break
                out_tokens.append(tok)
                self._eval([tok])
                piece = decoder.decode(self._piece(tok))
                if guard is not None:
                    guard.feed(piece)
                if stream.feed(piece):
                    break
        finally:
            samplers.free()
        tail = decoder.decode(b"", final=True)
        if tail:
            stream.pieces.append(stream.keep(tail))
        self.generated_tokens += len(out_tokens)
        # Remember the exact ids, so that passing this text back reuses the cache token-exactly.
        # (not when a character was taken out of the text: its ids would no longer spell it)
        if len(self._generated_memo) > 64:
            self._generated_memo.clear()
        if not stream.dropped:
            self._generated_memo[stream.text] = list(out_tokens)
        return stream.result(prompt_tokens=len(tokens), evaluated=evaluated, generated=len(out_tokens))

    # -- the prompt cache on disk (see kvfile) ---------------------------------------------

    def _cache_identity(self) -> dict[str, Any]:
        """What a cache file must have been made with to be used here."""
        import hashlib

        import llama_cpp
        st = self.path.stat()
        p = self.llm.context_params
        # (what lays a prompt out in tokens; not its sampling defaults, which a cache does not
        # depend on: a new Sampling field made every cache "made with another format")
        f = self.format
        fmt = hashlib.sha256(repr((f.name, f.style, f.prefix, f.suffix, f.add_bos, f.system_open, f.system_close,
                                   f.turn)).encode("utf-8")).hexdigest()[:16]
        return {"model": {"path": str(self.path.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns},
                "n_ctx": self.llm.n_ctx(),
                "kv": {"type_k": int(p.type_k), "type_v": int(p.type_v),
                       "flash_attn": int(getattr(p, "flash_attn_type", getattr(p, "flash_attn", 0))),
                       "swa_full": bool(p.swa_full)},
                "format": {"name": self.format.name, "sha": fmt},
                "llama_cpp": llama_cpp.__version__}

    def _valid_cached(self) -> list[int]:
        """The tokens whose KV entries are valid, the cache cut to exactly them."""
        n = min(len(self._cached), self.llm.n_tokens)
        self._cached = self._cached[:n]
        self.llm._ctx.kv_cache_seq_rm(-1, n, -1)     # (a failed batch may have left entries past n)
        return self._cached

    def forget_cache(self) -> None:
        self.llm._ctx.kv_cache_clear()
        self._kv_set([])

    def _kv_set(self, tokens: list[int]) -> None:
        """The context now holds ``tokens`` (restored): tell the prefix matching and llama-cpp-python."""
        self._cached = list(tokens)
        self.llm.n_tokens = len(tokens)
        self.llm.input_ids[: len(tokens)] = tokens

    # The context's whole state, not one sequence's (llama_state_seq_*): for sliding-window
    # models (Gemma 3) a sequence's state leaves out the KV entries that have slid out of the
    # window, and a prompt that parts from the cache earlier than the window's length would
    # then be evaluated without them (measured on the demo model: logits off by up to 11
    # after such a rewind, against 0.0 with the whole state).

    def _kv_snapshot(self) -> tuple[Any, int, list[int]] | None:
        """The context's state in memory (buffer, size, tokens), or None when the cache is empty."""
        import llama_cpp as C
        tokens = list(self._valid_cached())
        if not tokens:
            return None
        ctx = self.llm._ctx.ctx
        size = C.llama_state_get_size(ctx)
        buf = (ctypes.c_uint8 * size)()
        if C.llama_state_get_data(ctx, buf, size) != size:
            log.warning("could not copy the KV cache; the prompt is evaluated again after the reload")
            return None
        return buf, size, tokens

    def _kv_restore(self, buf: Any, size: int, tokens: list[int]) -> None:
        import llama_cpp as C
        if C.llama_state_set_data(self.llm._ctx.ctx, buf, size) == 0:
            log.warning("could not restore the KV cache after the reload; the prompt is evaluated again")
            self.llm._ctx.kv_cache_clear()
            return
        self._kv_set(tokens)

    def save_cache(self, path: str | os.PathLike) -> bool:
        """Write the KV cache (the tokens the model has read, with their keys and values) to
        ``path`` and its identity to ``path.json`` (see :mod:`.kvfile`). It is the context's
        whole state (``llama_state_save_file``: the KV cache and the last token's logits,
        about 1 MB; not ``Llama.save_state``, which copies a logits array per context slot).
        Also written: the ids of recent generations, so that text passed back after a reload
        still matches the cache token for token (see :meth:`_from_generated`)."""
        from . import kvfile
        if self.llm is None:
            return False
        try:
            import llama_cpp as C
            tokens = list(self._valid_cached())
            if not tokens:
                return False
            ctx = self.llm._ctx.ctx

            def write(tmp: Path) -> bool:
                arr = (C.llama_token * len(tokens))(*tokens)
                return bool(C.llama_state_save_file(ctx, os.fsencode(tmp), arr, len(tokens)))

            generated = [[text, ids] for text, ids in self._generated_memo.items()]
            return kvfile.save(path, self._cache_identity(), write, tokens=len(tokens),
                               extra={"generated": generated})
        except Exception as e:  # noqa: BLE001 - the cache is an optimisation
            log.warning("prompt cache not saved to %s: %s", path, e)
            return False

    def load_cache(self, path: str | os.PathLike) -> int:
        """Restore a cache written by :meth:`save_cache`; returns the tokens restored (0: none,
        refused, or failed, with a log line). A cache made at a larger context than this one
        is loaded after growing the context to it, when this backend may grow that far (the
        job that made it needed it); one made at a smaller context is refused."""
        from . import kvfile
        if self.llm is None:
            return 0
        touched = False
        try:
            import llama_cpp as C
            meta = kvfile.peek(path)
            saved_ctx = meta["identity"].get("n_ctx") if meta else None
            if isinstance(saved_ctx, int) and self.llm.n_ctx() < saved_ctx <= self._context_limit():
                self.ensure_context(saved_ctx)

            def read(p: Path) -> list[int] | None:
                nonlocal touched
                touched = True
                cap = self.llm.n_ctx()
                out = (C.llama_token * cap)()
                n = ctypes.c_size_t(0)
                self.llm._ctx.kv_cache_clear()
                self._kv_set([])
                if not C.llama_state_load_file(self.llm._ctx.ctx, os.fsencode(p), out, cap, ctypes.byref(n)):
                    return None
                return list(out[: n.value])

            got = kvfile.load(path, self._cache_identity(), read)
        except Exception as e:  # noqa: BLE001 - never stops a job
            log.warning("prompt cache %s not loaded: %s", path, e)
            got = None
        if got is None:
            if touched:                   # whatever was half restored is not trusted
                self.llm._ctx.kv_cache_clear()
                self._kv_set([])
            return 0
        tokens, meta = got
        self._kv_set(tokens)
        self._restore_generated(meta.get("generated"))
        log.info("prompt cache %s: %d tokens restored", path, len(tokens))
        return len(tokens)

    def _restore_generated(self, entries: Any) -> None:
        """Put back the saved generations' ids, each only if its ids still spell its text."""
        if not isinstance(entries, list):
            return
        for entry in entries[-64:]:
            try:
                text, ids = entry
                if not (isinstance(text, str) and all(isinstance(t, int) and 0 <= t < self._n_vocab for t in ids)):
                    continue
            except (TypeError, ValueError):
                continue
            if b"".join(self._piece(t) for t in ids).decode("utf-8", "replace") == text:
                self._generated_memo[text] = list(ids)

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            try:
                llm.close()
            except Exception:  # pragma: no cover
                pass
            self.llm = None


def _split_chat_template(template: str, llm) -> tuple[str, str, str | None, str, str | None]:
    """Render a GGUF chat template around markers: the text before and after a query, the
    text around a system message (None when the template has no system role) and the text
    between an answer and the next query (None when the template renders no conversation)."""
    import jinja2.sandbox
    marker = "\x00LONGHAND_QUERY\x00"
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def _raise(msg):
        raise ValueError(msg)

    env.globals["raise_exception"] = _raise
    bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
    eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
    compiled = env.from_string(template)
    rendered = compiled.render(
        messages=[{"role": "user", "content": marker}], add_generation_prompt=True,
        bos_token=bos, eos_token=eos)
    if marker not in rendered:
        raise ValueError("template does not echo the user message")
    prefix, suffix = rendered.split(marker, 1)
    system_open: str | None = None
    system_close = ""
    sys_marker = "\x00LONGHAND_SYSTEM\x00"
    try:
        both = compiled.render(messages=[{"role": "system", "content": sys_marker},
                                         {"role": "user", "content": marker}],
                               add_generation_prompt=True, bos_token=bos, eos_token=eos)
    except Exception:  # noqa: BLE001 - a template that refuses a system role (Gemma's)
        both = ""
    if sys_marker in both and marker in both and both.endswith(marker + suffix):
        system_open, rest = both.split(sys_marker, 1)
        system_close = rest[: len(rest) - len(marker + suffix)]
    turn: str | None = None
    answer, again = "\x00LONGHAND_ANSWER\x00", "\x00LONGHAND_AGAIN\x00"
    try:
        talk = compiled.render(messages=[{"role": "user", "content": marker},
                                         {"role": "assistant", "content": answer},
                                         {"role": "user", "content": again}],
                               add_generation_prompt=True, bos_token=bos, eos_token=eos)
    except Exception:  # noqa: BLE001 - a template that takes one message only
        talk = ""
    # (only a template that renders the conversation as our segments join it: the first
    # query exactly as alone, the answer right after its suffix, the last query's suffix)
    if talk.startswith(prefix + marker + suffix + answer) and talk.endswith(again + suffix):
        turn = talk[len(prefix + marker + suffix + answer): len(talk) - len(again + suffix)]
    return prefix, suffix, system_open, system_close, turn
