"""The book's phrases a scene may not repeat (text.phrases): which words are banned when."""

from longhand.core.text.phrases import PhraseBook
from longhand.core.text.wordcount import grams, units


def feed(guard, text):
    for piece in text.split(" "):
        guard.feed(" " + piece if piece else " ")


def test_the_word_that_would_repeat_a_4gram_is_banned_after_its_three_words():
    book = PhraseBook("She stood at the edge of the cliff.")
    g = book.guard()
    feed(g, "Then he stood at the")
    assert g.banned() == {"edge"}
    feed(g, "rim of the")
    assert g.banned() == set()


def test_a_word_the_text_ends_in_counts_as_finished():
    # the next token may start a new word: "sharp" is done, "edge" would repeat "the sharp edge"
    book = PhraseBook("at the sharp edge of the sea")
    g = book.guard()
    g.feed("at the sha")
    assert g.ends_in_letter and g.banned() == set()
    g.feed("rp")
    assert g.ends_in_letter and g.banned() == {"edge"}
    assert g.banned_endings() == set()
    g.feed(",")
    assert not g.ends_in_letter and g.banned() == {"edge"}   # (punctuation is not a unit)


def test_a_word_written_in_two_tokens_may_not_be_finished_as_a_banned_one():
    book = PhraseBook("then the keeper's headaches returned")
    g = book.guard()
    g.feed("Then the keeper's head")
    assert g.banned_endings() == {"aches"}
    g.feed("aches")
    assert g.banned() == {"returned"} and g.banned_endings() == set()


def test_function_words_are_never_banned_the_next_word_is():
    # banned "to" and "of", the instruct model dropped them ("I am willing risk my reputation")
    book = PhraseBook("I am willing to risk my reputation")
    g = book.guard()
    feed(g, "and I am willing")
    assert g.banned() == set()
    feed(g, "to")
    assert g.banned() == {"risk"}


def test_an_apostrophe_joins_a_word_and_a_closing_quote_ends_it():
    book = PhraseBook("she said she didn't know")
    g = book.guard()
    g.feed("and she said she didn")
    g.feed("'")
    assert g.banned() == set()      # "didn'" may go on: "didn't"
    g.feed("t")
    assert g.banned() == {"know"}


def test_only_the_books_4grams_are_banned_not_the_ones_the_generation_writes():
    # within the prompt's reach DRY stops loops; a ban there turns copies into copies in
    # other words
    book = PhraseBook("")
    g = book.guard()
    feed(g, "the tide rolled inland and the tide rolled")
    assert g.banned() == set()
    assert PhraseBook("the tide rolled inland").guard().banned() == set()


def test_the_limit_allows_that_many_uses():
    twice = PhraseBook("the air was thick. The air was thick.", limit=3).guard()
    feed(twice, "and the air was")
    assert twice.banned() == set()
    thrice = PhraseBook("the air was thick. The air was thick. The air was thick.", limit=3).guard()
    feed(thrice, "and the air was")
    assert thrice.banned() == {"thick"}


def test_a_names_words_are_never_banned_nor_the_word_after_a_names_word_within_it():
    book = PhraseBook("Members of the Guild of Cartographers gathered. Members of the Guild of Cartographers left.",
                      names=["the Guild of Cartographers", "Ilse Marren"])
    g = book.guard()
    feed(g, "members of the")
    assert g.banned() == set()      # "guild" is a name's word
    feed(g, "guild")
    assert g.banned() == set()      # "of" follows "guild" in the name
    feed(g, "of")
    assert g.banned() == set()
    feed(g, "cartographers")
    assert g.banned() == {"gathered", "left"}


def test_the_tail_is_where_the_first_4grams_start():
    book = PhraseBook("the old keeper climbed slowly", tail="Every night the old keeper climbed")
    assert book.guard().banned() == {"slowly"}
    assert PhraseBook("the old keeper climbed slowly", tail="").guard().banned() == set()


def test_a_text_that_takes_no_banned_word_repeats_no_4gram_of_the_book():
    # the property the sampler relies on: a text written word by word, never taking a word
    # the guard bans, repeats no 4-gram of the book
    import random
    rng = random.Random(4)
    vocab = "ocean darkness cold silent standing watching edge cliff rocks".split()
    book = PhraseBook(" ".join(rng.choice(vocab) for _ in range(200)))
    g = book.guard()
    words = []
    for _ in range(300):
        allowed = [w for w in vocab if w not in g.banned()]
        if not allowed:
            words.append("and")
            g.feed(" and")
            continue
        w = rng.choice(allowed)
        words.append(w)
        g.feed(" " + w)
    seen = set(_grams(book))
    made = [gm for gm in grams(units(" ".join(words)), 4) if "and" not in gm]
    assert len(made) > 40
    assert not any(gm in seen for gm in made)


def _grams(book):
    return [k + (w,) for k, nxt in book.followers.items() for w in nxt]
