"""Core: prompt formats and the prefix-sharing layout of AgentWrite prompts."""

import pytest

from longhand.core.backends.formats import FORMATS, detect_format
from longhand.core.backends.llama import _split_chat_template
from longhand.core.engine.plan import Section
from longhand.core.engine.prompts import plan_prompt, write_prompt


def sections():
    return [Section("The storm comes", 300), Section("The bottle", 300), Section("The reply", 300)]


@pytest.mark.parametrize("meta,expected", [
    ({"general.name": "LongWriter-glm4-9b", "general.architecture": "chatglm"}, "longwriter-glm4"),
    ({"general.name": "LongWriter Llama3.1 8b", "general.architecture": "llama"}, "longwriter-llama3"),
    ({"general.name": "Qwen2.5 7B Instruct", "tokenizer.chat_template": "{{ x }}"}, "gguf-template"),
    ({"general.name": "gemma-3-270m", "general.architecture": "gemma3"}, "completion"),
    # a server that exposes no chat template (llama-cpp-python's): the model's name tells
    ({"general.name": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"}, "chatml"),
    ({"general.name": "qwen2.5-7b-q4_k_m.gguf"}, "completion"),
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
    # The previous prompt plus the text written for it is exactly the start of the next one,
    # segment for segment: the prefix cache holds everything but the new text.
    assert (p1.user + p1.answer + [secs[1].text]) == (p2.user + p2.answer)[: len(p1.user + p1.answer) + 1]
    assert p2.text().startswith(p1.text() + secs[1].text)
    if fmt == "completion":
        # a base model's prompt ends with the heading of the section to write
        assert p2.user[-1].startswith("## ")
    else:
        # a chat model is asked once, with the whole plan under headings; the text so far and
        # the heading of the part to write now stand in its own answer, which it continues
        assert p1.user == p2.user and p1.system == p2.system and p1.system
        assert "## 3. The reply" in p2.user[0] and "only the last part brings it to an end" in p2.user[0]
        assert p2.answer[-1] == "## 3. The reply\n\n"
        assert secs[0].text in p2.answer and secs[1].text in p2.answer


def test_first_chat_write_prompt_shows_no_empty_text_so_far():
    p = write_prompt(FORMATS["longwriter-llama3"], "Write a story", sections(), 0, [])
    assert p.answer == ["## 1. The storm comes\n\n"]
    assert "so far" not in p.text().lower()


def test_write_prompt_carries_partial_answer():
    p = write_prompt(FORMATS["longwriter-llama3"], "Write", sections(), 0, [], partial="It began ")
    assert p.answer == ["## 1. The storm comes\n\n", "It began "]


def test_summarized_parts_go_into_the_request_not_the_answer():
    secs = sections()
    secs[0].text, secs[0].summary = "Rain hammered the glass. " * 20, "A storm."
    p = write_prompt(FORMATS["longwriter-llama3"], "Write a story", secs, 1, [secs[0].summary])
    assert "## 1. The storm comes: A storm." in p.user[0]
    assert p.answer == ["## 2. The bottle\n\n"]


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
    prefix, suffix, system_open, system_close, turn = _split_chat_template(template, _LLM())
    assert prefix == "<s><|user|>\n"
    assert suffix == "<|end|>\n<|assistant|>\n"
    # the same template around a system message
    assert system_open == "<s><|system|>\n" and system_close == "<|end|>\n<|user|>\n"
    # and between an answer and the next message of a conversation
    assert turn == "<|end|>\n<|user|>\n"


def test_a_template_without_a_system_role_puts_the_system_text_into_the_user_turn():
    template = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}"
                "{{ raise_exception('System role not supported') }}{% endif %}"
                "<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n"
                "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
    prefix, suffix, system_open, _, turn = _split_chat_template(template, _LLM())
    assert system_open is None
    # its answers open with "<start_of_turn>assistant", not with the suffix it ends a query
    # with ("<start_of_turn>model"): not a conversation our segments can rebuild
    assert turn is None
    from longhand.core.backends.formats import PromptFormat
    fmt = PromptFormat("t", "chat", prefix=prefix, suffix=suffix, system_open=None)
    assert fmt.render_head("Only the text.") == "<s><start_of_turn>user\nOnly the text.\n\n"
