"""Core: autosave, so a crash or a kill -9 loses at most about a second of text.

:class:`Autosave` is an engine event sink (pass it, or call it from yours, as ``on_event``):

* at each milestone (plan ready, section started or done, job done) it saves at once;
* while a section is being written it keeps the streamed tokens and saves them with the
  section's status ``"writing"`` at most every ``interval`` seconds. That is exactly what
  :meth:`AgentWriter.write` needs to *continue* the section after a crash instead of
  starting it again;
* after a user edit, call :meth:`edited`; it saves when the last save is older than
  ``interval`` and otherwise marks the project dirty: call :meth:`flush` from a timer (the
  GUI) or when the edit session ends.

The live text of the section being written is kept beside the project, not in it: the
engine owns ``Section.text`` while it writes, and the saved file shows the section as the
engine would have it after the pieces streamed so far (see :meth:`live_text`).

A failed save (full disk, read-only folder) does not stop the writing: the error is kept in
:attr:`error`, passed to ``on_error`` once per distinct message, and the next save retries.
"""

from __future__ import annotations

import time
from typing import Callable

from ..engine.events import JobDone, PlanReady, SectionDone, SectionStarted, SectionToken
from ..fileio import SaveError
from ..text.wordcount import continue_from
from .project import Project


class Autosave:
    """Save ``project`` on milestones, every ``interval`` s while writing, and after edits."""

    def __init__(self, project: Project, interval: float = 1.0,
                 on_error: Callable[[SaveError], None] | None = None) -> None:
        self.project = project
        self.interval = interval
        self.on_error = on_error
        self.error: SaveError | None = None
        self.saves = 0
        self.dirty = False
        self._last = float("-inf")     # the first save is always due
        self._live: dict[int, tuple[str, list[str]]] = {}   # index -> (base text, streamed pieces)

    # -- engine events ---------------------------------------------------------------------

    def __call__(self, e) -> None:
        if isinstance(e, SectionStarted):
            self._live.pop(e.index, None)
        elif isinstance(e, SectionToken):
            self._stream(e.index, e.text)
            self.dirty = True
        elif isinstance(e, SectionDone):
            self._live.pop(e.index, None)
        if isinstance(e, (PlanReady, SectionStarted, SectionDone, JobDone)):
            self.save()
            if isinstance(e, JobDone):
                # After an error mid-section the streamed text is all there is: it was saved
                # above (the section stays "writing", so the job continues it next time).
                self._live.clear()
        elif self.dirty and time.monotonic() - self._last >= self.interval:
            self.save()

    def _stream(self, index: int, piece: str) -> None:
        sec = self.project.sections[index]
        base, pieces = self._live.get(index, (None, []))
        if base != sec.text:
            # The engine set the section's text (a generate call ended, or this is the first
            # piece): the pieces from now on continue from that text, as the engine does.
            base, pieces = sec.text, []
            self._live[index] = (base, pieces)
        pieces.append(piece)

    def live_text(self, index: int) -> str:
        """The section's text including the pieces streamed since the engine last set it."""
        sec = self.project.sections[index]
        base, pieces = self._live.get(index, (None, []))
        if base != sec.text or not pieces:
            return sec.text
        streamed = "".join(pieces)
        return (continue_from(base) + streamed) if base else streamed.lstrip()

    # -- edits -----------------------------------------------------------------------------

    def edited(self) -> bool:
        """The user changed something. Saves now if the last save is old enough; True if saved."""
        self.dirty = True
        if time.monotonic() - self._last >= self.interval:
            return self.save()
        return False

    def flush(self) -> bool:
        """Save pending changes now (on a timer, on focus loss, before closing)."""
        return self.save() if self.dirty else True

    # -- saving ----------------------------------------------------------------------------

    def save(self) -> bool:
        if self.project.path is None:
            return False
        self._last = time.monotonic()
        originals = {}
        try:
            for i in list(self._live):
                if i < len(self.project.sections):
                    live = self.live_text(i)
                    if live != self.project.sections[i].text:
                        originals[i] = self.project.sections[i].text
                        self.project.sections[i].text = live
            self.project.save()
        except SaveError as err:
            first = self.error is None or str(self.error) != str(err)
            self.error = err
            if first and self.on_error is not None:
                self.on_error(err)
            return False
        finally:
            for i, text in originals.items():
                self.project.sections[i].text = text
        self.error = None
        self.dirty = False
        self.saves += 1
        return True
