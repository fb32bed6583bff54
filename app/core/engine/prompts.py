"""Core: prompt formats of the supported model families, and AgentWrite's prompt templates.

Two prompt styles:

* **chat** (instruction-tuned models such as LongWriter): the paper's two prompts, a plan
  request and a per-section write request (instruction, whole plan, text so far, the
  section to write now). The written text comes *before* the current step in the request,
  so consecutive write prompts share everything up to the newest section.
* **completion** (base models such as the embedded demo model): the same information laid
  out as a document to continue: a header with the request and outline, then the text so
  far under section headings. A base model continues documents, not requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..backends.base import Prompt, Sampling
from .plan import Section, plan_as_text


@dataclass(frozen=True)
class PromptFormat:
    name: str
    style: str                  # "chat" or "completion"
    prefix: str = ""            # before the user text (special tokens are parsed)
    suffix: str = ""            # after the user text, opens the assistant's answer
    add_bos: bool = True
    stops: tuple[str, ...] = ()
    sampling: Sampling = field(default_factory=Sampling)


FORMATS: dict[str, PromptFormat] = {
    # LongWriter-llama3.1-8b: "[INST]{query}[/INST]" after BOS.
    "longwriter-llama3": PromptFormat(
        "longwriter-llama3", "chat", prefix="[INST]", suffix="[/INST]", add_bos=True,
        sampling=Sampling(temperature=0.5, top_p=0.9)),
    # LongWriter-glm4-9b: "[gMASK]<sop><|user|>\n{query}<|assistant|>", stop at user/observation.
    "longwriter-glm4": PromptFormat(
        "longwriter-glm4", "chat", prefix="[gMASK]<sop><|user|>\n", suffix="<|assistant|>",
        add_bos=False, stops=("<|user|>", "<|observation|>"),
        sampling=Sampling(temperature=0.5, top_p=0.8)),
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
        return "longwriter-llama3"
    if metadata.get("tokenizer.chat_template"):
        return "gguf-template"
    return "completion"


# ---------------------------------------------------------------------------------------
# Chat style (instruction-tuned models). Our own wording of AgentWrite's two prompts.

PLAN_CHAT = """\
Break the following writing task into a plan of {n} consecutive paragraphs. For each \
paragraph give its main point (what happens or what it argues, in one detailed sentence) \
and its length in words. The whole text must be about {target} words, so the word counts \
must add up to about {target}; each paragraph should have between 200 and 1000 words.

Writing task:
{instruction}

Answer with the plan only, one paragraph per line, in exactly this format:
Paragraph 1 - Main Point: [main point] - Word Count: [number] words
Paragraph 2 - Main Point: [main point] - Word Count: [number] words
..."""

WRITE_CHAT_HEAD = """\
You are writing a long text one part at a time.

Writing task:
{instruction}

Plan of the whole text:
{plan}

Text written so far:
"""

WRITE_CHAT_STEP = """

(End of the text written so far.)

Now write only the next part, following this step of the plan:
{step}

Write about {target} words. Continue naturally from where the text stops. Do not repeat \
what has been written, do not write the other steps, and do not add a conclusion unless \
this is the last step. Output only the new text."""


# ---------------------------------------------------------------------------------------
# Completion style (base models): documents to continue.

PLAN_COMPLETION = """\
Writing plans. Each request is split into paragraphs, one line each, with the main point \
and the number of words of the paragraph.

Request: Write a 1200-word article about the history of the bicycle.
Plan:
Paragraph 1 - Main Point: The first two-wheeled running machine, built by Karl Drais in 1817, and why people laughed at it - Word Count: 300 words
Paragraph 2 - Main Point: Pedals, solid tyres and the dangerous high-wheeler of the 1870s - Word Count: 300 words
Paragraph 3 - Main Point: The safety bicycle and the pneumatic tyre start the bicycle boom of the 1890s - Word Count: 300 words
Paragraph 4 - Main Point: The bicycle today, from commuting to racing, and what it means for cities - Word Count: 300 words

Request: {instruction}
Plan:
Paragraph 1 - Main Point:"""

WRITE_COMPLETION_HEAD = """\
{title}

{synopsis}

Contents:
{outline}

"""

SECTION_HEADING = "## {heading}\n\n"
SECTION_GAP = "\n\n"


def plan_prompt(fmt: PromptFormat, instruction: str, target_words: int, n_sections: int) -> Prompt:
    if fmt.style == "completion":
        return Prompt(user=[PLAN_COMPLETION.format(instruction=instruction.strip())])
    return Prompt(user=[PLAN_CHAT.format(instruction=instruction.strip(), target=target_words,
                                         n=n_sections)])


def _outline(sections: list[Section]) -> str:
    return "\n".join(f"{i}. {s.main_point} ({s.target_words} words)"
                     for i, s in enumerate(sections, 1))


def write_prompt(fmt: PromptFormat, instruction: str, sections: list[Section], index: int,
                 context: list[str], partial: str = "") -> Prompt:
    """The prompt that writes ``sections[index]``.

    ``context`` is the text carried for earlier sections, one entry per section before
    ``index`` (their text, or a summary, or "" when dropped to fit the context window).
    ``partial`` is text already written for this section (when continuing or extending).
    """
    sec = sections[index]
    if fmt.style == "completion":
        user = [WRITE_COMPLETION_HEAD.format(title=_title_line(instruction),
                                             synopsis=synopsis(instruction),
                                             outline=_outline(sections))]
        for earlier, text in zip(sections[:index], context):
            if text:
                user += [SECTION_HEADING.format(heading=earlier.heading), text, SECTION_GAP]
        user.append(SECTION_HEADING.format(heading=sec.heading))
        return Prompt(user=user, answer=[partial] if partial else [])

    user = [WRITE_CHAT_HEAD.format(instruction=instruction.strip(), plan=plan_as_text(sections))]
    for text in context:
        if text:
            user += [text, SECTION_GAP]
    step = f"Paragraph {index + 1} - Main Point: {sec.main_point} - Word Count: {sec.target_words} words"
    if index == len(sections) - 1:
        step += " (this is the last step)"
    user.append(WRITE_CHAT_STEP.format(step=step, target=sec.target_words))
    return Prompt(user=user, answer=[partial] if partial else [])


_IMPERATIVE = re.compile(
    r"^\s*(?:please[,\s]+)?(?:write|compose|create|draft|generate|produce|tell)\s+(?:me\s+|us\s+)?", re.I)
_LENGTH_PHRASE = re.compile(
    r"\b(?:of\s+)?(?:about|around|approximately|at\s+least)?\s*\d[\d,.]*\s*[kK]?\s*-?\s*words?(?:\s+long)?\b\s*", re.I)


def synopsis(instruction: str) -> str:
    """The instruction as a document's synopsis ("Write a 900-word story about X" -> "A story
    about X."): base models continue documents, and a request invites forum chatter instead."""
    text = " ".join(instruction.strip().split())
    text = _IMPERATIVE.sub("", text)
    text = " ".join(_LENGTH_PHRASE.sub(" ", text).split())
    text = re.sub(r"^(an?)\s+(an?)\s+", r"\1 ", text, flags=re.I)
    if not text:
        return instruction.strip()
    text = text[0].upper() + text[1:]
    return text if re.search(r"[.!?。！？]$", text) else text + "."


def _title_line(instruction: str) -> str:
    words = synopsis(instruction).rstrip(".").split()
    title = " ".join(words[:10]) + ("…" if len(words) > 10 else "")
    return "# " + (title or "Untitled")
