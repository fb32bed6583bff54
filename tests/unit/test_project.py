"""Project files: round trip, atomic saves that fail cleanly, repairs with warnings, migrations,
locks, recent list and backups, autosave of streamed text."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from longhand.core.engine.events import JobDone, PlanReady, SectionDone, SectionStarted, SectionToken
from longhand.core.engine.plan import DONE, WRITING, Section
from longhand.core.fileio import SaveError
from longhand.core.projects import lock as lock_mod
from longhand.core.projects import project as project_mod
from longhand.core.projects import recent
from longhand.core.projects.autosave import Autosave
from longhand.core.projects.lock import ProjectError, ProjectLockedError
from longhand.core.projects.project import FORMAT_VERSION, Project, migrate


def sample() -> Project:
    p = Project(instruction="Write a 1200-word story about a lighthouse keeper.", target_words=1200,
                title="The Keeper", author="Ada Lovelace", contact="ada@example.org",
                bible="Keeper: Mara, 60, stubborn.", settings={"temperature": 0.7, "seed": 3})
    p.sections = [
        Section("Mara finds the bottle", 400, title="The Bottle", status=DONE,
                text="The bottle came in with the tide.\n\nMara picked it up.", summary="Mara finds a bottle.",
                takes=["An earlier take of the first section."]),
        Section("She reads the message", 400, status=WRITING, text="The paper was damp", locked=True),
        Section("She sails out", 400),
    ]
    return p


def test_round_trip_keeps_everything(tmp_path):
    p = sample()
    path = p.save(tmp_path / "book.longhand")
    q = Project.load(path)
    assert q == p
    assert q.warnings == []
    assert q.sections[0].takes == ["An earlier take of the first section."]
    assert q.sections[1].locked and q.sections[1].status == WRITING
    assert q.resume_point() == (1, 4)
    assert not q.finished
    # readable and diffable: indented JSON, one key per line, non-ASCII kept as is
    raw = path.read_text(encoding="utf-8")
    assert raw.startswith("{\n") and '\n  "instruction": ' in raw
    data = json.loads(raw)
    assert data["format"] == "longhand-project" and data["version"] == FORMAT_VERSION
    # every field of the engine's Section and Job is saved: nothing is dropped on save
    from dataclasses import fields
    assert {f.name for f in fields(Section)} == set(data["sections"][0])
    assert {f.name for f in fields(Project)} - {"path", "warnings"} <= set(data)


def test_chinese_text_is_stored_as_text(tmp_path):
    p = Project(instruction="写一篇2000字的小说", target_words=2000,
                sections=[Section("开头", 500, text="灯塔看守人发现了一个瓶子。", status=DONE)])
    path = p.save(tmp_path / "cn.longhand")
    assert "灯塔看守人" in path.read_text(encoding="utf-8")
    assert Project.load(path).sections[0].words == 12


def test_full_disk_keeps_previous_file(tmp_path, monkeypatch):
    p = sample()
    path = p.save(tmp_path / "book.longhand")
    before = path.read_bytes()
    p.sections[2].text = "New words that cannot be saved."

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(SaveError, match="disk is full.*previous version is unchanged"):
        p.save()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["book.longhand"], "no temp file left behind"
    p.save()                              # space again: the save goes through
    assert Project.load(path).sections[2].text == "New words that cannot be saved."


def test_write_failing_mid_file_keeps_previous_file(tmp_path, monkeypatch):
    p = sample()
    path = p.save(tmp_path / "book.longhand")
    before = path.read_bytes()
    real_fsync = os.fsync

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(SaveError, match="previous version is unchanged"):
        p.save()
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert path.read_bytes() == before


def test_unwritable_folder_gives_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(SaveError, match="Could not save"):
        sample().save(blocker / "book.longhand")
    assert blocker.read_text() == "a file where a folder should be"


def test_newer_version_is_refused_politely(tmp_path):
    path = tmp_path / "future.longhand"
    data = sample().to_dict()
    data["version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="newer Longhand.*update Longhand"):
        Project.load(path)
    assert json.loads(path.read_text())["version"] == FORMAT_VERSION + 1


def test_not_a_project(tmp_path):
    for content, match in [('{"hello": "world"}', "not a Longhand project"), ("[1, 2]", "not a Longhand"),
                           ("", "empty"), ("<html>nope</html>", "damaged")]:
        path = tmp_path / "x.longhand"
        path.write_text(content)
        with pytest.raises(ProjectError, match=match):
            Project.load(path)
    with pytest.raises(ProjectError, match="not found"):
        Project.load(tmp_path / "missing.longhand")
    with pytest.raises(ProjectError, match="folder"):
        Project.load(tmp_path)


def test_hand_edited_file_loads_what_it_can_and_says_what_not(tmp_path):
    data = sample().to_dict()
    data["colour"] = "blue"                                   # unknown key
    data["target_words"] = "twelve hundred"                   # wrong type
    data["sections"][0]["target_words"] = "400"               # a number as text: fine
    data["sections"][0]["text"] = ["Line one.", "Line two."]  # lines instead of text
    data["sections"][1]["status"] = "half-done"               # unknown status
    data["sections"][1]["takes"] = ["ok", 42]                 # one bad take
    data["sections"][2] = 17                                  # not a section at all
    data["sections"].append("A bare paragraph someone pasted in.")
    path = tmp_path / "edited.longhand"
    path.write_text(json.dumps(data))
    p = Project.load(path)
    w = "\n".join(p.warnings)
    assert "Unknown key 'colour'" in w
    assert "'target_words' should be a positive number" in w
    assert "list of lines" in w and "unknown status 'half-done'" in w
    assert "take 2 is not text" in w and "section 3 is not a section" in w
    assert "section 4 was plain text" in w
    assert p.target_words == 1200                 # from the sections' targets
    assert p.sections[0].text == "Line one.\nLine two." and p.sections[0].target_words == 400
    assert p.sections[1].status == DONE and p.sections[1].takes == ["ok"]
    assert p.sections[2].text == "A bare paragraph someone pasted in."
    # The first save keeps the original beside the repaired file: nothing typed is lost.
    p.save()
    kept = [f for f in tmp_path.iterdir() if ".orig-" in f.name]
    assert len(kept) == 1 and json.loads(kept[0].read_text())["colour"] == "blue"
    assert Project.load(path).warnings == []


def test_truncated_file_is_salvaged(tmp_path):
    raw = sample().dumps()
    cut = raw.index("Mara picked it") + 8
    path = tmp_path / "cut.longhand"
    path.write_text(raw[:cut])
    p = Project.load(path)
    assert any("damaged" in w for w in p.warnings)
    assert p.instruction == sample().instruction
    assert p.sections[0].text.startswith("The bottle came in with the tide.\n\nMara pic")


def test_migration_chain(monkeypatch):
    """Older versions go through each step in order; the current one passes unchanged."""
    data = sample().to_dict()
    assert migrate(dict(data)) == data
    data["version"] = 1      # a v1 file (the format is at 2 since issue 12)
    steps = []

    def v1_to_v2(d):
        steps.append(1)
        d["sections"] = [{**s, "main_point": s["main_point"].upper()} for s in d["sections"]]
        return d

    def v2_to_v3(d):
        steps.append(2)
        d["bible"] = d.pop("story_bible", d.get("bible", ""))
        return d

    monkeypatch.setattr(project_mod, "FORMAT_VERSION", 3)
    monkeypatch.setattr(project_mod, "MIGRATIONS", {1: v1_to_v2, 2: v2_to_v3})
    out = migrate(dict(data))
    assert steps == [1, 2] and out["version"] == 3
    assert out["sections"][0]["main_point"] == "MARA FINDS THE BOTTLE"
    monkeypatch.setattr(project_mod, "MIGRATIONS", {2: v2_to_v3})
    with pytest.raises(ProjectError, match="upgrade"):
        migrate(dict(data))


def test_lock_refuses_second_open_and_takes_over_stale(tmp_path):
    path = sample().save(tmp_path / "book.longhand")
    first = Project.open(path)
    assert first.locked_by_me
    with pytest.raises(ProjectLockedError, match="already open"):
        Project.open(path)
    first.close()
    assert not Path(str(path) + ".lock").exists()

    # A live process owns the lock: refused.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        Path(str(path) + ".lock").write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename,
                                                          "started": lock_mod._process_start(sleeper.pid)}))
        with pytest.raises(ProjectLockedError, match=f"process {sleeper.pid}"):
            Project.open(path)
    finally:
        sleeper.kill()
        sleeper.wait()
    # Now that process is gone: the lock is stale and taken over.
    with Project.open(path) as p:
        assert json.loads(Path(str(path) + ".lock").read_text())["pid"] == os.getpid()
        assert p.locked_by_me
    assert not Path(str(path) + ".lock").exists()
    # A garbled lock file owns nothing.
    Path(str(path) + ".lock").write_text("garbage")
    Project.open(path).close()
    # Another machine's lock (shared folder) is respected, unless the user forces it.
    Path(str(path) + ".lock").write_text(json.dumps({"pid": 1, "host": "elsewhere.example"}))
    with pytest.raises(ProjectLockedError):
        Project.open(path)
    Project.open(path, force=True).close()


def test_save_as_moves_the_lock(tmp_path):
    a = sample().save(tmp_path / "a.longhand")
    p = Project.open(a)
    p.save(tmp_path / "b.longhand")
    assert not Path(str(a) + ".lock").exists() and Path(str(tmp_path / "b.longhand") + ".lock").exists()
    Project.open(a).close()          # the old file is free again
    p.close()


def test_file_changed_by_another_program_is_kept_aside(tmp_path):
    p = sample()
    path = p.save(tmp_path / "book.longhand")
    other = json.loads(path.read_text())
    other["bible"] = "Edited in a text editor."
    path.write_text(json.dumps(other, indent=1))
    p.sections[0].text += "\nMore."
    p.save()
    kept = [f for f in tmp_path.iterdir() if ".conflict-" in f.name]
    assert len(kept) == 1 and json.loads(kept[0].read_text())["bible"] == "Edited in a text editor."
    assert any("changed by another program" in w for w in p.warnings)


def test_recent_list_and_backups(tmp_path):
    a = sample().save(tmp_path / "a.longhand")
    b = Project(instruction="Another job", target_words=500, title="B").save(tmp_path / "b.longhand")
    recent.open_project(a).close()
    pb = recent.open_project(b)
    items = recent.recent_projects()
    assert [r.path.name for r in items] == ["b.longhand", "a.longhand"]
    assert items[0].title == "B" and items[0].exists
    assert str(recent.recent_file()).startswith(os.environ["XDG_CONFIG_HOME"])
    made = recent.close_project(pb)
    assert made is not None and str(made).startswith(os.environ["XDG_DATA_HOME"])
    with zipfile.ZipFile(made) as z:
        assert json.loads(z.read("b.longhand"))["title"] == "B"
    assert not Path(str(b) + ".lock").exists()
    for _ in range(4):
        recent.backup(b, keep=3)
    assert len(recent.list_backups(b)) == 3
    b.unlink()
    assert not recent.recent_projects()[0].exists      # shown as missing, not dropped
    recent.forget(b)
    assert [r.path.name for r in recent.recent_projects()] == ["a.longhand"]
    recent.recent_file().write_text("{broken")
    assert recent.recent_projects() == []


def test_autosave_saves_streamed_text_and_resumable_state(tmp_path):
    """Drive Autosave with the engine's event sequence for a write with one continuation."""
    p = sample()
    p.path = tmp_path / "book.longhand"
    saves = []
    auto = Autosave(p, interval=0.0)
    real_save = p.save

    def spy(path=None):
        out = real_save(path)
        saves.append(json.loads(out.read_text()))
        return out

    p.save = spy
    sec = p.sections[2]
    auto(PlanReady(p.sections, "parsed", ""))
    sec.status = WRITING
    sec.text = ""
    auto(SectionStarted(2, 400, "write"))
    for piece in [" She", " untied", " the", " boat."]:
        auto(SectionToken(2, piece, 0, 0, 1.0))
    assert saves[-1]["sections"][2] == {**saves[-1]["sections"][2], "status": WRITING,
                                         "text": "She untied the boat."}
    assert sec.text == "", "the engine's text is not touched while it writes"
    sec.text = "She untied the boat."              # the engine ends the first generate call
    for piece in [" The", " sea", " was"]:         # ... and continues after a paragraph break
        auto(SectionToken(2, piece, 0, 0, 1.0))
    assert saves[-1]["sections"][2]["text"] == "She untied the boat.\n\n The sea was"
    assert auto.live_text(2) == "She untied the boat.\n\n The sea was"
    sec.text = "She untied the boat.\n\n The sea was calm."
    sec.status = DONE
    auto(SectionDone(2, sec.text, 8, 400, 7, 1.0))
    assert saves[-1]["sections"][2]["text"] == sec.text and saves[-1]["sections"][2]["status"] == DONE
    # After an edit: saved when due, otherwise pending until flush().
    slow = Autosave(p, interval=3600)
    p.sections[0].text += " Edited."
    assert slow.edited() is True
    p.sections[0].text += " Again."
    assert slow.edited() is False and slow.dirty
    assert slow.flush() and not slow.dirty
    assert saves[-1]["sections"][0]["text"].endswith("Edited. Again.")


def test_autosave_keeps_writing_when_the_disk_is_full(tmp_path, monkeypatch):
    p = sample()
    p.save(tmp_path / "book.longhand")
    errors = []
    auto = Autosave(p, interval=0.0, on_error=errors.append)

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    p.sections[2].status = WRITING
    auto(SectionStarted(2, 400, "write"))
    auto(SectionToken(2, "Words", 1, 1, 1.0))
    auto(SectionToken(2, " more", 2, 2, 1.0))
    assert auto.error is not None and "disk is full" in str(auto.error)
    assert len(errors) == 1, "one message per distinct problem, not one per token"
    monkeypatch.undo()
    auto(SectionToken(2, " words.", 3, 3, 1.0))
    assert auto.error is None
    assert Project.load(p.path).sections[2].text == "Words more words."


def test_autosave_keeps_streamed_text_when_the_job_fails_mid_section(tmp_path):
    """The engine's JobDone comes from a ``finally``: after a backend error the pieces streamed
    in the failed call are the only copy of that text, and they are saved."""
    p = sample()
    p.save(tmp_path / "book.longhand")
    auto = Autosave(p, interval=3600)
    sec = p.sections[2]
    sec.status, sec.text = WRITING, ""
    auto(SectionStarted(2, 400, "write"))
    for piece in ["She", " rowed", " hard"]:
        auto(SectionToken(2, piece, 0, 0, 1.0))
    auto(JobDone(stats=None, cancelled=False))       # no SectionDone: the section failed
    saved = Project.load(p.path).sections[2]
    assert saved.text == "She rowed hard" and saved.status == WRITING


def test_cli_write_refuses_a_project_open_elsewhere(tmp_path, capsys):
    from longhand.cli import main
    path = sample().save(tmp_path / "book.longhand")
    with Project.open(path):
        assert main(["write", "--project", str(path)]) == 2
    assert "already open in another Longhand" in capsys.readouterr().err
    assert json.loads(path.read_text()) == sample().to_dict(), "the refused run changed nothing"
