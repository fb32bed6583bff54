"""Core: prompt formats and the prefix-sharing layout of AgentWrite prompts."""

import pytest

from longhand.core.backends.llama import _split_chat_template
from longhand.core.engine.plan import Section
from longhand.core.engine.prompts import FORMATS, detect_format, plan_prompt, write_prompt


def sections():
    return [Section("The storm comes", 300), Section("The bottle", 300), Section("The reply", 300)]


@pytest.mark.parametrize("meta,expected", [
    ({"general.name": "LongWriter-glm4-9b", "general.architecture": "chatglm"}, "longwriter-glm4"),
    ({"general.name": "LongWriter Llama3.1 8b", "general.architecture": "llama"}, "longwriter-llama3"),
    ({"general.name": "Qwen2.5 7B Instruct", "tokenizer.chat_template": "{{ x }}"}, "gguf-template"),
    ({"general.name": "gemma-3-270m", "general.architecture": "gemma3"}, "completion"),
])
def test_detect_format(meta, expected):
    assert detect_format(meta) == expected


@pytest.mark.parametrize("fmt", ["longwriter-llama3", "completion"])
def test_consecutive_write_prompts_share_their_prefix(fmt):
    f = FORMATS[fmt]
    secs = sections()
    secs[0].text = "Rain hammered the glass."
    secs[1].text = "A green bottle lay on the rocks."
    p1 = write_prompt(f, "Write a story", secs, 1, [secs[0].text])
    p2 = write_prompt(f, "Write a story", secs, 2, [secs[0].text, secs[1].text])
    # Everything in p1 up to the step that changes is a prefix of p2, segment for segment.
    shared = 0
    for a, b in zip(p1.user, p2.user):
        if a != b:
            break
        shared += 1
    assert shared >= 2
    assert secs[0].text in p2.user and secs[1].text in p2.user
    if fmt == "completion":
        # a base model's prompt ends with the heading of the section to write
        assert p2.user[-1].startswith("## ")
        # and the previous prompt plus the text written is exactly the new prefix
        assert p2.user[: len(p1.user)] == p1.user
    else:
        assert "Paragraph 3 - Main Point: The reply" in p2.user[-1]
        assert "last step" in p2.user[-1]


def test_write_prompt_carries_partial_answer():
    p = write_prompt(FORMATS["longwriter-llama3"], "Write", sections(), 0, [], partial="It began ")
    assert p.answer == ["It began "]


def test_plan_prompts_state_target():
    chat = plan_prompt(FORMATS["longwriter-llama3"], "Write a story", 5000, 11)
    assert "5000" in chat.text() and "11" in chat.text()
    base = plan_prompt(FORMATS["completion"], "Write a story", 5000, 11)
    assert base.text().endswith("Paragraph 1 - Main Point:")


class _Model:
    def token_get_text(self, tok):
        return {1: "<s>", 2: "</s>"}[tok]


class _LLM:
    _model = _Model()

    def token_bos(self):
        return 1

    def token_eos(self):
        return 2


def test_gguf_chat_template_is_split_around_the_query():
    template = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n"
                "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
    prefix, suffix = _split_chat_template(template, _LLM())
    assert prefix == "<s><|user|>\n"
    assert suffix == "<|end|>\n<|assistant|>\n"
