"""GUI end to end: the main window driven through its real widgets, with the real demo model.

The other GUI tests run on the scripted backend (tests/unit/test_gui.py).

QT_QPA_PLATFORM=offscreen (set in conftest). QSettings is pointed at a temporary folder for
every test. The model runs with one thread: on a busy shared machine two spinning threads
are slower than one. Tests wait on conditions (qtbot.waitUntil) and leave no worker behind.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from guitools import load
from longhand.core.engine.plan import DONE, WRITING, Section
from longhand.core.engine.settings import EngineSettings
from longhand.core.projects.project import Project
from longhand.core.text.wordcount import count_words
from longhand.ui.outline import COL_STATUS, COL_TARGET, COL_WRITTEN
from longhand.ui.window import MainWindow

STORY = "Write a 600-word story about a lighthouse keeper who finds a message in a bottle."
JOB_SECONDS = 600_000     # ms: generous upper bound for a model job on a loaded 2-core box


def wait_job(qtbot, w: MainWindow, timeout: int = JOB_SECONDS) -> None:
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=timeout)


# ---------------------------------------------------------------------------------------
# The main flow: instruction -> plan -> edit -> write

def test_plan_edit_target_write_streams_to_target(make_window, qtbot, tmp_path):
    w = make_window()
    qtbot.keyClicks(w.instruction, STORY)
    assert w.target.value() == 600                      # read from the instruction
    w.save_as(tmp_path / "story.longhand")               # autosave while writing
    qtbot.mouseClick(w.plan_btn, Qt.MouseButton.LeftButton)
    assert w.runner.busy and w.stop_btn.isEnabled() and not w.plan_btn.isEnabled()
    wait_job(qtbot, w)
    assert w.last_error is None
    model = w.outline.model
    assert model.rowCount() >= 1
    assert sum(s.target_words for s in w.project.sections) == 600
    assert len(w.view.cards) == model.rowCount()
    assert "600" in w.outline.totals.text()

    # a shorter job keeps the test short: target 300, first section's target edited to 150
    w.target.setValue(300)
    assert "over" in w.outline.totals.text()
    assert model.setData(model.index(0, COL_TARGET), 150)
    assert w.project.sections[0].target_words == 150
    while model.rowCount() > 2:
        w.outline.select_row(model.rowCount() - 1)
        w.outline.delete_section()
    if model.rowCount() == 1:
        w.outline.select_row(0)
        w.outline.add_section()
    assert model.setData(model.index(1, COL_TARGET), 150)
    assert "matches the job target" in w.outline.totals.text()

    streamed: list[tuple[int, int]] = []          # (section, words shown in the view) while streaming
    w.runner.event.connect(lambda e: w.view.streaming is not None and streamed.append(
        (w.view.streaming, w.view.streamed_words(w.view.streaming))))
    qtbot.mouseClick(w.write_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.view.streaming is not None, timeout=JOB_SECONDS)
    card = w.view.cards[w.view.streaming]
    assert card.property("streaming") is True and card.badge.isVisibleTo(card)

    def saved_mid_section() -> bool:       # autosave keeps the streamed text as it comes
        s = Project.load(tmp_path / "story.longhand").sections[0]
        return s.status == WRITING and count_words(s.text) >= 10
    qtbot.waitUntil(saved_mid_section, timeout=JOB_SECONDS)
    assert w.runner.busy
    wait_job(qtbot, w)
    assert w.last_error is None, w.last_error

    # the view streamed: words grew in many steps, in both sections
    assert {s for s, _ in streamed} == {0, 1}
    assert len({n for _, n in streamed}) > 20
    words = w.project.words
    assert 0.85 * 300 <= words <= 1.15 * 300, words
    assert all(s.status == DONE for s in w.project.sections)
    assert w.tracker.total_bar.value() == min(words, 300)
    assert w.tracker.total_label.text().startswith(f"{words:,} / 300 words")
    assert [b.words for b in w.tracker.rhythm.bars] == [s.words for s in w.project.sections]
    for i, c in enumerate(w.view.cards):
        assert c.body.toPlainText() == w.project.sections[i].text
        assert c.property("streaming") is False
    assert model.data(model.index(0, COL_WRITTEN)) == w.project.sections[0].words
    assert model.data(model.index(1, COL_STATUS)) == DONE
    # autosaved as it went
    saved = Project.load(tmp_path / "story.longhand")
    assert saved.words == words
    assert not w.isWindowModified()


def test_stop_ends_generation_promptly_and_keeps_text(make_window, qtbot):
    w = make_window()
    p = Project(instruction="Write a long story about a lighthouse keeper who finds a bottle.",
                target_words=800, sections=[Section("The keeper finds a bottle on the rocks at dawn", 800)])
    load(w, p)
    assert w.write()
    qtbot.waitUntil(lambda: w.view.streaming == 0 and w.view.streamed_words(0) >= 15, timeout=JOB_SECONDS)
    qtbot.mouseClick(w.stop_btn, Qt.MouseButton.LeftButton)
    clicked = time.perf_counter()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=10_000)
    took = time.perf_counter() - clicked
    sec = w.project.sections[0]
    assert sec.words >= 15                              # the text so far is kept...
    assert sec.words < 800 * 0.9                        # ...and writing really stopped
    assert sec.status == WRITING                        # interrupted: Write continues it
    assert w.view.cards[0].body.toPlainText() == sec.text
    assert w.last_stop_seconds is not None and w.last_stop_seconds <= took + 0.5
    assert "Stopped" in w.job_label.text()
    assert w.plan_btn.isEnabled() and w.write_btn.isEnabled() and not w.stop_btn.isEnabled()






# ---------------------------------------------------------------------------------------
# Outline editing, selection sync, request bar (no generation)







def test_errors_are_shown_in_the_window_and_the_app_keeps_working(make_window, qtbot, tmp_path):
    w = make_window(model_path=str(tmp_path / "missing.gguf"))
    qtbot.keyClicks(w.instruction, "Write a 300-word story about a fox.")
    w.plan()
    wait_job(qtbot, w)
    assert w.banner.isVisible() and "not found" in w.banner.label.text()
    assert w.plan_btn.isEnabled() and not w.runner.busy

    bad = tmp_path / "corrupt.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    w.apply_settings(EngineSettings(model_path=str(bad), threads=1))
    w.plan()
    wait_job(qtbot, w)
    assert "corrupt" in w.banner.label.text() or "Could not load" in w.banner.label.text()
    assert "Traceback" not in w.banner.label.text()

    w.instruction.clear()
    w.plan()
    assert "instruction is empty" in w.banner.label.text()
    assert not w.runner.busy

    # and it still works: back to the demo model
    from longhand.core.library.demo import demo_model_path
    w.apply_settings(EngineSettings(model_path=str(demo_model_path()), threads=1))
    assert w.preload_model()
    wait_job(qtbot, w)
    assert not (w.banner.isVisible() and w.banner.kind == "error")
    assert "CPU" in w.status_device.text() or "GPU" in w.status_device.text()
    assert w.status_demo.isVisible()
    assert "demo" in w.model_label.text()


# ---------------------------------------------------------------------------------------
# Files, settings, menus







def test_longhand_without_arguments_opens_the_window(qtbot, settings_dir, demo_model):
    from longhand.cli import main as cli_main

    seen = {}

    def close_it():
        wins = [x for x in QApplication.topLevelWidgets() if isinstance(x, MainWindow) and x.isVisible()]
        seen["windows"] = wins
        for x in wins:
            x.ask_unsaved = lambda: "discard"
            # main() loads the model in the background right after showing the window
            qtbot.waitUntil(lambda: x.status_device.text() != "" and not x.runner.busy, timeout=120_000)
            seen["device"] = x.status_device.text()
            x.close()
        QApplication.instance().quit()

    app = QApplication.instance()
    # closing the last window would post a Quit event that outlives this test's event loop
    # and makes every later QEventLoop return at once
    app.setQuitOnLastWindowClosed(False)
    QTimer.singleShot(800, close_it)
    try:
        assert cli_main([]) == 0
    finally:
        app.setQuitOnLastWindowClosed(True)
    assert len(seen["windows"]) == 1
    assert "CPU" in seen["device"] or "GPU" in seen["device"]




