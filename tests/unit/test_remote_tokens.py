"""Remote backend: token estimates without a tokenizer (no server needed)."""

from longhand.core.backends.remote import estimate_tokens


def test_estimate_without_tokenizer_errs_high():
    text = "The keeper walked along the wet stones and looked at the sea."
    assert estimate_tokens(text) >= 13
    assert estimate_tokens("春天的景色") == 5
