"""Core: the engine on instruction-tuned (chat) models: the text is only the text.

Scripted chat backends play the failures seen on a real instruct model (Qwen2.5-Coder-1.5B-
Instruct): an assistant's opening line, a sign-off after the ending, talk about word counts, a
reasoning block, a part that ends early. The integration tests run the real model.
"""

from __future__ import annotations

import re

from fakes import ScriptedBackend
from longhand.core.backends.base import Generation
from longhand.core.engine.plan import Section
from longhand.core.engine.writer import AgentWriter, Job, LengthControl
from longhand.core.text.chatter import (
    chatter_share,
    find_chatter,
    is_refusal,
    line_chatter,
    strip_preamble,
    strip_reasoning,
)

STORY = ("Mara climbed the lighthouse stairs with the bottle in her coat. The lamp was cold and the glass "
         "rattled in the wind. She set the bottle on the table and looked at it for a long time. ")


_SYL = ["ka", "lo", "mi", "ren", "tu", "sa", "vel", "no", "bri", "da", "fen", "go", "hul", "ji", "mar", "pe"]
_SEED = [1]


def words(n: int) -> str:
    """``n`` words of made-up prose (sentences of 8) that never loops, not even across calls."""
    out = []
    for i in range(n):
        _SEED[0] = x = (_SEED[0] * 1103515245 + 12345) % (2 ** 31)
        word = "Mara" if i % 8 == 0 else "".join(_SYL[(x >> s) % 16] for s in (0, 4, 8))
        out.append(word + ("." if i % 8 == 7 or i == n - 1 else ""))
    return " ".join(out)


def setup_function():
    _SEED[0] = 1


class ChatBackend(ScriptedBackend):
    """Answers each write call with ``script(call)``: the text of that call, streamed by words."""

    def __init__(self, script) -> None:
        super().__init__(style="chat")
        self.script = script

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        self.calls += 1
        self.prompts.append(prompt)
        text = self.script(self.calls)
        out = []
        for piece in re.findall(r"\S*\s*", text):
            if not piece:
                continue
            out.append(piece)
            steer = on_piece(piece) if on_piece else None
            if steer is not None and steer.stop:
                return Generation("".join(out), "stop", 100, 10, len(out), 0.01)
        return Generation("".join(out), "end", 100, 10, len(out), 0.01)


def job(*targets: int) -> Job:
    return Job("Write a story about a lighthouse keeper who finds a message in a bottle.", sum(targets),
               [Section(f"Mara finds the bottle, part {i}", t, title=f"Part {i}") for i, t in enumerate(targets)])


def test_an_assistants_opening_line_is_dropped_not_kept():
    backend = ChatBackend(lambda call: ("Certainly! Here is the next part of the story:\n\n" if call == 1 else "")
                          + words(120))
    j = job(100)
    AgentWriter(backend, seed=1, memory=False).write_section(j, 0)
    text = j.sections[0].text
    assert text.startswith("Mara ") and "Certainly" not in text
    assert not j.sections[0].needs_attention


def test_a_sign_off_after_the_ending_is_cut_and_the_section_written_on():
    calls = []

    def script(call):
        calls.append(call)
        if call == 1:     # the part, then the assistant's sign-off
            return words(50) + "\n\nI hope you enjoyed reading this story! Feel free to ask for changes.\n\n"
        return words(80)
    backend = ChatBackend(script)
    j = job(100)
    AgentWriter(backend, seed=1, memory=False).write_section(j, 0)
    text = j.sections[0].text
    assert find_chatter(text) == [] and "enjoyed" not in text
    assert len(calls) >= 2 and j.sections[0].words >= 60


def test_a_horizontal_rule_ends_the_part_and_nothing_after_it_is_kept():
    # the instruct model closed a scene with "---" and then the next part's heading or talk
    backend = ChatBackend(lambda call: words(70) + "\n\n--- 3. The Duke's Plan\n\nAs Ilse travelled on, "
                          + words(40))
    j = job(100)
    AgentWriter(backend, seed=1, memory=False).write_section(j, 0)
    text = j.sections[0].text
    assert "---" not in text and "Duke" not in text and "Ilse" not in text
    assert 60 <= j.sections[0].words <= 71


def test_a_chat_models_early_ending_is_accepted_and_its_shortfall_carried_to_the_next_part():
    # the model ends each part after 70 words of 100: accepted (>= 60 %), not forced on
    backend = ChatBackend(lambda call: words(70))
    j = job(100, 100, 100)
    AgentWriter(backend, seed=1, memory=False).write(j)
    first, second = j.sections[0], j.sections[1]
    assert 60 <= first.words <= 71 and not first.needs_attention
    assert second.target_words == 100 + (100 - first.words)   # the words it left go on
    # one call for the first part (no forced continuation); the second, 130 words now, is
    # continued once to reach 60 % of that, and the last needs one call again
    assert backend.calls == 4 and second.words >= 0.6 * second.target_words


def test_a_base_model_is_still_kept_from_ending_early():
    backend = ChatBackend(lambda call: words(70))
    backend.info.prompt_style = "completion"
    j = job(100)
    AgentWriter(backend, seed=1, memory=False, length=LengthControl()).write_section(j, 0)
    assert backend.calls >= 2 and j.sections[0].words >= 92


def test_talk_about_word_counts_and_paragraphs_is_chatter_prose_is_not():
    chatty = ["This completes the second part of the blog post. The final word count is about 350 words.",
              "**Paragraph 2** 250 Words", "(End of the text so far.) Now write only the next scene.",
              "Scene 5 (Mara encounters the wolf)", "And with that, Qwen ends the novel 'The Lost Map.'",
              "I hope you enjoyed reading 'The Lost Map'! If you have any questions, feel free to ask.",
              "好的，请继续编写第1段的文字…请提供上文的最后一部分",
              # a chapter's scenes on the instruct model: "the end" markers and our request echoed
              "**End of Chapter 1**. Continue with the next scene. Keep writing chapters one by one.",
              "---  End of Chapter 11**", "End of the book. Continue with any additional material.",
              "**Chapter 3**",
              "Each chapter starts where the previous one ended and tells only what is new."]
    for line in chatty:
        assert find_chatter(line), line
    for line in [STORY, '"Sure," she said. "Here is the key."', "The end of the pier was white with frost.",
                 "The end of the chapter of her life had come.", "They would continue with the next load at dawn.",
                 "清晨的潮水把一个绿色的玻璃瓶冲上了岸。"]:
        assert not find_chatter(line), line
    # a letter's closing speaks to its reader: manuscript there, chatter in a story
    closing = "Feel free to call me if you have any questions."
    assert find_chatter(closing) and not find_chatter(closing, letter=True)
    thanks = ("Thank you for your interest in urban beekeeping. If you are interested in starting your own "
              "hive, there are many resources available online.")
    assert find_chatter(thanks) and not find_chatter(thanks, letter=True)
    assert find_chatter("**Thank you for reading!**")
    # said in the story, or not to the reader, it is the story's
    for line in ['"Thank you for your interest," the Duke said, and closed the ledger.',
                 "She wrote back: thank you for your time.", "Ilse thanked him for reading the map aloud."]:
        assert not find_chatter(line), line
    assert 0 < chatter_share(STORY + "\n\nI hope you enjoyed reading this story!") < 0.5


def test_reasoning_blocks_and_answer_tags_never_reach_the_text():
    answer = "<think>The user wants a story. I will plan it.</think><answer>The rain fell on the lamp.</answer>"
    assert strip_reasoning(answer) == "The rain fell on the lamp."
    assert strip_preamble("<think>\nplan\n</think>\n\nCertainly! Here it is:\n\nThe rain fell.") == "The rain fell."
    backend = ChatBackend(lambda call: "<think>Plan: a keeper, a bottle.</think>\n\n" + words(120 if call == 1 else 60))
    j = job(100)
    AgentWriter(backend, seed=1, memory=False).write_section(j, 0)
    assert "think" not in j.sections[0].text and j.sections[0].text.startswith("Mara ")


def test_an_answer_that_opens_with_a_horizontal_rule_keeps_only_its_text():
    # (a chat model asked for one scene opened its answer with "---"; the rule reached the
    # manuscript before this: at a section's start there is no line break for the leak check)
    assert strip_preamble("---\n\nThe rain fell.\n\nIt fell all night.") == "The rain fell.\n\nIt fell all night."
    assert strip_preamble("* * *\nCertainly! Here is scene 2:\n\nThe rain fell.") == "The rain fell."
    # a rule inside the text is not an opening: the text is kept as it is
    assert strip_preamble("The rain fell.\n\n---\n\nMorning.") == "The rain fell.\n\n---\n\nMorning."


def test_refusals_are_recognised():
    assert is_refusal("I'm sorry, but I can't assist with that request. Please provide more information.")
    assert not is_refusal(STORY)


def test_a_chat_models_text_that_ends_short_gets_a_part_that_continues_it():
    # one part of 200 words; the model ends after 130 each time it writes (accepted from 60 %)
    backend = ChatBackend(lambda call: words(130))
    j = job(200)
    AgentWriter(backend, seed=1, memory=False).write(j)
    assert len(j.sections) == 2 and j.sections[1].title == "Continued"
    # the words the first part left moved to the added one: the targets still add up to 200
    assert j.sections[1].target_words == 200 - j.sections[0].words
    assert sum(s.target_words for s in j.sections) == 200
    assert j.words >= 0.92 * 200 and not any(s.needs_attention for s in j.sections)
    # the added part is asked under its own heading, after the text so far
    assert "Continued" in backend.prompts[-1].text()
    # a base model is kept going instead: no part added
    base = ChatBackend(lambda call: words(130))
    base.info.prompt_style = "completion"
    j2 = job(200)
    AgentWriter(base, seed=1, memory=False).write(j2)
    assert len(j2.sections) == 1


def test_a_scene_sheet_and_a_running_word_tally_are_chatter():
    # both reached the instruct model's novel unflagged
    assert line_chatter("**Setting:** Saltmarsh, harbour town near the grey water River.") == "label"
    assert line_chatter("**Characters:** Ilse Marren, Duke Orrin.") == "label"
    assert line_chatter("**Plot Summary:**") == "label"
    tally = ("As Duke Orrin left Saltmarsh, he felt a mix of excitement and worry. 1327 words. 1049 words "
             "written. 85% completion. Next scene: Chapter 5 - The Mapmaker's Choice. 936 words.")
    assert line_chatter(tally).startswith("meta")
    # prose that uses the words is manuscript
    for line in ["The setting sun lit the harbour, and the characters of the town came out to watch.",
                 "She had written four thousand words of the survey by spring.",
                 "Setting out at dawn, Ilse took the coast road north."]:
        assert line_chatter(line) == "", line


def test_an_echo_of_the_scene_requests_not_to_be_told_yet_is_chatter():
    # the instruct model, asked to go on with a scene and told what the next one holds,
    # closed its answer with the request's own words
    echo = ("In the next scene (not to be told), Ilse finds shelter and food in the cottage, where she "
            "decides to protect her maps with all her heart.")
    assert line_chatter(echo).startswith("meta")
    assert line_chatter("Some things were not to be told, and the Duke knew them all.") == ""


def test_a_line_that_names_the_next_scene_or_counts_its_words_is_chatter():
    # the instruct model closed scenes of its novel so (found by the chatter calibration)
    for line in ["The next scene: Ilse embarks on her first journey.",
                 "She continued her journey back to Saltmarsh. 938 words. End scene. Next scene: Ilse "
                 "discovers that the grey water originates form the Harrow Hills. 950 words.",
                 "**Conclusion:** 1006 words.",
                 "She will gather evidence. The next chapter will tell us how she embarks on this journey. "
                 "785 words."]:
        assert line_chatter(line).startswith("meta"), line
    assert line_chatter("The next scene: Ilse embarks on her first journey.") == "meta: the next scene:"
    # prose that speaks of scenes, chapters and words is manuscript
    for line in ["He described the next scene: a woman walking into the sea.",
                 "The next scene of the play opened on a dock, and the actors took their places.",
                 "At the end of the scene, the actors bowed. The scene ended.",
                 "She knew that it was time to start preparing for the next chapter.",
                 "By noon she had written 938 words of the survey.",
                 "The Duke's letter ran to 900 words. She read it twice."]:
        assert line_chatter(line) == "", line


def test_an_answer_that_only_says_the_scene_continues_is_chatter():
    # asked to go on with a scene, the instruct model answered only "**Scene Continues** 620
    # words:", four times in a row, and the lines stood in the manuscript
    for line in ["**Scene Continues** 620 words:", "**Scene Continues**", "Scene continues (598 words)",
                 "Continued:", "*Continuation*"]:
        assert line_chatter(line) == "label", line
    assert strip_preamble("**Scene Continues** 620 words:\n\nIlse walked on.") == "Ilse walked on."
    for line in ["The scene continues to haunt her.", "Continued rain kept the boats in harbour.",
                 "The story continues where the river bends, the old men said."]:
        assert line_chatter(line) == "", line


def test_echoes_of_the_ask_to_go_on_are_chatter_and_a_label_before_the_text_goes_alone():
    # asked for a scene's "next moments, in detail", the instruct model opened answers with
    # "Her next moments, in detail:", "Its next moments: As I sit here…", "Continuing...",
    # "**The scene goes on as follows:**", and closed one with "**The scene ends here, with Ilse…"
    for line in ["Her next moments, in detail:", "Continuing...", "**The scene goes on as follows:**",
                 "**The scene ends here, with Ilse walking towards the people, determined to protect her maps.",
                 "The scene is not over yet.", "Its next moments: As I sit here, surrounded by Saltmarsh."]:
        assert line_chatter(line), line
    for line in ["In the next moments, she ran to the door.", "Her next moments were the worst of her life.",
                 "Continuing down the road, she saw the boats.", "The scene was set for a quarrel."]:
        assert line_chatter(line) == "", line
    # a label the answer opens with goes; the story after it on the same line stays
    assert strip_preamble("Its next moments: As I sit here, the tide turns.\n\nMore.") == \
        "As I sit here, the tide turns.\n\nMore."
    assert strip_preamble("Continuing...  It was a dark night.") == "It was a dark night."
    assert strip_preamble("**Scene Continues**  Elise Marren returned.") == "Elise Marren returned."
    assert strip_preamble("Her next moments, in detail:\n\nAs Ilse walked back.") == "As Ilse walked back."
    assert strip_preamble("Continuing down the road, she saw it.") == "Continuing down the road, she saw it."


class _RecordingSampling(ScriptedBackend):
    """Keeps the sampling of every generate call."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.samplings = []

    def generate(self, prompt, *, max_tokens, sampling=None, **kw):
        self.samplings.append(sampling)
        return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, **kw)


def _samplings_of(instruction: str) -> list:
    """The samplings a 600-word job for ``instruction`` was planned and written with."""
    backend = _RecordingSampling(wants_end_after=400)
    w = AgentWriter(backend)
    job = Job(instruction=instruction, target_words=600)
    job.sections = w.plan(instruction, 600)
    w.write_section(job, 0)
    return backend.samplings


def test_a_text_in_english_is_sampled_without_chinese_japanese_or_korean_characters():
    # the instruct model slipped Chinese words into English scenes ("gather更多的", "through她的
    # body"): each a health failure, a cut and a rewrite. A request in English that names no
    # East Asian language is sampled with those characters banned; any other request is not.
    from longhand.core.text.language import wants_no_cjk
    assert wants_no_cjk("Write a 30000-word fantasy novel about a cartographer.")
    assert not wants_no_cjk("写一篇关于城市养蜂的文章")
    assert not wants_no_cjk("Write a story in Japanese about a fox.")
    assert not wants_no_cjk("A short essay on Chinese calligraphy, quoting the characters.")
    assert not wants_no_cjk("Ein Aufsatz über 漢字")

    for instruction, banned in (("Write a 600-word essay about urban beekeeping.", True),
                                ("写一篇600字的关于城市养蜂的文章", False)):
        samplings = _samplings_of(instruction)
        assert samplings and all(s is not None and s.ban_cjk == banned for s in samplings)


def test_a_text_asked_for_in_latin_letters_is_sampled_without_other_scripts():
    # banned a phrase it had used, the instruct model spelt the word half in Cyrillic
    # ("cartографers"); a request in another script, or naming a language written in one,
    # keeps them
    from longhand.core.text.language import wants_latin_only
    assert wants_latin_only("Write a 30000-word fantasy novel about a cartographer.")
    assert wants_latin_only("Écris une nouvelle de 2000 mots sur un phare, en français.")
    assert not wants_latin_only("Write a story in Russian about a fox.")
    assert not wants_latin_only("An essay on Greek myths, quoting them in the original")
    assert not wants_latin_only("Напиши рассказ о лисе")
    assert not wants_latin_only("写一篇关于城市养蜂的文章")

    for instruction, banned in (("Write a 600-word essay about urban beekeeping.", True),
                                ("Write a 600-word essay about urban beekeeping, in Russian.", False)):
        samplings = _samplings_of(instruction)
        assert samplings and all(s.ban_scripts == banned for s in samplings)


def test_an_echo_of_a_fallback_scene_plan_is_chatter():
    # the instruct model, writing chapter 7 of its novel from a fallback plan, opened scenes
    # with the plan's own words
    for line in ["Let it turn on Saltmarsh: Harbour town on a grey estuary with a lighthouse, tar black boats "
                 "and Ilse's workshop above the. The cartographer stood at the window.",
                 "A complication got in the way. As the Greywater moved, it caused changes in the landscape.",
                 "End of the chapter: Ilse notices strange phenomena.",
                 "It leads towards: the Guild's final stand."]:
        assert line_chatter(line), line
    for line in ["She let it turn on its hinge, slowly.", "At the end of the chapter she closed the book.",
                 "The complication was the tide, which got in the way of everything."]:
        assert line_chatter(line) == "", line


def test_an_echo_of_where_the_previous_chapter_ended_is_chatter():
    # the demo model's last scene of a two-chapter story opened with the chapter block's quote
    # of where chapter 1 stopped
    for line in ['The previous chapter ended: "I feel very happy now after waking up from sleeping in my own bed." '
                 'She said this when her parents asked about it.',
                 'The last of them ended: "… knows that she must go." Ilse went on.']:
        assert line_chatter(line), line
    for line in ["The previous chapter ended badly for him, and he knew it.",
                 "When the last of them ended, the hall fell silent."]:
        assert line_chatter(line) == "", line
