"""Core: the engine end to end on the real demo model (Gemma 3 270M GGUF via llama.cpp)."""

from helpers import write_then_cancel
from longhand.core.backends.base import Prompt, Steer
from longhand.core.engine.plan import DONE, WRITING, Section
from longhand.core.engine.writer import AgentWriter, Job
from longhand.core.text.wordcount import count_words, ends_sentence

INSTRUCTION = "Write a 400-word story about a lighthouse keeper who finds a message in a bottle."


def test_backend_reports_the_demo_model(demo_backend):
    info = demo_backend.info
    assert info.name == "llama.cpp" and info.demo
    assert info.prompt_style == "completion"      # a base model: no chat template
    assert info.device == "CPU"


def test_plan_and_write_land_on_target(demo_backend):
    writer = AgentWriter(demo_backend, seed=7)
    sections = writer.plan(INSTRUCTION, 400)
    assert sections and sum(s.target_words for s in sections) == 400
    job = Job(INSTRUCTION, 400, sections)
    stats = writer.write(job)
    for s in job.sections:
        assert s.status == DONE
        assert 0.9 * s.target_words <= s.words <= 1.12 * s.target_words, (s.words, s.target_words)
    assert 0.9 * 400 <= job.words <= 1.1 * 400
    assert stats.generated_tokens > 300
    assert ends_sentence(job.sections[-1].text)


def test_prefix_cache_is_reused_across_sections(demo_backend):
    writer = AgentWriter(demo_backend, seed=3)
    job = Job("Write a story about a fox and a crow.", 300,
              [Section("The fox sees the crow with cheese", 100), Section("The fox flatters the crow", 100),
               Section("The crow sings and drops the cheese", 100)])
    stats = writer.write(job)
    # every section prompt contains all earlier text, yet only new tokens are evaluated
    assert stats.prompt_tokens > 2 * stats.prompt_tokens_evaluated
    assert stats.prompt_tokens_evaluated < stats.generated_tokens + 400


def test_steer_keeps_end_of_text_away(demo_backend):
    # "The end." invites the model to stop; with allow_end=False it must keep writing.
    pieces = []

    def on_piece(p):
        pieces.append(p)
        return Steer(allow_end=False)

    g = demo_backend.generate(Prompt(user=["The end."]), max_tokens=40, on_piece=on_piece)
    assert g.finish == "length" and g.generated_tokens == 40
    assert "".join(pieces) == g.text


def test_cancel_from_another_thread_is_prompt_and_keeps_text(demo_backend):
    writer = AgentWriter(demo_backend, seed=5)
    job = Job("Write a long story about a river.", 1500, [Section("The river in spring", 1500)])
    _, stopped_in = write_then_cancel(writer, job, pieces=30, wait_s=60, join_s=10)
    sec = job.sections[0]
    assert sec.status == WRITING
    assert count_words(sec.text) >= 10
    assert stopped_in < 5   # generous bound; the benchmark measures it precisely

    # resume: the interrupted section is continued, not restarted
    before = sec.text
    job.sections[0].target_words = count_words(before) + 60
    writer.write(job)
    assert sec.status == DONE
    assert sec.text.startswith(before.rstrip()[:200])
    # on target, or (no sentence ending between 92 % and the cap) at the last full sentence
    # from 80 % (LengthControl.short); never flagged
    assert sec.words >= 0.92 * sec.target_words or (
        sec.words >= writer.length.short * sec.target_words and ends_sentence(sec.text)), \
        (sec.words, sec.target_words, sec.text[-200:])
    assert not sec.needs_attention


def test_chinese_instruction_counts_characters(demo_backend):
    writer = AgentWriter(demo_backend, seed=11)
    job = Job("写一篇关于春天的短文，约120字。", 120, [Section("春天的景色", 120)])
    writer.write(job)
    assert job.words >= 0.9 * 120


def test_markup_tokens_are_never_sampled_but_whitespace_is(demo_backend):
    never = set(demo_backend._markup_token_ids())
    image = demo_backend.llm.tokenize(b"<start_of_image>", add_bos=False, special=True)
    assert len(image) == 1 and image[0] in never
    for text in (b"\n\n", b"  ", b" the"):
        tok = demo_backend.llm.tokenize(text, add_bos=False, special=False)
        assert tok and tok[0] not in never
    # a prompt full of markup does not make the model print special tokens
    g = demo_backend.generate(Prompt(user=["<table><tr><td><start_of_image>"]), max_tokens=30)
    assert "<start_of_image>" not in g.text and "<td>" not in g.text


def test_context_grows_for_long_jobs_but_never_past_max_ctx(demo_model):
    from longhand.core.backends.llama import LlamaCppBackend
    fixed = LlamaCppBackend(demo_model, n_ctx=2048, max_ctx=2048)
    try:
        fixed.ensure_context(10_000)
        assert fixed.info.n_ctx == 2048
    finally:
        fixed.close()
    growing = LlamaCppBackend(demo_model, n_ctx=2048, max_ctx=8192)
    try:
        growing.ensure_context(5000)
        assert growing.info.n_ctx == 8192
        growing.ensure_context(50_000)          # capped: the 32k-token model, the 8k limit
        assert growing.info.n_ctx == 8192
        g = growing.generate(Prompt(user=["Once upon a time"]), max_tokens=5)
        assert g.generated_tokens == 5
    finally:
        growing.close()


def test_trimmed_sections_reuse_the_generated_token_ids(demo_backend):
    """A section cut back to a sentence end still matches the KV cache token for token."""
    # as in the engine: a section starts after its heading's blank line
    g = demo_backend.generate(Prompt(user=["# The Harbour\n\n## Morning\n\n"]), max_tokens=40)
    ids = demo_backend._generated_memo[g.text]
    trimmed = g.text.lstrip()[: max(1, len(g.text.lstrip()) * 2 // 3)]
    got = demo_backend._from_generated(trimmed)
    assert got is not None
    assert demo_backend.llm.detokenize(got).decode("utf-8", "replace") == trimmed
    # all but the last few ids are the generated ones
    lead = 1 if g.text[:1].isspace() and ids and demo_backend._piece(ids[0]).isspace() else 0
    assert got[: len(got) - 3] == ids[lead: lead + len(got) - 3]


def test_text_the_context_holds_is_read_from_it_however_it_was_tokenized(demo_backend):
    """A prompt's text that the KV cache already holds, spelled by other ids than a fresh
    tokenization would give (a scene joined from two answers, cut back, or written in pieces),
    is taken from the cache: only what follows it is evaluated."""
    from longhand.core.backends.base import Sampling
    head = "# The Harbour\n\n"
    # the cache holds "quiet" split as "qu" + "iet" (two segments tokenized apart)
    demo_backend.generate(Prompt(user=[head, "The harbour was qu", "iet that morning, and the boats"]), max_tokens=1)
    joined = "The harbour was quiet that morning, and the boats"
    assert demo_backend.llm.tokenize(joined.encode(), add_bos=False, special=False) != \
        demo_backend._tokens("The harbour was qu", False) + demo_backend._tokens("iet that morning, and the boats", False)
    before = demo_backend.prompt_tokens_evaluated
    demo_backend.generate(Prompt(user=[head, joined, " lay still."]), max_tokens=1)
    assert demo_backend.prompt_tokens_evaluated - before <= len(demo_backend._tokens(" lay still.", False)) + 1
    # a text written in two calls (the second after the first was cut back), then passed back
    # whole with an ask after it: only the ask is evaluated
    greedy = Sampling(temperature=0.0)
    g1 = demo_backend.generate(Prompt(user=[head], answer=[]), max_tokens=40, sampling=greedy)
    cut = g1.text.lstrip()[: len(g1.text.lstrip()) * 2 // 3].rstrip()
    g2 = demo_backend.generate(Prompt(user=[head], answer=[cut]), max_tokens=30, sampling=greedy)
    ask = "\n\nThe next morning"
    before = demo_backend.prompt_tokens_evaluated
    demo_backend.generate(Prompt(user=[head], answer=[cut + g2.text, ask]), max_tokens=1, sampling=greedy)
    assert demo_backend.prompt_tokens_evaluated - before <= len(demo_backend._tokens(ask, False)) + 2


def test_names_given_as_dry_breakers_are_never_penalised_as_repeats(demo_backend):
    # a strong DRY penalty keeps the model from completing a name it has written before
    # (the instruct model wrote "Ile Marren" and "Else" for Ilse); a story's names are breakers
    from longhand.core.backends.base import Sampling
    prompt = Prompt(user=["The cartographer's name was Ilse Marren. Everyone in Saltmarsh knew Ilse Marren. "
                          "The Duke sent for Ilse Marren. At dawn Ilse"])
    strong = dict(temperature=0.0, dry_multiplier=6.0, dry_base=2.0, dry_allowed_length=2, repeat_penalty=1.0)
    without = demo_backend.generate(prompt, max_tokens=12, sampling=Sampling(**strong)).text
    named = demo_backend.generate(prompt, max_tokens=12,
                                  sampling=Sampling(**strong, dry_breakers=("Ilse", "Marren"))).text
    assert not without.startswith(" Marren")
    assert named.startswith(" Marren")


def test_banned_characters_never_reach_the_text(demo_backend):
    # a chat model's story is sampled with "*" banned (it set whole paragraphs in bold)
    from longhand.core.backends.base import Sampling
    prompt = Prompt(user=["**Note:** this is **very** important.\n\n**Warning:** do **not** touch.\n\n**"])
    plain = dict(temperature=0.0, repeat_penalty=1.0, dry_multiplier=0.0)
    free = demo_backend.generate(prompt, max_tokens=40, sampling=Sampling(**plain)).text
    banned = demo_backend.generate(prompt, max_tokens=40, sampling=Sampling(**plain, ban_chars="*")).text
    assert "*" in free
    assert "*" not in banned and banned.strip()


def test_invisible_characters_are_never_written(demo_backend):
    # the demo model wrote "Read more\u200b\u200bThe" into a story: zero-width spaces that break
    # searching, counting and the PDF's text. Never sampled, and taken out if one slips through.
    from longhand.core.backends.base import Sampling
    prompt = Prompt(user=["<p>Lighthouse keepers were responsible for keeping ships safe. They would...Read more"
                          "\u200b\u200b</p>\n<p>Read more\u200b\u200b</p>\n<p>Read more\u200b"])
    text = demo_backend.generate(prompt, max_tokens=40, sampling=Sampling(temperature=0.0)).text
    assert text.strip()
    assert not set(text) & set("\u200b\u2060\ufeff")


def test_a_text_that_avoids_the_books_phrases_repeats_none_of_its_4grams(demo_backend):
    # a novel's scene may not repeat a word 4-gram of the book so far (Sampling.avoid): the
    # instruct model's first novel wrote "stood at the edge of" 41 times
    from longhand.core.backends.base import Sampling
    from longhand.core.text.phrases import PhraseBook, function_word
    from longhand.core.text.wordcount import grams, repeated_ngram_share, units
    prompt = Prompt(user=["The lighthouse keeper climbed the stairs. The lighthouse keeper climbed the stairs. "
                          "The lighthouse keeper climbed the stairs. The lighthouse keeper"])
    plain = dict(temperature=0.0, repeat_penalty=1.0, dry_multiplier=0.0)
    free = demo_backend.generate(prompt, max_tokens=60, sampling=Sampling(**plain)).text
    book_text = "The lighthouse keeper climbed the stairs. " * 3 + free
    book = PhraseBook(book_text, tail="The lighthouse keeper")
    avoided = demo_backend.generate(prompt, max_tokens=60, sampling=Sampling(**plain, avoid=book)).text
    seen = grams(units(book_text), 4)
    assert repeated_ngram_share("The lighthouse keeper" + free, 4, seen=seen) > 0.5     # greedy, it loops
    assert units(avoided)[:1] != ["climbed"] and len(units(avoided)) >= 20
    # every 4-gram of the book it repeats ends in a function word (never banned: the next
    # word is)
    repeats = [g for g in grams(units("The lighthouse keeper" + avoided), 4) if g in set(seen)]
    assert all(function_word(g[-1]) for g in repeats), repeats


def test_a_banned_word_is_banned_glued_to_the_last_word_too(demo_backend):
    # after "stood at the" a banned " edge" must not come back as "theedge" (phrases penalised
    # through DRY came back run together: "ofthe")
    import math

    import llama_cpp as C

    from longhand.core.text.phrases import PhraseBook
    demo_backend.generate(Prompt(user=["She stood at the"]), max_tokens=1)
    g = PhraseBook("she stood at the edge of the sea").guard()
    g.feed("she stood at the")
    assert g.ends_in_letter and g.banned() == {"edge"}
    ctx = demo_backend.llm._ctx.ctx
    demo_backend._ban_words(ctx, g)
    logits = C.llama_get_logits_ith(ctx, -1)
    tok = demo_backend.llm.tokenize
    spaced, glued = tok(b" edge", add_bos=False, special=False), tok(b"edge", add_bos=False, special=False)
    assert len(spaced) == 1 and len(glued) == 1
    assert logits[spaced[0]] == -math.inf and logits[glued[0]] == -math.inf
    assert logits[tok(b" and", add_bos=False, special=False)[0]] > -math.inf
    # a word one token holds spaced but not glued: its glued spelling's first token is banned
    # after a word too ("the" + "land" + "scape" made "thelandscape")
    word = next(w for w in ("landscape", "harbour", "lighthouse", "cartographer", "shoreline")
                if len(tok(b" " + w.encode(), add_bos=False, special=False)) == 1
                and len(tok(w.encode(), add_bos=False, special=False)) > 1)
    demo_backend.generate(Prompt(user=["She stood at the"]), max_tokens=1)
    g = PhraseBook(f"she stood at the {word} again").guard()
    g.feed("she stood at the")
    demo_backend._ban_words(ctx, g)
    logits = C.llama_get_logits_ith(ctx, -1)
    assert logits[tok(word.encode(), add_bos=False, special=False)[0]] == -math.inf


def test_a_text_sampled_in_latin_letters_holds_no_other_script(demo_backend):
    # banned a phrase it had used, the instruct model spelt a word half in Cyrillic
    # ("cartографers"); accented Latin letters and English punctuation stay
    import re

    from longhand.core.backends.base import Sampling
    prompt = Prompt(user=["The note read: “Дорогой друг, сегодня ветер очень сильный, и мы"])
    plain = dict(temperature=0.0, repeat_penalty=1.0, dry_multiplier=0.0)
    other = re.compile(r"[\u0370-\u1dff]")
    free = demo_backend.generate(prompt, max_tokens=30, sampling=Sampling(**plain)).text
    banned = demo_backend.generate(prompt, max_tokens=30, sampling=Sampling(**plain, ban_scripts=True)).text
    assert other.search(free)
    assert not other.search(banned) and banned.strip()
    ids = set(demo_backend._script_token_ids())
    for ch in "\u00e9\u00f1\u00fc\u0301\u2014\u201c\u1ea1":   # accents, a combining mark, a dash, Vietnamese
        assert not ids & set(demo_backend.llm.tokenize(ch.encode(), add_bos=False, special=False)), ch


def test_a_text_sampled_without_cjk_holds_no_chinese_character(demo_backend):
    # an English text is sampled with Chinese, Japanese and Korean characters banned (the
    # instruct model slipped "gather更多的" into an English scene); English punctuation stays
    from longhand.core.backends.base import Sampling
    from longhand.core.text.wordcount import has_cjk
    prompt = Prompt(user=["The harbour master\u2019s note read: \u201c今天的海风很大，我们"])
    plain = dict(temperature=0.0, repeat_penalty=1.0, dry_multiplier=0.0)
    free = demo_backend.generate(prompt, max_tokens=30, sampling=Sampling(**plain)).text
    banned = demo_backend.generate(prompt, max_tokens=30, sampling=Sampling(**plain, ban_cjk=True)).text
    assert has_cjk(free)
    assert not has_cjk(banned) and banned.strip()
    assert not any("\u3000" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uff00" <= ch <= "\uffef"
                   for ch in banned)
    ids = set(demo_backend._cjk_token_ids())
    for ch in "\u2014\u2019\u201c\u2026\u00e9":       # a dash, quotes, an ellipsis, an accent
        assert not ids & set(demo_backend.llm.tokenize(ch.encode(), add_bos=False, special=False))


def test_the_models_vocabulary_tells_a_word_from_words_run_together(demo_backend):
    # (text.glued splits "thelandscape" where " thelandscape" is no token of the model's own)
    assert demo_backend.whole_word("within") and demo_backend.whole_word("tonight")
    assert demo_backend.whole_word("thelandscape") is False and demo_backend.whole_word("tostop") is False
