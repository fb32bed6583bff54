"""Core: autosaving a project while the engine writes it (shared by the CLI and the GUI).

Subscribe an :class:`Autosave` to the engine's events: it keeps the streamed text in the
project and saves the file at most once every ``interval`` seconds, and at every milestone
(plan ready, section started or finished, job done). A crash loses at most ``interval``
seconds of text. Projects without a path are not saved.
"""

from __future__ import annotations

import time

from .engine import JobDone, PlanReady, SectionDone, SectionStarted, SectionToken
from .project import Project


class Autosave:
    """Save the project at most every ``interval`` seconds while writing, and at each milestone."""

    def __init__(self, project: Project, interval: float = 1.0) -> None:
        self.project = project
        self.interval = interval
        self._last = 0.0
        self.saves = 0

    def __call__(self, e) -> None:
        if self.project.path is None:
            return
        now = time.monotonic()
        milestone = isinstance(e, (PlanReady, SectionStarted, SectionDone, JobDone))
        if isinstance(e, SectionToken):
            # keep the streamed tokens in the file too: a crash loses at most ``interval`` s
            sec = self.project.sections[e.index]
            sec.text += e.text
        if milestone or now - self._last >= self.interval:
            self._last = now
            self.project.save()
            self.saves += 1
