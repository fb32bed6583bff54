"""The length benchmark's prompt set: every bucket and language, each prompt states its length."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_length_prompt_set_covers_buckets_and_languages():
    sys.path.insert(0, str(BENCH))
    try:
        import length
    finally:
        sys.path.remove(str(BENCH))
    prompts = length.load_prompts(BENCH / "prompts" / "length.jsonl")
    assert {p["lang"] for p in prompts} == {"en", "zh"}
    assert {p["type"] for p in prompts} == {"story", "report", "article", "email"}
    assert {length.bucket_of(p["length"]) for p in prompts} == {b[2] for b in length.BUCKETS}
    assert min(p["length"] for p in prompts) == 100 and max(p["length"] for p in prompts) == 20000
    from longhand.core.text.wordcount import target_from_instruction
    for p in prompts:   # every prompt states the length it is scored against
        assert target_from_instruction(p["prompt"]) == p["length"], p["id"]
