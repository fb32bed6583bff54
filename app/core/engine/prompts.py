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
from ..text.language import ZH, detect_language
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

# Chinese requests get Chinese prompts: a model answers in the language it is asked in.
PLAN_CHAT_ZH = """\
请把下面的写作任务分成{n}个连续的段落，制定写作计划。每段写出它的要点（用一句详细的话说明这一段写什么）\
和字数。全文约{target}字，各段字数之和应约为{target}字；每段在200到1000字之间。

写作任务：
{instruction}

只输出计划，每段一行，严格使用下面的格式，用中文写：
第1段 - 要点：[要点] - 字数：[数字]字
第2段 - 要点：[要点] - 字数：[数字]字
..."""

WRITE_CHAT_HEAD_ZH = """\
你正在分段写一篇长文。

写作任务：
{instruction}

全文的写作计划：
{plan}

已经写好的内容：
"""

WRITE_CHAT_STEP_ZH = """

（已写内容到此为止。）

现在只写下一部分，按照计划中的这一步：
{step}

写约{target}字，用中文写。从上文停下的地方自然地接着写。不要重复已经写过的内容，不要写其他步骤，\
除非这是最后一步，否则不要写结论。只输出新写的正文。"""

# A firmer word on the language, used when a section drifted into another one.
FIRM_LANGUAGE = {"en": "Write in English only.", "zh": "只用中文写作，不要用英文。"}


# ---------------------------------------------------------------------------------------
# Completion style (base models): documents to continue.

PLAN_COMPLETION_HEAD = {
    "en": "Writing plans. Each request is split into paragraphs, one line each, with the main point "
          "and the number of words of the paragraph.\n\n",
    "zh": "写作提纲。每个写作要求都被分成若干段，每段一行，写出这一段的要点和字数。\n\n",
}
# One example plan shows the format. Small models copy it (the bicycle essay came back as
# Chinese stories), so the engine checks plans against it (plan.plan_problem) and asks again
# with the other example before it falls back.
PLAN_EXAMPLES = {
    "en": [
        ("Write a 1200-word article about the history of the bicycle.", [
            ("The first two-wheeled running machine, built by Karl Drais in 1817, and why people laughed at it", 300),
            ("Pedals, solid tyres and the dangerous high-wheeler of the 1870s", 300),
            ("The safety bicycle and the pneumatic tyre start the bicycle boom of the 1890s", 300),
            ("The bicycle today, from commuting to racing, and what it means for cities", 300)]),
        ("Write a 900-word guide to keeping chickens in a back garden.", [
            ("Why keep hens: fresh eggs, fewer kitchen scraps and what the neighbours may say", 200),
            ("The coop and the run: space, shelter from foxes and rain, and cleaning", 250),
            ("Feeding, water and the daily routine through the seasons", 250),
            ("Health problems to watch for, and when to call a vet", 200)]),
    ],
    "zh": [
        ("写一篇1200字的文章，介绍自行车的历史。", [
            ("1817年德莱斯发明的第一辆两轮“跑步机”，以及当时人们为什么嘲笑它", 300),
            ("十九世纪七十年代的脚踏板、实心轮胎和危险的高轮自行车", 300),
            ("安全自行车和充气轮胎的出现，带来了十九世纪九十年代的自行车热", 300),
            ("今天的自行车：从通勤到比赛，以及它对城市的意义", 300)]),
        ("写一篇900字的文章，介绍怎样在自家院子里养鸡。", [
            ("为什么养鸡：新鲜的鸡蛋、更少的厨余，以及邻居可能的看法", 200),
            ("鸡舍和活动场：空间、防狐狸防雨，以及清洁", 250),
            ("喂食、饮水和一年四季的日常照料", 250),
            ("需要留意的健康问题，以及什么时候该找兽医", 200)]),
    ],
}
_PLAN_LINE = {"en": "Paragraph {i} - Main Point: {point} - Word Count: {words} words",
              "zh": "第{i}段 - 要点：{point} - 字数：{words}字"}
_REQUEST = {"en": ("Request: ", "Plan:"), "zh": ("要求：", "提纲：")}
PLAN_LEAD = {"en": "Paragraph 1 - Main Point:", "zh": "第1段 - 要点："}


def _lang(instruction: str, lang: str | None) -> str:
    return ZH if (lang or detect_language(instruction)) == ZH else "en"


def example_plan(lang: str = "en", example: int = 0) -> str:
    """The example shown in the completion-style plan prompt (request and plan lines)."""
    lang = ZH if lang == ZH else "en"
    request, steps = PLAN_EXAMPLES[lang][example % len(PLAN_EXAMPLES[lang])]
    ask, plan = _REQUEST[lang]
    lines = [_PLAN_LINE[lang].format(i=i, point=p, words=w) for i, (p, w) in enumerate(steps, 1)]
    return f"{ask}{request}\n{plan}\n" + "\n".join(lines)


def plan_lead(fmt: PromptFormat, instruction: str, lang: str | None = None) -> str:
    """The text the plan prompt ends with, which the model's answer continues."""
    return PLAN_LEAD[_lang(instruction, lang)] if fmt.style == "completion" else ""


WRITE_COMPLETION_HEAD = """\
{title}

{synopsis}

Contents:
{outline}

"""

WRITE_COMPLETION_HEAD_ZH = """\
{title}

{synopsis}

目录：
{outline}

"""

SECTION_HEADING = "## {heading}\n\n"
SECTION_GAP = "\n\n"


def plan_prompt(fmt: PromptFormat, instruction: str, target_words: int, n_sections: int, *,
                lang: str | None = None, example: int = 0) -> Prompt:
    """The plan request, in the request's language; ``example`` picks the example plan shown
    to base models (another one when the first was copied)."""
    lang = _lang(instruction, lang)
    if fmt.style == "completion":
        ask, plan = _REQUEST[lang]
        text = (PLAN_COMPLETION_HEAD[lang] + example_plan(lang, example)
                + f"\n\n{ask}{instruction.strip()}\n{plan}\n{PLAN_LEAD[lang]}")
        return Prompt(user=[text])
    template = PLAN_CHAT_ZH if lang == ZH else PLAN_CHAT
    return Prompt(user=[template.format(instruction=instruction.strip(), target=target_words,
                                        n=n_sections)])


def _outline(sections: list[Section], lang: str = "en") -> str:
    unit = "字" if lang == ZH else " words"
    return "\n".join(f"{i}. {s.main_point} ({s.target_words}{unit})"
                     for i, s in enumerate(sections, 1))


def write_prompt(fmt: PromptFormat, instruction: str, sections: list[Section], index: int,
                 context: list[str], partial: str = "", *, lang: str | None = None,
                 firm: bool = False) -> Prompt:
    """The prompt that writes ``sections[index]``.

    ``context`` is the text carried for earlier sections, one entry per section before
    ``index`` (their text, or a summary, or "" when dropped to fit the context window).
    ``partial`` is text already written for this section (when continuing or extending).
    The prompt is in the request's language (``lang``, detected when None); ``firm`` adds a
    plain word on the language (after a section drifted into another one).
    """
    lang = _lang(instruction, lang)
    sec = sections[index]
    if fmt.style == "completion":
        synopsis_line = synopsis(instruction, lang)
        if firm:
            synopsis_line += ("\n（全文用中文写成。）" if lang == ZH else "\n(Written in English.)")
        user = [(WRITE_COMPLETION_HEAD_ZH if lang == ZH else WRITE_COMPLETION_HEAD).format(
            title=_title_line(instruction, lang), synopsis=synopsis_line,
            outline=_outline(sections, lang))]
        for earlier, text in zip(sections[:index], context):
            if text:
                user += [SECTION_HEADING.format(heading=earlier.heading), text, SECTION_GAP]
        user.append(SECTION_HEADING.format(heading=sec.heading))
        return Prompt(user=user, answer=[partial] if partial else [])

    head, step_t = (WRITE_CHAT_HEAD_ZH, WRITE_CHAT_STEP_ZH) if lang == ZH else (WRITE_CHAT_HEAD, WRITE_CHAT_STEP)
    plan = plan_as_text(sections) if lang != ZH else "\n".join(
        _PLAN_LINE[ZH].format(i=i, point=s.main_point, words=s.target_words) for i, s in enumerate(sections, 1))
    user = [head.format(instruction=instruction.strip(), plan=plan)]
    for text in context:
        if text:
            user += [text, SECTION_GAP]
    if lang == ZH:
        step = _PLAN_LINE[ZH].format(i=index + 1, point=sec.main_point, words=sec.target_words)
        if index == len(sections) - 1:
            step += "（这是最后一步）"
    else:
        step = f"Paragraph {index + 1} - Main Point: {sec.main_point} - Word Count: {sec.target_words} words"
        if index == len(sections) - 1:
            step += " (this is the last step)"
    tail = step_t.format(step=step, target=sec.target_words)
    if firm:
        tail += " " + FIRM_LANGUAGE[lang]
    user.append(tail)
    return Prompt(user=user, answer=[partial] if partial else [])


_IMPERATIVE = re.compile(
    r"^\s*(?:please[,\s]+)?(?:write|compose|create|draft|generate|produce|tell)\s+(?:me\s+|us\s+)?", re.I)
_LENGTH_PHRASE = re.compile(
    r"\b(?:of\s+)?(?:about|around|approximately|at\s+least)?\s*\d[\d,.]*\s*[kK]?\s*-?\s*words?(?:\s+long)?\b\s*", re.I)


_ZH_IMPERATIVE = re.compile(r"^\s*(?:请你?|帮我)?\s*(?:写|创作|撰写|编写)(?:一篇|一份|一封|一个|一部|一段|篇|份|封)?")
_ZH_LENGTH = re.compile(r"(?:不少于|大约|约|至少)?\s*[\d,，.]+\s*[万千]?\s*字(?:左右)?的?"
                        r"|(?:不少于|大约|约)?[一二两三四五六七八九十百千万]+字(?:左右)?的?")


def synopsis(instruction: str, lang: str | None = None) -> str:
    """The instruction as a document's synopsis ("Write a 900-word story about X" -> "A story
    about X."; "写一篇1500字的小说，讲…" -> "小说，讲…。"): base models continue documents, and a
    request invites forum chatter instead."""
    text = " ".join(instruction.strip().split())
    if _lang(instruction, lang) == ZH:
        text = _ZH_IMPERATIVE.sub("", text)
        text = _ZH_LENGTH.sub("", text).strip(" ，,")
        if not text:
            return instruction.strip()
        return text if re.search(r"[。！？.!?]$", text) else text + "。"
    text = _IMPERATIVE.sub("", text)
    text = " ".join(_LENGTH_PHRASE.sub(" ", text).split())
    text = re.sub(r"^(an?)\s+(an?)\s+", r"\1 ", text, flags=re.I)
    if not text:
        return instruction.strip()
    text = text[0].upper() + text[1:]
    return text if re.search(r"[.!?。！？]$", text) else text + "."


def _title_line(instruction: str, lang: str | None = None) -> str:
    if _lang(instruction, lang) == ZH:
        text = synopsis(instruction, ZH).rstrip("。.")
        title = re.split(r"[，,：:；;]", text, maxsplit=1)[-1] if len(text) > 24 else text
        return "# " + (title[:24] + ("…" if len(title) > 24 else "") or "无题")
    words = synopsis(instruction).rstrip(".").split()
    title = " ".join(words[:10]) + ("…" if len(words) > 10 else "")
    return "# " + (title or "Untitled")
