"""Bench: repetition (share of repeated 4-grams) with a short vs a long DRY window.

    python bench/dry_window.py narrow wide

narrow: DRY and repetition penalty look back 256 tokens; wide: DRY looks back 2048 tokens
of the text so far (the default since this measurement). Prints words, repeated 4-gram
share and seconds for a 1,200-word, 3-section job on the demo model.
"""
import sys
import time

from longhand.core.backends.llama import LlamaCppBackend
from longhand.core.engine.plan import Section
from longhand.core.engine.writer import AgentWriter, Job
from longhand.core.library.demo import demo_model_path
from longhand.core.text.wordcount import repeated_ngram_share

b = LlamaCppBackend(demo_model_path(), n_ctx=8192, n_threads=1)
res = {}
for label in sys.argv[1:]:
    job = Job("Write a 1200-word story about a family of clockmakers in a mountain town.", 1200,
              [Section("The grandfather builds the town clock", 400), Section("The father leaves for the city", 400), Section("The daughter repairs the clock", 400)])
    w = AgentWriter(b, seed=5, memory=False)
    w.sampling.dry_last_n = 2048 if label == "wide" else 256
    t = time.time()
    w.write(job)
    res[label] = (job.words, round(repeated_ngram_share("\n\n".join(s.text for s in job.sections)), 3), round(time.time()-t,1))
    print(label, res[label], flush=True)
