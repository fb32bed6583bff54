"""Core: the streaming loop both backends share (pieces, steering, cancel, first-piece time)."""

from __future__ import annotations

from longhand.core.backends.base import Steer
from longhand.core.backends.streaming import PieceStream
from longhand.core.errors import CancelToken


def test_pieces_reach_the_engine_and_its_steering_is_kept():
    seen: list[str] = []

    def on_piece(piece: str):
        seen.append(piece)
        return Steer(allow_end=len(seen) > 1)

    out = PieceStream(on_piece, None, allow_end=False)
    assert out.steer.allow_end is False and out.finish == "length"
    assert out.feed("Once") is False
    assert out.steer.allow_end is False
    assert out.feed("") is False                 # half a UTF-8 character: kept, not sent
    assert out.feed(" upon") is False
    assert seen == ["Once", " upon"] and out.steer.allow_end is True
    assert out.text == "Once upon" and out.first > 0
    g = out.result(prompt_tokens=10, evaluated=4, generated=3)
    assert (g.text, g.finish, g.prompt_tokens, g.prompt_tokens_evaluated, g.generated_tokens) == \
        ("Once upon", "length", 10, 4, 3)
    assert g.seconds >= g.first_token_seconds > 0


def test_stop_ends_the_stream_with_the_piece_kept():
    out = PieceStream(lambda piece: Steer(stop=piece.endswith(".")), None, allow_end=True)
    assert out.feed("It ended") is False
    assert out.feed(".") is True
    assert out.finish == "stop" and out.text == "It ended."


def test_an_answer_of_none_keeps_the_steering():
    out = PieceStream(lambda piece: None, None, allow_end=False)
    out.feed("a")
    assert out.steer.allow_end is False and out.finish == "length"


def test_cancel_is_seen_and_keeps_what_was_written():
    cancel = CancelToken()
    out = PieceStream(None, cancel, allow_end=True)
    assert out.cancelled() is False
    out.feed("kept")
    cancel.cancel()
    assert out.cancelled() is True
    g = out.result(prompt_tokens=1, evaluated=1, generated=1)
    assert (g.finish, g.text) == ("cancelled", "kept")


def test_invisible_characters_never_reach_the_text():
    # The demo model once wrote "Read more\u200b\u200bThe": a manuscript that searches, counts
    # and prints wrong. A piece that was only such characters is an empty piece.
    seen: list[str] = []
    out = PieceStream(lambda piece: seen.append(piece), None, allow_end=True)
    out.feed("Read more\u200b")
    assert out.dropped is True
    out.feed("\u200b")
    out.feed("\ufeffThe\u2060 end, \u200dwith a joiner kept")
    assert out.text == "Read moreThe end, \u200dwith a joiner kept"
    assert seen == ["Read more", "The end, \u200dwith a joiner kept"]
    assert out.result(prompt_tokens=1, evaluated=1, generated=3).text == out.text


def test_a_clean_stream_says_nothing_was_dropped():
    out = PieceStream(None, None, allow_end=True)
    out.feed("plain text")
    assert out.dropped is False and out.text == "plain text"
