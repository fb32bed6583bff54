"""Remote backend: token estimates without a tokenizer (no server needed)."""

from longhand.core.backends.remote import estimate_tokens


def test_estimate_without_tokenizer_errs_high():
    text = "The keeper walked along the wet stones and looked at the sea."
    assert estimate_tokens(text) >= 13
    assert estimate_tokens("春天的景色") == 5


def test_dry_sequence_breakers_reach_the_server_with_the_names_or_when_changed():
    from longhand.core.backends.base import DRY_SEQ_BREAKERS, Sampling
    from longhand.core.backends.remote import CHAT_FORMAT, OpenAIBackend

    b = object.__new__(OpenAIBackend)        # no server: only how the request is made
    b.model, b.format = "m", CHAT_FORMAT
    assert "dry_sequence_breakers" not in b._params(Sampling(), 10, [])["extra_body"]
    names = b._params(Sampling(dry_breakers=("Ilse",)), 10, [])["extra_body"]["dry_sequence_breakers"]
    assert names == [*DRY_SEQ_BREAKERS, "Ilse"]
    assert b._params(Sampling(dry_seq_breakers=("\n",)), 10, [])["extra_body"]["dry_sequence_breakers"] == ["\n"]
