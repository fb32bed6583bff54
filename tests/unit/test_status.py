"""Section statuses: stored strings unchanged, derived states in one place."""

import json

from longhand.core.engine.plan import Section
from longhand.core.engine.status import (
    SectionStatus,
    all_written,
    display_state,
    is_interrupted,
    is_written,
    needs_writing,
)


def test_status_values_are_the_stored_strings():
    sec = Section("Mara finds a bottle", 300, text="The tide came in.", status="done")
    assert sec.status is SectionStatus.DONE
    assert json.loads(json.dumps(sec.to_dict()))["status"] == "done"
    assert Section.from_dict({"main_point": "x", "target_words": 10, "status": "edited"}).status is SectionStatus.EDITED
    # an unknown stored status: done when there is text, else planned
    assert Section("x", 10, text="Some text.", status="weird").status is SectionStatus.DONE
    assert Section("x", 10, status="weird").status is SectionStatus.PLANNED
    assert f"{SectionStatus.WRITING}" == "writing"


def test_derived_states():
    interrupted = Section("a", 100, text="She rowed", status=SectionStatus.WRITING)
    started = Section("b", 100, text="", status=SectionStatus.WRITING)
    done_empty = Section("c", 100, text="", status=SectionStatus.DONE)
    edited = Section("d", 100, text="By hand.", status=SectionStatus.EDITED)
    assert is_interrupted(interrupted) and interrupted.interrupted
    assert not is_interrupted(started)
    assert is_written(edited) and edited.written
    assert not is_written(done_empty)                 # done without text is written again
    assert needs_writing(interrupted) and needs_writing(done_empty) and not needs_writing(edited)
    locked = Section("e", 100, text="", status=SectionStatus.PLANNED, locked=True)
    assert not needs_writing(locked)
    assert all_written([edited, locked]) and not all_written([edited, interrupted])
    assert not all_written([])                        # no outline: there is something to do
    assert display_state(interrupted) == "interrupted"
    assert display_state(interrupted, streaming=True) == "writing"
    assert display_state(edited) == "edited"
    assert display_state(Section("f", 100, text="x", status="done", locked=True)) == "locked"
