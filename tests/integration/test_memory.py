"""Core: novel-length memory (model-written section summaries, bounded context)."""

from __future__ import annotations

from helpers import STORY
from longhand.core.backends.base import Sampling
from longhand.core.engine.memory import SectionSummarizer
from longhand.core.engine.plan import DONE, Section
from longhand.core.text.wordcount import count_words


def test_demo_model_summarizes_a_section(demo_backend):
    memory = SectionSummarizer(demo_backend, sampling=Sampling(temperature=0.3, seed=3))
    section = Section("Mara finds a bottle with a letter", 150, text=STORY, status=DONE)
    summary = memory.summarize(section)
    assert 3 <= count_words(summary) <= 65
    assert summary not in STORY                        # written, not copied
    assert any(name in summary for name in ("Mara", "Elin", "Petter", "Skarv", "Gull Rock"))
    assert memory.ensure([section], [0]) == 1 and section.summary
