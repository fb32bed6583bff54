"""Core: novel-length memory (model-written section summaries, bounded context)."""

from __future__ import annotations

from longhand.core.backends.base import Sampling
from longhand.core.engine.memory import SectionSummarizer
from longhand.core.engine.plan import DONE, Section
from longhand.core.text.wordcount import count_words

STORY = ("Mara had kept the light on Gull Rock for eleven years. Every evening she climbed the ninety "
         "steps, trimmed the wick and watched the beam sweep the grey water. Nothing ever came ashore "
         "but kelp and broken crates, until the morning of the storm. The bottle was green and heavy, "
         "wedged between two rocks below the landing. Inside, rolled tight and tied with red thread, "
         "was a letter from a girl named Elin, who wrote that she was stranded on the island of Skarv "
         "with her father, whose boat had sunk. Mara read it twice, then ran down to the harbour to "
         "wake old Petter, who owned the only motorboat left in the village.")


def test_demo_model_summarizes_a_section(demo_backend):
    memory = SectionSummarizer(demo_backend, sampling=Sampling(temperature=0.3, seed=3))
    section = Section("Mara finds a bottle with a letter", 150, text=STORY, status=DONE)
    summary = memory.summarize(section)
    assert 3 <= count_words(summary) <= 65
    assert summary not in STORY                        # written, not copied
    assert any(name in summary for name in ("Mara", "Elin", "Petter", "Skarv", "Gull Rock"))
    assert memory.ensure([section], [0]) == 1 and section.summary
