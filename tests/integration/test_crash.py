"""Crash test: SIGKILL a real ``longhand write --project`` on the demo model mid-section,
reopen the project, measure the words lost, then resume with the same command.

The writing process runs the real CLI; a small wrapper only *observes* the engine's events
(it logs every streamed piece to stderr after the autosaver has seen it), so the test knows
exactly what the process had written when it was killed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from longhand.core.engine.plan import DONE, WRITING
from longhand.core.engine.writer import _cut_leak
from longhand.core.projects.project import Project
from longhand.core.text.wordcount import continue_from, count_words

TRACER = r"""
import json, sys, time
from longhand.cli import write as w
from longhand.core.engine.writer import SectionStarted, SectionToken
_progress = w.Progress.__call__
def traced(self, e):
    if isinstance(e, SectionStarted):
        sys.stderr.write("\x1eSTART %d %s\n" % (e.index, e.mode))
    elif isinstance(e, SectionToken):
        sys.stderr.write("\x1ePIECE %d %.3f %s\n" % (e.index, time.time(), json.dumps(e.text)))
    sys.stderr.flush()
    return _progress(self, e)
w.Progress.__call__ = traced
from longhand.core.backends.llama import LlamaCppBackend
_generate = LlamaCppBackend.generate
def generate(self, *a, **k):
    sys.stderr.write("\x1eGENERATE\n")     # the engine starts a generate call (an attempt)
    sys.stderr.flush()
    return _generate(self, *a, **k)
LlamaCppBackend.generate = generate
from longhand.cli import main
sys.exit(main(sys.argv[1:]))
"""

INSTRUCTION = "Write a 200-word story about a lighthouse keeper who finds a message in a bottle."


def _normal(text: str) -> str:
    return " ".join(text.split())


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def streamed_text(log: list[str], index: int, until: float = float("inf")) -> str:
    """Section ``index`` as the engine had it when the process died (or at wall-clock time
    ``until``), rebuilt from the pieces it streamed, call by call, with the engine's own rules:
    a finished call's text is cut where the model began another part, the next call continues
    after a break (see AgentWriter.write_section). The last call was interrupted: all its
    pieces count."""
    calls: list[list[str]] | None = None
    for line in log:
        if line.startswith(f"\x1eSTART {index} "):
            calls = [[]]
        elif calls is not None and line.startswith("\x1eGENERATE"):
            calls.append([])
        elif calls is not None and line.startswith(f"\x1ePIECE {index} "):
            _, _, stamp, piece = line.split(" ", 3)
            if float(stamp) <= until:
                calls[-1].append(json.loads(piece))
        elif calls is not None and line.startswith("\x1eSTART "):
            break
    text = ""
    calls = [c for c in (calls or []) if c] or [[]]
    for n, pieces in enumerate(calls):
        new = "".join(pieces)
        if n < len(calls) - 1:
            new = _cut_leak(new)
        text = (continue_from(text) + new) if text else new.lstrip()
    return text


@pytest.mark.slow
def test_sigkill_mid_section_loses_under_a_second_and_resumes(tmp_path, demo_model):
    project_file = tmp_path / "story.longhand"
    tracer = tmp_path / "traced_longhand.py"
    tracer.write_text(TRACER)
    cmd = ["write", INSTRUCTION, "--project", str(project_file), "--model", str(demo_model),
           "--seed", "7"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(tracer), *cmd], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env)
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        # Wait until the saved file shows a section being written with some text in it.
        deadline = time.monotonic() + 1200
        seen = None
        while time.monotonic() < deadline and proc.poll() is None:
            data = _read(project_file)
            if data:
                writing = [s for s in data["sections"] if s["status"] == WRITING and count_words(s["text"]) >= 15]
                if writing:
                    seen = writing[0]
                    break
            time.sleep(0.05)
        assert seen is not None, f"the writer never saved a section mid-way:\n{''.join(log)[-2000:]}"
        time.sleep(random.uniform(0.2, 1.0))      # kill at an arbitrary moment, not right after a save
        assert proc.poll() is None, "the job finished before it could be killed; use a longer job"
        assert Path(str(project_file) + ".lock").exists()
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    # Reopen: nothing is damaged, and the section being written is there up to the last save.
    project = Project.open(project_file)          # the dead process's lock is stale: taken over
    assert project.warnings == []
    where = project.resume_point()
    assert where is not None, "the interrupted section must stay 'writing' so the job continues it"
    index, saved_words = where
    saved = project.sections[index].text
    streamed = streamed_text(log, index)
    assert _normal(streamed).startswith(_normal(saved)), "the saved text is what was streamed"
    lost = count_words(streamed) - count_words(saved)
    # What the model streamed in the last WINDOW seconds before the kill. The autosaver saves
    # on the first piece at least a second after its last save, so everything older than that
    # (plus the time one save takes) must be on disk. A bound in seconds of text, not in words:
    # a faster machine streams more words per second.
    window = 1.5
    recent = count_words(streamed) - count_words(streamed_text(log, index, until=killed_at - window))
    print(f"\nSIGKILL mid-section: section {index + 1} streamed {count_words(streamed)} words, "
          f"saved {count_words(saved)}, lost {lost} words; {recent} words streamed in the "
          f"last {window} s before the kill")
    assert saved_words >= 15
    assert 0 <= lost <= recent + 1, "more was lost than the last 1.5 s of streaming"
    for s in project.sections[:index]:
        assert s.status == DONE and s.text.strip()
    project.close()

    # Resume with the same command: the interrupted section is continued, not restarted.
    manuscript = tmp_path / "story.pdf"
    done = subprocess.run([sys.executable, "-m", "longhand", *cmd, "--json", "--out", str(manuscript)],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"continuing section {index + 1} from {saved_words} words" in done.stderr
    final = Project.load(project_file)
    assert final.finished
    assert _normal(final.sections[index].text).startswith(_normal(saved))
    assert final.words > project.words
    summary = json.loads(done.stdout)
    assert summary["words"] == final.words
    assert not Path(str(project_file) + ".lock").exists()
    # ... and ``write --out`` exported the finished manuscript through the same exporter.
    from pypdf import PdfReader
    pdf_text = "".join(page.extract_text() for page in PdfReader(manuscript).pages)
    assert "".join(final.sections[index].text.split())[:200] in "".join(pdf_text.split())
