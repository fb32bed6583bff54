"""Core: AgentWrite's prompt templates, built for a model family's wire format
(:class:`..backends.formats.PromptFormat`).

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

from ..backends.base import Prompt
from ..backends.formats import PromptFormat
from ..text.language import ZH, detect_language
from .plan import Section

# ---------------------------------------------------------------------------------------
# Chat style (instruction-tuned models). Our own wording of AgentWrite's two prompts.
#
# An instruction model answers a request like an assistant ("Certainly! Here is part 2:",
# "I hope you enjoyed…") and, asked to "continue the text so far", echoes the request or asks
# for the text. So the write step is laid out as one answer the model is already writing:
# the request (task, plan with a heading per part) is the user's message, and the text so
# far stands in the assistant's answer under those headings, ending with the heading of the
# part to write now. The model continues its own manuscript, never starts a new reply, and
# consecutive prompts share everything up to the newest text (the prefix cache holds).

SYSTEM = {
    "en": "You are an accomplished author. You write exactly the text you are asked for, in full, "
          "in the language of the request. Your answer is only that text: never an introduction, a "
          "comment, a note, a summary of what you wrote, a word count or a question to the reader.",
    "zh": "你是一位出色的作家。你完整地写出要求的文字，使用要求所用的语言。你的回答只有正文本身："
          "不写开场白、评论、注释、对所写内容的总结、字数说明，也不向读者提问。",
}

PLAN_CHAT = """\
Break the following writing task into a plan of {n} consecutive parts. For each part give a \
short title (two to six words, a real title, not "Part 1" or "Introduction" alone), its main \
point (what happens or what it argues, in one detailed sentence) and its length in words. The \
whole text must be about {target} words, so the word counts must add up to about {target}; each \
part should have between 200 and 1000 words. No two parts may cover the same ground.

Writing task:
{instruction}

Answer with the plan only, one part per line, in exactly this format:
Paragraph 1 - Title: [title] - Main Point: [main point] - Word Count: [number] words
Paragraph 2 - Title: [title] - Main Point: [main point] - Word Count: [number] words
..."""

WRITE_CHAT = """\
{instruction}

Write it in {n} parts, in this order:
{outline}

Write the whole text now. Begin each part with its heading line exactly as listed above (the \
## mark, the number and the title), then write that part in full. The text goes on after \
every part but the last, so only the last part brings it to an end. Write only the text \
itself: nothing before the first heading, nothing after the last part, no notes and no \
comments."""

# Chinese requests get Chinese prompts: a model answers in the language it is asked in.
PLAN_CHAT_ZH = """\
请把下面的写作任务分成{n}个连续的部分，制定写作计划。每部分写出一个简短的标题（二到十个字，真正的标题）、\
它的要点（用一句详细的话说明这一部分写什么）和字数。全文约{target}字，各部分字数之和应约为{target}字；\
每部分在200到1000字之间。各部分的内容不能重复。

写作任务：
{instruction}

只输出计划，每部分一行，严格使用下面的格式，用中文写：
第1段 - 标题：[标题] - 要点：[要点] - 字数：[数字]字
第2段 - 标题：[标题] - 要点：[要点] - 字数：[数字]字
..."""

WRITE_CHAT_ZH = """\
{instruction}

全文分{n}个部分，按下面的顺序写：
{outline}

现在用中文写出全文。每一部分都以上面列出的标题行开头（## 符号、序号和标题，原样照写），然后完整地写出这一部分。\
除最后一部分外，每部分之后文章都还要继续，所以只有最后一部分才收尾。只写正文：\
第一个标题之前和最后一部分之后什么都不写，不写注释，不写评论。"""

# What the answer of a write prompt carries before the text written so far, when earlier
# parts no longer fit the context (their summaries go into the request instead).
EARLIER_CHAT = {"en": "\n\nWhat the parts before the ones below say, in short:\n{summaries}",
                "zh": "\n\n前面几部分的内容提要：\n{summaries}"}

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
                                        n=n_sections)], system=SYSTEM[lang])


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
            title=title_line(instruction, lang), synopsis=synopsis_line,
            outline=_outline(sections, lang))]
        for earlier, text in zip(sections[:index], context):
            if text:
                user += [SECTION_HEADING.format(heading=earlier.heading), text, SECTION_GAP]
        user.append(SECTION_HEADING.format(heading=sec.heading))
        return Prompt(user=user, answer=[partial] if partial else [])

    return _write_chat(instruction, sections, index, context, partial, lang, firm)


def chat_heading(index: int, section: Section) -> str:
    """The heading line a chat model writes a part under (only in prompts: the manuscript's
    headings come from the plan, and a story has none)."""
    return f"## {index + 1}. {section.heading}"


def _summarized(section: Section, carried: str) -> bool:
    return bool(section.summary) and carried == section.summary and carried != section.text


def _write_chat(instruction: str, sections: list[Section], index: int, context: list[str],
                partial: str, lang: str, firm: bool) -> Prompt:
    # (no word counts: a chat model shown them reports them in the text, "This article is 600
    # words long"; the engine keeps the length, not the model)
    outline = "\n".join(f"{chat_heading(i, s)}\n   {s.main_point}" for i, s in enumerate(sections))
    template = WRITE_CHAT_ZH if lang == ZH else WRITE_CHAT
    request = template.format(instruction=instruction.strip(), n=len(sections), outline=outline)
    if firm:
        request += "\n" + FIRM_LANGUAGE[lang]
    # Earlier parts: verbatim in the answer; summaries (parts that left the context) in the
    # request; dropped parts nowhere.
    summaries = [f"{chat_heading(i, s)}: {c}" for i, (s, c) in enumerate(zip(sections, context))
                 if c and _summarized(s, c)]
    if summaries:
        request += EARLIER_CHAT[lang].format(summaries="\n".join(summaries))
    answer: list[str] = []
    for i, (s, c) in enumerate(zip(sections[:index], context)):
        if c and not _summarized(s, c):
            answer += [chat_heading(i, s) + "\n\n", c.strip(), SECTION_GAP]
    answer.append(chat_heading(index, sections[index]) + "\n\n")
    if partial:
        answer.append(partial)
    return Prompt(user=[request], answer=answer, system=SYSTEM[lang])


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


def with_bible(instruction: str, bible: str) -> str:
    """The request with the story bible (a book's fixed facts) after it, in the request's language."""
    if not bible.strip():
        return instruction
    head = "故事设定（务必遵守）：" if detect_language(instruction) == ZH else "Story bible (always respect it):"
    return f"{instruction.strip()}\n\n{head}\n{bible.strip()}"


def title_line(instruction: str, lang: str | None = None) -> str:
    if _lang(instruction, lang) == ZH:
        text = synopsis(instruction, ZH).rstrip("。.")
        title = re.split(r"[，,：:；;]", text, maxsplit=1)[-1] if len(text) > 24 else text
        return "# " + (title[:24] + ("…" if len(title) > 24 else "") or "无题")
    words = synopsis(instruction).rstrip(".").split()
    title = " ".join(words[:10]) + ("…" if len(words) > 10 else "")
    return "# " + (title or "Untitled")


# ---------------------------------------------------------------------------------------
# The book's prompts (two levels: engine.book)

BOOK_PLAN_COMPLETION = """\
Book plans. Each novel is split into chapters, one line each, with the chapter's title, a \
synopsis of what happens in it and its number of words.

Request: Write a 12000-word mystery novel about a village baker who finds a stranger's diary.
Plan:
Chapter 1 - Title: Flour and Ink - Synopsis: Nell finds a stranger's diary in a sack of flour - Word Count: 3000 words
Chapter 2 - Title: The Margins - Synopsis: The diary names her neighbours, all watched - Word Count: 3000 words
Chapter 3 - Title: The Miller - Synopsis: The miller lies; a fire destroys his records - Word Count: 3000 words
Chapter 4 - Title: Morning Bread - Synopsis: Nell unmasks the diarist and burns the diary - Word Count: 3000 words

Request: {instruction}
Plan:
"""

BOOK_PLAN_CHAT = """\
Plan the following novel as {n} chapters. For each chapter give a short title, a synopsis of \
what happens in it (one or two detailed sentences: who, where, what changes) and its length \
in words. The chapters must add up to about {target} words; each should have between \
{lo} and {hi} words. Every chapter must move the story forward: no two chapters may tell the \
same events. Every chapter is part of the story (no appendix, glossary or afterword), and only \
the last one brings it to its end.

Writing task:
{instruction}
{bible}
Answer with the plan only, one chapter per line, in exactly this format:
Chapter 1 - Title: [title] - Synopsis: [what happens] - Word Count: [number] words
Chapter 2 - Title: [title] - Synopsis: [what happens] - Word Count: [number] words
..."""

# A chat model plans a book an act at a time: asked for twelve chapters in one answer, the
# instruct model ended the story by chapter 7 ("The End of the World", "The Aftermath", "A New
# Beginning", "The End of the World Revisited"). Each answer plans one act's chapters, told
# what that part of a story does.
BOOK_ACTS = (
    "the beginning of the story: it introduces the people, the places and the problem; nothing "
    "is resolved and nothing ends",
    "the middle of the story: complications, discoveries and setbacks that raise the stakes; the "
    "problem is not solved and nothing ends",
    "the end of the story: the crisis, the decisive choice and what follows from it; only the "
    "last chapter ends the story",
)
BOOK_PLAN_ACT_CHAT = """

Now plan chapters {a} to {b} of {n}: they are {part}."""

# (the request and the answer's format, the same in both outlines of a book's parts)
_PARTS_ANSWER = """
Writing task:
{instruction}
{bible}
Answer with the parts only, one per line, in exactly this format:
Part 1 - Title: [title] - Synopsis: [what happens]
Part 2 - Title: [title] - Synopsis: [what happens]
..."""

# A book of more chapters than one answer holds is planned in two steps on a chat model. Asked
# for chapters 1 to 12 of 36, the instruct model told the whole story in them (the heroine's
# death in chapter 9, "The End" in chapter 10) and then, asked for chapters 10 to 12, copied
# chapters 2 to 4 twenty times over. A story in a dozen parts is what such a model plans well:
# the parts come first, then each part's chapters, the model shown only that part to tell.
BOOK_PARTS_CHAT = """\
Outline the story of the following novel in {p} parts, from its beginning to its end. For \
each part give a short title and a synopsis (one or two detailed sentences: who, where, what \
changes). Every part moves the story forward: no two parts may tell the same events, and only \
the last part ends the story.
""" + _PARTS_ANSWER
# A book re-planned after its first chapters were written: the rest of its story, after where
# they leave it (the last chapters' summaries, as prose: shown the written chapters as a list,
# the instruct model gave them back as its parts, title for title, in 2 answers of 2).
BOOK_PARTS_REST_CHAT = """\
Here is where a novel stands after its first {m} chapters:
{story}

Outline what happens next in the novel, from here to its end, in {p} parts. Each part tells \
new events that come after the ones above (never the same events again), with new titles; \
only the last part ends the story. For each part give a short title and a synopsis (one or two \
detailed sentences: who, where, what changes).
""" + _PARTS_ANSWER
# (Shown the whole outline, the instruct model made each part's chapters out of the parts'
# lines: "The Lost Key: A cartographer named Elara discovers…"; shown its neighbours as lines,
# it copied them and the words around them into titles: "The Mountain Sage comes next: These
# chapters lead into itwithout". It is shown its part, and only the names of its neighbours.)
BOOK_PLAN_PART_CHAT = """

The story, part {i} of {p}: "{title}". {synopsis}.

Now plan chapters {a} to {b} of {n}. They tell this part only, {span}, step by step: each \
chapter a different event of the part, in the order they happen, with a short title of its own."""
BOOK_PART_SPAN = {
    "first": 'from the start of the story up to part 2 ("{next}")',
    "after_written": 'from where chapter {m} ("{written}") leaves the story up to part 2 ("{next}")',
    "middle": 'from the end of part {i_prev} ("{prev}") up to part {i_next} ("{next}")',
    "last": 'from the end of part {i_prev} ("{prev}") to the end of the story',
}

BOOK_HEAD_COMPLETION = """\
{title}

{synopsis}
{bible}
Chapters:
{chapters}

"""

BOOK_HEAD_CHAT = """\
You are writing a novel one scene at a time.

Writing task:
{instruction}
{bible}
Chapters of the book:
{chapters}

"""

STORY_SO_FAR = "The story so far:\n"

CHAPTER_HEAD_COMPLETION = """\
## Chapter {n}: {title}

{synopsis}
{previous}{notes}
Scenes:
"""

CHAPTER_HEAD_CHAT = """\
Now writing chapter {n}: {title}
What happens in it: {synopsis}
{previous}{notes}"""

SCENE_PLAN_CHAT = """\

Break chapter {n} into {k} scenes that tell what happens in it, in order: each scene moves \
the story on from where the one before it ends. For each give a short title (two to six \
words), its main point (one detailed sentence) and its length in words; the scenes must add \
up to {target} words, each between {lo} and {hi} words. Answer with the scenes only, in \
exactly this format:
Scene 1 - Title: [title] - Main Point: [main point] - Word Count: [number] words
..."""

# A chat model's text that ends short after its last part gets a part that continues it
# (AgentWriter._top_up_job): its main point and its heading.
TOP_UP_POINT = {"en": "Go on from where the text stops, in the same voice, and bring it to its end.",
                "zh": "从上文停下的地方接着写，保持同样的语气，直到结尾。"}
TOP_UP_TITLE = {"en": "Continued", "zh": "续"}

# What a top-up scene must not tell (the model, its planned events all written, otherwise
# plans the end of the book: "The Cartographer's Legacy", "The Cartographer's Death" in
# chapter 1 of 12). Not the next chapter's synopsis itself: a small model shown it in this
# request planned exactly that as the new scene.
SCENE_TOP_UP_LATER = " and stops before the events of chapter {n}, \"{title}\""
# Asked again for a top-up scene whose first answer retold one already written (same prompt,
# another seed), the instruct model gave the same scene five times running ("Ilse discovers
# the truth about her maps and the Greywater…", 0.78 of the words of scene 5). The ask again
# names what it proposed.
SCENE_TOP_UP_NOT_AGAIN_CHAT = """ Not "{point}": that has been told already. Something else \
happens in it."""
# Named what it had proposed, it proposed the same scene again (chapter 7 of the novel bench's
# run: five times). Asked again, it is also given someone or something of the story that the
# chapter has had least of (BookWriter._top_up_angle), for a scene that turns on them.
SCENE_TOP_UP_ANGLE_CHAT = " Let it turn on {name}: {what}."

SCENE_HEADING = "### {heading}\n\n"
SCENE_NOTES_COMPLETION = "(Notes: {notes})\n\n"

# A chat model writes a chapter as a conversation, one scene per request (AgentWrite's
# write step): the first message is the book's and the chapter's block followed by the
# request for the first scene; each answer is a scene (its heading written for the model),
# and the next message asks for the next scene. Asked for the whole chapter in one answer, a
# model spends the length of one answer on it (a 2,500-word chapter in twelve scenes of 120
# words, each closing on a moral); asked for one scene, it writes a scene.
SCENES_INTRO_CHAT = """
Chapter {n} is written one scene at a time, each in its own answer. A scene starts where the \
one before it ended and tells only what is new: never retell what an earlier scene told. Write \
only the story itself: no title or heading, no notes, no comments, no words to the reader.

"""
# A chat chapter's conversation that starts after its first scene (a scene started over
# without the earlier ones in view, or a chapter too long for the context): what the scenes
# left out told, and how the last of them ended. Without it the instruct model, started over,
# opened the scene by telling the book's premise again ("Ilse Marren, the cartographer from
# Saltmarsh, had always been fascinated by the maps…").
SCENES_BEFORE_CHAT = """The chapter's scenes before this one are written (not shown here):
{points}
The last of them ended: "… {tail}"

"""
SCENE_ASK_CHAT = """Write scene {k} of chapter {n} now: "{title}". What happens in it: {point}{notes}
Write it in full, about {words} words. {position}"""
SCENE_NOTES_CHAT = "\nNotes: {notes}"
SCENE_GOES_ON_CHAT = ("The chapter goes on after it: end the scene where its events end, without a "
                      "summing-up, a reflection or a look ahead. The next scene (not to be told yet) "
                      "will tell: {next}")
SCENE_ENDS_CHAPTER_CHAT = ("It is the chapter's last scene; the story goes on in chapter {n}, which will "
                           "tell (not to be told yet): {next}")
SCENE_ENDS_BOOK_CHAT = "It is the last scene of the book: bring the story to its end."
# A scene whose answer ended short of its target: asked to go on, in a new message
# (BookWriter._go_on_ask). Told what the next scene holds, the instruct model wrote its
# events here, or echoed "In the next scene (not to be told), …"; asked for the scene's next
# moments in detail, it stays in the scene.
SCENE_GO_ON_CHAT = """Go on with scene {k}, "{title}", from its last sentence: its next moments, in detail \
(what the characters do, say and notice), about {more} more words. Only what is new: repeat nothing \
already written. The scene is not over yet."""
# A chapter that ended short asks for one more scene (BookWriter._top_up_chapter) at the end
# of its conversation.
SCENE_TOP_UP_ASK_CHAT = """Chapter {n} is still {lack} words short. Plan one more scene for it, \
to come after the scenes written so far: it stays inside chapter {n}, deepens what this chapter \
is about and does not end the book{later}.{again}{angle} Answer with the scene only, in exactly this format:
Scene {k} - Title: [title] - Main Point: [main point] - Word Count: [number] words"""

SUMMARY_CUE_COMPLETION = "\n\n(In short, what happens in chapter {n}:"
# A chat model's chapter summary: the last message of the chapter's conversation. (Cued
# inside its last answer, as a base model is, the instruct model listed the book's chapter
# titles, or echoed the scene request: "end the scene without a summing-up, reflection…")
SUMMARY_ASK_CHAT = """Chapter {n} ends here. Sum it up in two or three sentences, at most {words} \
words: who does what in it, what changes, and how it ends. Write only the summary, in the past tense."""
