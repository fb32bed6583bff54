"""Unit: words a sampler ran together (text.glued), found with a vocabulary and without."""

from __future__ import annotations

from longhand.core.text.glued import glued_words

# what the instruct model's vocabulary holds as one token after a space (measured with its
# tokenizer: " within", " forget", " tonight", " atone"? no: two tokens, yet a word)
WORDS = {"within", "forget", "tonight", "today", "forever", "another", "inside", "itself", "theme", "cannot",
         "often", "inland", "together"}


def known(word: str) -> bool:
    return word in WORDS


TEXT = ("The landscape moved. She saw the landscape and the world. To stop it she had to stop the world, "
        "to stop the landscape, the world. You have your map; have it, have all. Your map, your pen, your name. "
        "She had to take to the water; take it, take all. She went to your house. The Guild of Guild-men. ")


def test_the_instruct_models_run_together_words_are_split():
    text = TEXT + ("Across thelandscape the river ran. Only theworld knew. She wanted tostop it. "
                   "Youhave it, she said, toyour own hand. It would taketo the end. The hall ofGuild men "
                   "stood by theGreywater.")
    assert glued_words(text, known) == {
        "thelandscape": "the landscape", "theworld": "the world", "tostop": "to stop", "Youhave": "You have",
        "toyour": "to your", "taketo": "take to", "ofGuild": "of Guild", "theGreywater": "the Greywater"}


def test_words_are_not_split():
    text = TEXT + ("Within the hour she would forget tonight, and today, forever. Another tide came inside "
                   "itself; the theme often was that we cannot atone. Inland they went together. "
                   "The ship's thelandscape-like bow.")
    assert glued_words(text, known) == {}


def test_a_part_too_short_or_too_rare_is_not_a_word_glued_on():
    # "atone" is two tokens and "one" stands alone often: but a part of three letters is not split
    text = "one one one one. The zeppelin. " + "She came to atone. Tozeppelin rose."
    assert glued_words(text, known) == {}


def test_without_a_vocabulary_only_a_function_word_glued_to_a_capitalised_word_is_split():
    text = TEXT + "Across thelandscape. The hall ofGuild men stood by theGreywater. iPhone, McDonald."
    assert glued_words(text) == {"ofGuild": "of Guild", "theGreywater": "the Greywater"}
    assert glued_words(text, lambda w: None) == {"ofGuild": "of Guild", "theGreywater": "the Greywater"}


def test_a_word_the_vocabulary_lacks_is_split_only_where_the_text_has_its_parts_apart():
    # words of Moby-Dick the instruct model's vocabulary does not hold whole, each a function
    # word and a word the text uses on its own: real words, never written apart in the text
    text = ("The shore, the shore, the shore. A ring, a ring, the ring. The human face, human, human. "
            "He had a cold hand, cold, cold. " * 2
            + "They went ashore. She ate the herring. It was inhuman. Ahold of the cold rope.")
    assert glued_words(text, known) == {}
    # written apart once elsewhere, the same word run together is split
    assert glued_words(text + " She stood by her ring.", known) == {"herring": "her ring"}
