"""Integration: the engine on a real instruction-tuned model (the instruct test model).

Qwen2.5-Coder-1.5B-Instruct follows (and misreads) instructions, chats and signs off like the
models users run. Skipped where it is not installed (python tests/instruct_model.py).
"""

from __future__ import annotations

import pytest

from longhand.core.engine.plan import Section
from longhand.core.engine.writer import AgentWriter, Job
from longhand.core.text.chatter import find_chatter

pytestmark = pytest.mark.slow


def test_its_chat_template_gives_a_system_role_and_no_default_persona(instruct_backend):
    fmt = instruct_backend.format
    assert fmt.name == "gguf-template" and fmt.style == "chat"
    assert fmt.system_open is not None and "<|im_start|>system" in fmt.system_open
    # our system message replaces the template's default one ("You are Qwen, created by …")
    assert "Qwen" not in fmt.render_head("Only the text.")


def test_a_two_part_story_is_only_story_and_the_second_part_reuses_the_first(instruct_backend):
    job = Job("Write a 160-word story about a lighthouse keeper who finds a message in a bottle.", 160,
              [Section("Mara finds a green bottle on the rocks at dawn and carries it up the tower", 80,
                       title="The Bottle"),
               Section("She reads the message, a plea from a ship, and lights the lamp to answer it", 80,
                       title="The Answer")])
    writer = AgentWriter(instruct_backend, seed=3, memory=False)
    evaluated = []
    writer.write_section(job, 0)
    first_tokens = instruct_backend.count_tokens(job.sections[0].text)
    before = instruct_backend.prompt_tokens_evaluated
    writer.write_section(job, 1)
    evaluated.append(instruct_backend.prompt_tokens_evaluated - before)
    for sec in job.sections:
        assert sec.words >= 0.6 * sec.target_words, sec.text
        assert find_chatter(sec.text) == [], sec.text
        assert not sec.text.lstrip().startswith("#"), sec.text
    # the second part's prompt is the first one plus the first part's text: that text was
    # generated into the cache and is not evaluated again
    assert evaluated[0] < first_tokens, (evaluated, first_tokens)


def test_a_chapters_scenes_are_a_conversation_the_cache_holds(instruct_backend):
    from longhand.core.engine import book_model as BM
    from longhand.core.engine.book import BookWriter
    from longhand.core.projects.project import Project

    # the template's own marker between an answer and the next message
    assert instruct_backend.format.turn == "<|im_end|>\n<|im_start|>user\n"
    job = Project(instruction="Write a 20000-word novel about a lighthouse keeper.", target_words=20_000)
    job.chapters = [BM.Chapter("The Bottle", "Mara finds a message in a bottle and answers it.", 400),
                    BM.Chapter("The Ship", "The ship that sent the message reaches the harbour.", 400)]
    job.sections = [Section("Mara finds a green bottle on the rocks at dawn and carries it up the tower", 200,
                            title="The Bottle", chapter=0),
                    Section("She reads the message, a plea from a ship, and lights the lamp to answer it", 200,
                            title="The Answer", chapter=0)]
    writer = BookWriter(instruct_backend, seed=3)
    writer.write_section(job, 0)
    first_tokens = instruct_backend.count_tokens(job.sections[0].text)
    before = instruct_backend.prompt_tokens_evaluated
    writer.write_section(job, 1)
    evaluated = instruct_backend.prompt_tokens_evaluated - before
    for sec in job.sections:
        assert sec.words >= 0.4 * sec.target_words, sec.text
        assert find_chatter(sec.text) == [], sec.text
        assert not sec.text.lstrip().startswith(("#", "---")), sec.text
    # the second scene's prompt is the first one, its answer (the scene, generated into the
    # cache) and the ask for the next scene: only the ask is evaluated
    assert evaluated < first_tokens, (evaluated, first_tokens)
