"""Core: the OpenAI-compatible backend (llama.cpp's llama-server, llama-cpp-python's server, vLLM).

It speaks the ``openai`` client library to a server given by a base URL, and behaves for the
engine like the in-process backend:

* **Prompts.** With a known prompt format (LongWriter's, or ``completion`` for base models)
  the prompt is rendered to text exactly as ``LlamaCppBackend`` lays out its tokens
  (``prefix + user + suffix + answer``) and sent to ``/v1/completions``, so the answer so
  far can be continued token-exactly and the server's prefix cache is reused. The ``chat``
  format instead uses ``/v1/chat/completions`` and the server's own chat template.
* **Tokens.** ``count_tokens`` asks the server's tokenizer (``/extras/tokenize`` of
  llama-cpp-python, ``/tokenize`` of llama-server) and falls back to an estimate.
* **Steering.** A server cannot be steered mid-stream. When the model ends the text while
  the engine says it is still too short, generation goes on in a new request that appends
  what was written so far and bans the end-of-text tokens with ``logit_bias`` (when the
  server has a tokenizer endpoint to find them); otherwise the engine's continuation loop
  re-prompts with the partial section. ``stop`` closes the stream.
* **Failures.** A server that is down, too slow or answers something that is not the
  OpenAI API raises :class:`BackendError` with a message saying which.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import BackendError, CancelToken
from .base import DRY_SEQ_BREAKERS, Backend, BackendInfo, Generation, OnPiece, Prompt, Sampling
from .formats import FORMATS, PromptFormat, detect_format
from .streaming import PieceStream

log = logging.getLogger(__name__)

# The server's own chat template, through /v1/chat/completions.
@dataclass
class _Count:
    """Tokens generated over a call's rounds: the server's usage figures when it reports
    them, else one a chunk."""

    chunks: int = 0
    usage: int = 0
    known: bool = False

    @property
    def generated(self) -> int:
        return self.usage if self.known else self.chunks


@dataclass
class _Round:
    """What one streamed request reported."""

    finish: str | None = None           # the server's finish reason
    prompt: int | None = None           # prompt tokens (usage)
    evaluated: int | None = None        # prompt tokens computed (llama-server's timings)
    got_chunk: bool = False


# (the server applies the model's template to /v1/chat/completions messages; ``turn`` only
# stands between an answer and the next message when the prompt is rendered for counting)
CHAT_FORMAT = PromptFormat("chat", "chat", add_bos=False, sampling=Sampling(temperature=0.5, top_p=0.9),
                           turn="\n\n")

# Texts of end-of-text / end-of-turn tokens in common model families; those the server's
# tokenizer maps to a single token are banned while the engine says the text is too short.
_END_MARKERS = ("<eos>", "</s>", "<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "<|im_end|>",
                "<end_of_turn>", "<|end|>", "<|user|>", "<|observation|>")

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def estimate_tokens(text: str) -> int:
    """Rough token count when the server has no tokenizer endpoint (errs on the high side)."""
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 3.2)


class OpenAIBackend(Backend):
    """Generates on a remote OpenAI-compatible server."""

    def __init__(self, base_url: str, model: str = "", api_key: str | None = None,
                 format_name: str | None = None, n_ctx: int = 8192, *, timeout: float = 120.0,
                 max_retries: int = 1) -> None:
        try:
            import openai
            httpx = _httpx()
        except ImportError as e:  # pragma: no cover - install problem
            raise BackendError(f"The openai client library is not installed: {e}") from e
        self._openai = openai
        self.base_url = _normalise_url(base_url)
        self._root = re.sub(r"/v1$", "", self.base_url)
        self.timeout = float(timeout)
        self.client = openai.OpenAI(
            base_url=self.base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "none",
            timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
            max_retries=max_retries)
        self._http = httpx.Client(timeout=httpx.Timeout(min(30.0, self.timeout)),
                                  headers={"Authorization": f"Bearer {self.client.api_key}"})
        notes: list[str] = []

        # Which models does the server have? This is also the "is it up at all" check.
        models = self._call(lambda: self.client.models.list(), "list the models")
        data = getattr(models, "data", None)
        if not isinstance(data, list):
            raise BackendError(f"The server at {self.base_url} did not answer like an "
                               "OpenAI-compatible API (no model list at /models).")
        ids = [str(getattr(m, "id", "")) for m in data if getattr(m, "id", None)]
        if not model:
            if not ids:
                raise BackendError(f"The server at {self.base_url} lists no model; pass the "
                                   "model name (--remote-model).")
            model = ids[0]
        elif ids and model not in ids:
            notes.append(f"The server lists {', '.join(ids[:5])}, not {model!r}; using it anyway.")
        self.model = model

        props = self._get_json(self._root + "/props") or {}
        server_ctx = _server_context(props, data, model)
        if server_ctx:
            if n_ctx and server_ctx < n_ctx:
                notes.append(f"The server's context is {server_ctx} tokens.")
            n_ctx = server_ctx
        self._tokenize_url, self._bos_count = self._find_tokenizer()
        if self._tokenize_url is None:
            notes.append("The server has no tokenizer endpoint; token counts are estimated.")

        if format_name:
            if format_name == "chat":
                self.format = CHAT_FORMAT
            elif format_name in FORMATS:
                self.format = FORMATS[format_name]
            else:
                raise BackendError(f"Unknown prompt format {format_name!r} for a remote model; "
                                   f"choose one of {', '.join(list(FORMATS) + ['chat'])}.")
        else:
            detected = detect_format({"general.name": model,
                                      "tokenizer.chat_template": str(props.get("chat_template") or "")})
            self.format = CHAT_FORMAT if detected == "gguf-template" else FORMATS[detected]
        self.default_sampling = self.format.sampling
        self.info = BackendInfo(name="openai", model=model, device="remote", n_ctx=int(n_ctx),
                                prompt_style=self.format.style, format_name=self.format.name,
                                notes=notes)
        self._counts: dict[str, int] = {}
        self._end_ids: list[int] | None = None
        self.prompt_tokens_evaluated = 0
        self.generated_tokens = 0

    # -- server helpers --------------------------------------------------------------------

    def _call(self, fn, what: str):
        """Run one client call, turning the library's errors into clear BackendErrors."""
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - every failure becomes a user-facing message
            raise self._error(e, what) from e

    def _error(self, e: Exception, what: str) -> BackendError:
        o = self._openai
        url = self.base_url
        if isinstance(e, BackendError):
            return e
        if isinstance(e, o.APITimeoutError):
            return BackendError(f"The server at {url} did not answer within {self.timeout:g} s "
                                f"(while trying to {what}). It may be overloaded; try again, the "
                                "job resumes where it stopped.")
        if isinstance(e, o.APIConnectionError):
            cause = e.__cause__ or e.__context__
            return BackendError(f"Cannot reach the server at {url} (while trying to {what}): "
                                f"{cause or e}. Is it running, and is the base URL right?")
        if isinstance(e, o.AuthenticationError) or isinstance(e, o.PermissionDeniedError):
            return BackendError(f"The server at {url} rejected the API key ({_status_text(e)}).")
        if isinstance(e, o.NotFoundError):
            return BackendError(f"The server at {url} has no such endpoint or model while trying to "
                                f"{what} ({_status_text(e)}). Check the base URL (usually ending "
                                "in /v1) and the model name.")
        if isinstance(e, o.APIStatusError):
            return BackendError(f"The server at {url} refused to {what}: {_status_text(e)}")
        if isinstance(e, o.APIResponseValidationError) or isinstance(e, ValueError):
            return BackendError(f"The server at {url} sent a response that is not the OpenAI API "
                                f"(while trying to {what}): {str(e)[:200]}")
        if isinstance(e, _httpx().HTTPError):
            return BackendError(f"The connection to {url} failed while trying to {what}: {e}. "
                                "The job can be resumed.")
        # anything else comes from parsing an answer the client library did not expect
        return BackendError(f"The server at {url} answered in a way that is not the OpenAI API "
                            f"(while trying to {what}): {type(e).__name__}: {str(e)[:200]}")

    def _get_json(self, url: str):
        try:
            r = self._http.get(url)
            return r.json() if r.status_code == 200 else None
        except Exception:  # noqa: BLE001 - optional endpoint
            return None

    def _post_tokenize(self, url: str, text: str) -> list[int] | None:
        if url.endswith("/extras/tokenize"):            # llama-cpp-python
            body: dict[str, Any] = {"input": text}
        else:                                           # llama-server ("content"), vLLM ("prompt")
            body = {"content": text, "add_special": False, "parse_special": True,
                    "prompt": text, "model": self.model, "add_special_tokens": False}
        try:
            r = self._http.post(url, json=body)
        except Exception as e:  # noqa: BLE001
            log.debug("tokenize at %s failed: %s", url, e)
            return None
        if r.status_code != 200:
            return None
        try:
            toks = r.json().get("tokens")
        except Exception:  # noqa: BLE001
            return None
        if not isinstance(toks, list):
            return None
        # llama-server can answer with pieces: [{"id": 1, "piece": "..."}]
        return [t["id"] if isinstance(t, dict) else int(t) for t in toks]

    def _find_tokenizer(self) -> tuple[str | None, int]:
        for url in (self._root + "/extras/tokenize", self._root + "/tokenize"):
            empty = self._post_tokenize(url, "")
            if empty is not None:
                return url, len(empty)      # the BOS a tokenizer may add to every text
        return None, 0

    def _tokenize(self, text: str) -> list[int] | None:
        if self._tokenize_url is None:
            return None
        toks = self._post_tokenize(self._tokenize_url, text)
        return toks[self._bos_count:] if toks is not None else None

    def end_token_ids(self) -> list[int]:
        """Token ids that end a text on this server's model (empty when it cannot tell)."""
        if self._end_ids is None:
            ids: set[int] = set()
            if self._tokenize_url is not None:
                for marker in _END_MARKERS + tuple(self.format.stops):
                    toks = self._tokenize(marker)
                    if toks is not None and len(toks) == 1:
                        ids.add(toks[0])
            self._end_ids = sorted(ids)
        return self._end_ids

    # -- Backend ---------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        n = self._counts.get(text)
        if n is None:
            toks = self._tokenize(text)
            n = len(toks) if toks is not None else estimate_tokens(text)
            if len(self._counts) > 512:
                self._counts.clear()
            self._counts[text] = n
        return n

    def render(self, prompt: Prompt) -> str:
        """The prompt as the text a completion endpoint gets (the server adds BOS itself)."""
        fmt = self.format
        user = "".join(prompt.user)
        if fmt.style == "chat":
            user = fmt.render_head(prompt.system) + user + fmt.suffix
        if prompt.turns and fmt.turn is None:
            raise BackendError(f"The {fmt.name} prompt format has no conversations.")
        for answer, message in prompt.turns:
            user += "".join(answer) + (fmt.turn or "") + message + fmt.suffix
        return user + "".join(prompt.answer)

    def _params(self, s: Sampling, max_tokens: int, ban: list[int]) -> dict:
        params: dict = dict(model=self.model, max_tokens=max_tokens, temperature=s.temperature,
                            top_p=s.top_p, stream=True)
        if s.seed is not None:
            params["seed"] = s.seed
        if self.format.stops:
            params["stop"] = list(self.format.stops)[:4]
        if ban:
            params["logit_bias"] = {str(t): -100 for t in ban}
        # Samplers beyond the OpenAI API, understood by llama.cpp's llama-server (others ignore
        # them). DRY, the engine's guard against retelling earlier sections, needs
        # llama-server: llama-cpp-python's own server has no DRY sampler and applies its
        # repeat penalty to a fixed window, so over it the health check's recoveries are the
        # only guard (tests/integration/test_engine_backends.py shows the difference).
        params["extra_body"] = {
            "top_k": s.top_k, "min_p": s.min_p, "repeat_penalty": s.repeat_penalty,
            "repeat_last_n": s.repeat_last_n, "dry_multiplier": s.dry_multiplier,
            "dry_base": s.dry_base, "dry_allowed_length": s.dry_allowed_length,
            "dry_penalty_last_n": s.dry_last_n, "cache_prompt": True}
        if s.dry_breakers or tuple(s.dry_seq_breakers) != DRY_SEQ_BREAKERS:
            params["extra_body"]["dry_sequence_breakers"] = [*s.dry_seq_breakers, *s.dry_breakers]
        return params

    def _open_stream(self, prompt: Prompt, extra: str, params: dict):
        if self.format is CHAT_FORMAT:
            messages: list[Any] = [{"role": "system", "content": prompt.system}] if prompt.system else []
            messages.append({"role": "user", "content": "".join(prompt.user)})
            for said, message in prompt.turns:
                messages += [{"role": "assistant", "content": "".join(said)}, {"role": "user", "content": message}]
            answer = "".join(prompt.answer) + extra
            if answer:
                # llama-server continues a final assistant message (prefill)
                messages.append({"role": "assistant", "content": answer})
            return self.client.chat.completions.create(messages=messages, **params)
        return self.client.completions.create(prompt=self.render(prompt) + extra, **params)

    def generate(self, prompt: Prompt, *, max_tokens: int, sampling: Sampling | None = None,
                 on_piece: OnPiece | None = None, cancel: CancelToken | None = None,
                 allow_end: bool = True) -> Generation:
        s = sampling or self.default_sampling
        n_prompt = self.count_tokens(self.render(prompt)) + self._bos_count
        n_ctx = self.info.n_ctx
        if n_prompt >= n_ctx - 8:
            raise BackendError(f"The prompt ({n_prompt} tokens) does not fit the context window "
                               f"({n_ctx} tokens).")
        max_tokens = max(1, min(max_tokens, n_ctx - n_prompt - 1))
        out = PieceStream(on_piece, cancel, allow_end)
        count = _Count()
        prompt_tokens = evaluated = 0
        ban: list[int] = []
        for n in range(4):
            if out.cancelled():
                break
            left = max_tokens - count.generated
            if left <= 0:
                out.finish = "length"
                break
            rnd = self._stream_round(prompt, out, self._params(s, left, ban), count, max_tokens)
            sent, computed = self._round_tokens(rnd, n_prompt, out, later=n > 0)
            # every round sends the prompt again (with the text so far): both sums count them all,
            # so evaluated <= prompt_tokens holds (a server's prefix cache makes it smaller)
            prompt_tokens += sent
            evaluated += computed
            ban = self._ban_for_next_round(out, rnd, ban, at_length=count.chunks >= max_tokens)
            if not ban:
                break
        self.generated_tokens += count.generated
        self.prompt_tokens_evaluated += evaluated
        return out.result(prompt_tokens=prompt_tokens or n_prompt, evaluated=evaluated, generated=count.generated)

    def _stream_round(self, prompt: Prompt, out: PieceStream, params: dict, count: _Count,
                      max_tokens: int) -> _Round:
        """One request: stream its chunks into ``out`` until it ends, the engine stops it,
        the token budget runs out or the job is cancelled."""
        if prompt.grammar:
            # llama.cpp's server constrains the answer with a GBNF ``grammar`` (plans)
            params["extra_body"]["grammar"] = prompt.grammar
        stream = self._call(lambda: self._open_stream(prompt, out.text, params), "start generating")
        rnd = _Round()
        try:
            for chunk in stream:
                rnd.got_chunk = True
                if out.cancelled():
                    break
                piece = self._take_chunk(chunk, rnd, count)
                if not piece:
                    continue
                count.chunks += 1
                if out.feed(piece):
                    break
                if count.chunks >= max_tokens and not count.known:
                    out.finish = "length"
                    break
        except BackendError:
            raise
        except Exception as e:  # noqa: BLE001
            raise self._error(e, "stream the text") from e
        finally:
            try:
                stream.close()
            except Exception:  # noqa: BLE001
                pass
        if not rnd.got_chunk:
            raise BackendError(f"The server at {self.base_url} answered without streaming any "
                               "completion (is it an OpenAI-compatible API?).")
        return rnd

    def _take_chunk(self, chunk, rnd: _Round, count: _Count) -> str:
        """Read one streamed chunk: the token usage and prompt timings it reports, the server's
        finish reason; returns its text."""
        usage = getattr(chunk, "usage", None)
        if usage is not None and getattr(usage, "completion_tokens", None) is not None:
            count.known = True
            count.usage += int(usage.completion_tokens)
            rnd.prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        timings = (getattr(chunk, "model_extra", None) or {}).get("timings")
        if isinstance(timings, dict) and "prompt_n" in timings:
            rnd.evaluated = int(timings["prompt_n"])
        choices = getattr(chunk, "choices", None)
        if choices is None:
            raise BackendError(f"The server at {self.base_url} streamed something that "
                               "is not an OpenAI completion.")
        if not choices:
            return ""
        choice = choices[0]
        if getattr(choice, "finish_reason", None):
            rnd.finish = choice.finish_reason
        return _chunk_text(choice)

    def _round_tokens(self, rnd: _Round, n_prompt: int, out: PieceStream, *, later: bool) -> tuple[int, int]:
        """Prompt tokens a round sent and computed: the server's figures, else counted (a
        later round sends the text so far again)."""
        sent = rnd.prompt or n_prompt + (self.count_tokens(out.text) if later else 0)
        return sent, rnd.evaluated if rnd.evaluated is not None else sent

    def _ban_for_next_round(self, out: PieceStream, rnd: _Round, ban: list[int], *, at_length: bool) -> list[int]:
        """The end-of-text tokens to ban in one more round, or [] when the stream is over.

        A server cannot be steered mid-stream: when the model ended the text while the engine
        does not allow it yet, ask again with the text so far and end-of-text banned (once).
        """
        if out.finish in ("stop", "cancelled") or (out.finish == "length" and at_length):
            return []
        if rnd.finish == "length":
            out.finish = "length"
            return []
        # The model ended the text (or the stream just ended).
        out.finish = "end"
        if out.steer.allow_end or self.format is CHAT_FORMAT or ban:
            return []
        ban = self.end_token_ids()
        if ban:          # else: cannot ban, the engine's continuation loop takes over
            log.debug("model ended early; continuing with end-of-text banned")
        return ban

    def close(self) -> None:
        for c in (getattr(self, "client", None), getattr(self, "_http", None)):
            try:
                if c is not None:
                    c.close()
            except Exception:  # noqa: BLE001  # pragma: no cover
                pass


def _httpx():
    """The HTTP library under the openai client: httpx (openai 1.x) or httpx2 (later)."""
    try:
        import httpx2
        return httpx2
    except ImportError:
        import httpx
        return httpx


def _chunk_text(choice) -> str:
    text = getattr(choice, "text", None)
    if text is None:
        delta = getattr(choice, "delta", None)
        text = getattr(delta, "content", None) if delta is not None else None
    return text or ""


def _normalise_url(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BackendError(f"Not a server URL: {url!r} (expected e.g. http://127.0.0.1:8080/v1).")
    if parts.path in ("", "/"):
        url += "/v1"
    return url


def _status_text(e) -> str:
    code = getattr(e, "status_code", "?")
    msg = ""
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message", "") if isinstance(err, dict) else str(err)
    return f"HTTP {code}{': ' + str(msg)[:300] if msg else ''}"


def _server_context(props: dict, models: list, model: str) -> int | None:
    """The context size the server reports (llama-server /props, vLLM max_model_len)."""
    settings = props.get("default_generation_settings") if isinstance(props, dict) else None
    for src in (settings or {}, props or {}):
        n = src.get("n_ctx") if isinstance(src, dict) else None
        if isinstance(n, int) and n > 0:
            return n
    for m in models:
        extra = getattr(m, "model_extra", None) or {}
        if getattr(m, "id", None) == model and isinstance(extra.get("max_model_len"), int):
            return extra["max_model_len"]
    return None
