"""Shared test helpers that are not doubles (those are in fakes.py, ggufmaker.py, hubserver.py,
openai_stub.py) nor GUI helpers (guitools.py): the CLI run as a subprocess, a sample story, and
a write cancelled from another thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from longhand.core.engine.events import SectionToken
from longhand.core.engine.writer import AgentWriter, Job
from longhand.core.errors import CancelToken

# ---------------------------------------------------------------------------------------
# The command line


def run(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    """``python -m longhand ARGS`` with ``env`` added to this process's environment."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "longhand", *args], capture_output=True, text=True,
                          timeout=timeout, env=e)


def assert_clean_error(proc, *needles):
    """Exit status 2 and one line ``longhand: error: ...`` (no traceback) holding every needle."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("longhand: error:"), proc.stderr
    for n in needles:
        assert n.lower() in lines[0].lower()


# ---------------------------------------------------------------------------------------
# Sample text

STORY = ("Mara had kept the light on Gull Rock for eleven years. Every evening she climbed the ninety "
         "steps, trimmed the wick and watched the beam sweep the grey water. Nothing ever came ashore "
         "but kelp and broken crates, until the morning of the storm. The bottle was green and heavy, "
         "wedged between two rocks below the landing. Inside, rolled tight and tied with red thread, "
         "was a letter from a girl named Elin, who wrote that she was stranded on the island of Skarv "
         "with her father, whose boat had sunk. Mara read it twice, then ran down to the harbour to "
         "wake old Petter, who owned the only motorboat left in the village.")


# ---------------------------------------------------------------------------------------
# The engine

def write_then_cancel(writer: AgentWriter, job: Job, *, pieces: int, wait_s: float,
                      join_s: float) -> tuple[list[str], float]:
    """Write ``job`` on another thread and cancel it once ``pieces`` pieces have streamed (or
    ``wait_s`` seconds have passed, or the write has ended); the thread must then end within
    ``join_s`` seconds. Returns the streamed pieces and the seconds from cancel to the end."""
    cancel = CancelToken()
    streamed: list[str] = []

    def on_event(e):
        if isinstance(e, SectionToken):
            streamed.append(e.text)

    t = threading.Thread(target=writer.write, args=(job,), kwargs=dict(on_event=on_event, cancel=cancel))
    t.start()
    deadline = time.monotonic() + wait_s
    while len(streamed) < pieces and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.02)
    cancel.cancel()
    t0 = time.monotonic()
    t.join(timeout=join_s)
    assert not t.is_alive()
    return streamed, time.monotonic() - t0
