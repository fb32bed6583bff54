"""Core: the wire formats of the supported model families — how a prompt is laid out in
tokens (chat prefix/suffix, system block, stop strings, BOS) and the sampling each family
wants — and :func:`detect_format`, which picks one from GGUF metadata.

The backends render prompts with these; the engine (:mod:`..engine.prompts`) builds its
AgentWrite prompts for them. Both import from here, so the arrow runs engine -> backends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .base import Sampling


@dataclass(frozen=True)
class PromptFormat:
    name: str
    style: str                  # "chat" or "completion"
    prefix: str = ""            # before the user text (special tokens are parsed)
    suffix: str = ""            # after the user text, opens the assistant's answer
    add_bos: bool = True
    stops: tuple[str, ...] = ()
    sampling: Sampling = field(default_factory=Sampling)
    # With a system message: ``system_open + system + system_close + user + suffix``
    # (special tokens parsed in both). None: the format has no system role.
    system_open: str | None = None
    system_close: str = ""
    # Between an assistant's answer and the user's next message (closes the one, opens the
    # other; the next answer opens with ``suffix``). None: no conversations in this format.
    turn: str | None = None

    def chat_pieces(self, system: str) -> list[tuple[str, bool]]:
        """The text before the user's segments, as (text, special) pieces: the prefix, or the
        system block when the prompt has a system message."""
        if not system or self.style != "chat":
            return [(self.prefix, True)] if self.style == "chat" and self.prefix else []
        if self.system_open is None:        # no system role: it opens the user message
            return [(self.prefix, True), (system.strip() + "\n\n", False)]
        return [(self.system_open, True), (system.strip(), False), (self.system_close, True)]

    def render_head(self, system: str) -> str:
        return "".join(text for text, _ in self.chat_pieces(system))


FORMATS: dict[str, PromptFormat] = {
    # LongWriter-llama3.1-8b: "[INST]{query}[/INST]" after BOS.
    "longwriter-llama3": PromptFormat(
        "longwriter-llama3", "chat", prefix="[INST]", suffix="[/INST]", add_bos=True,
        sampling=Sampling(temperature=0.5, top_p=0.9),
        system_open="[INST]<<SYS>>\n", system_close="\n<</SYS>>\n\n", turn="[INST]"),
    # LongWriter-glm4-9b: "[gMASK]<sop><|user|>\n{query}<|assistant|>", stop at user/observation.
    "longwriter-glm4": PromptFormat(
        "longwriter-glm4", "chat", prefix="[gMASK]<sop><|user|>\n", suffix="<|assistant|>",
        add_bos=False, stops=("<|user|>", "<|observation|>"),
        sampling=Sampling(temperature=0.5, top_p=0.8),
        system_open="[gMASK]<sop><|system|>\n", system_close="<|user|>\n", turn="<|user|>\n"),
    # ChatML (Qwen2.5 and its fine-tunes: LongWriter-Qwen2.5-7B-Instruct, LongWriter-Zero-32B,
    # whose answers open with a <think> block the engine strips).
    "chatml": PromptFormat(
        "chatml", "chat", prefix="<|im_start|>user\n", suffix="<|im_end|>\n<|im_start|>assistant\n",
        add_bos=False, stops=("<|im_end|>",), sampling=Sampling(temperature=0.6, top_p=0.9),
        system_open="<|im_start|>system\n", system_close="<|im_end|>\n<|im_start|>user\n",
        turn="<|im_end|>\n<|im_start|>user\n"),
    # Base models: plain continuation.
    "completion": PromptFormat(
        "completion", "completion", add_bos=True,
        sampling=Sampling(temperature=0.7, top_p=0.9, repeat_penalty=1.15)),
}


def detect_format(metadata: dict[str, str]) -> str:
    """Pick a prompt format name from GGUF metadata.

    LongWriter models are recognised by name; other models with a chat template use it
    ("gguf-template"); models without one are base models ("completion").
    """
    name = " ".join(metadata.get(k, "") for k in (
        "general.name", "general.basename", "general.finetune")).lower()
    arch = metadata.get("general.architecture", "").lower()
    if "longwriter" in name:
        if "glm" in arch or "glm" in name:
            return "longwriter-glm4"
        if "qwen" in arch or "qwen" in name or "zero" in name:
            return "chatml"
        return "longwriter-llama3"
    if metadata.get("tokenizer.chat_template"):
        return "gguf-template"
    # No template (a server that does not expose one, such as llama-cpp-python's): an
    # instruction model's name still says which chat layout it was trained on.
    if re.search(r"instruct|\bchat\b", name) and ("qwen" in name or "qwen" in arch):
        return "chatml"
    return "completion"
