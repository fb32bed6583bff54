"""GUI: the main window driven through its real widgets, with the real demo model.

QT_QPA_PLATFORM=offscreen (set in conftest). QSettings is pointed at a temporary folder for
every test. The model runs with one thread: on a busy shared machine two spinning threads
are slower than one. Tests wait on conditions (qtbot.waitUntil) and leave no worker behind.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from longhand import __version__
from longhand.core.engine.plan import DONE, EDITED, WRITING, Section
from longhand.core.projects.project import Project
from longhand.core.text.wordcount import count_words
from longhand.ui.outline import COL_LOCK, COL_POINT, COL_STATUS, COL_TARGET, COL_WRITTEN, MIME
from longhand.ui.settings import EngineSettings, app_settings
from longhand.ui.window import MainWindow

STORY = "Write a 600-word story about a lighthouse keeper who finds a message in a bottle."
JOB_SECONDS = 600_000     # ms: generous upper bound for a model job on a loaded 2-core box


@pytest.fixture
def settings_dir(tmp_path):
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    return tmp_path / "qsettings"


@pytest.fixture
def make_window(qtbot, settings_dir, demo_model):
    windows = []

    def make(**engine) -> MainWindow:
        engine = {"model_path": str(demo_model), "threads": 1, "seed": 7, **engine}
        EngineSettings(**engine).save(app_settings())
        w = MainWindow()
        w.ask_unsaved = lambda: "discard"
        w.confirm = lambda question: True
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:            # no worker thread may outlive its test
        w.runner.cancel()
        assert w.runner.wait(60_000)


def wait_job(qtbot, w: MainWindow, timeout: int = JOB_SECONDS) -> None:
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=timeout)


def written_project(n: int = 2, words: int = 60, target: int = 120) -> Project:
    """A project whose sections already have text (by hand), so tests skip the planning."""
    sections = []
    sentence = "The keeper watched the grey sea from the lamp room at dusk."      # 12 words
    for i in range(n):
        text = " ".join([sentence] * max(1, words // 12))
        sections.append(Section(main_point=f"Part {i + 1}: the keeper watches the sea and waits",
                                target_words=target, text=text, status=DONE))
    return Project(instruction="Write a story about a lighthouse keeper.", target_words=n * target,
                   sections=sections)


def load(w: MainWindow, project: Project) -> None:
    w.project = project
    w._load_project_into_widgets()


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


def test_regenerate_keeps_old_take_and_event_loop_never_stalls(make_window, qtbot):
    w = make_window()
    p = written_project(n=2, words=60, target=120)
    load(w, p)
    old = p.sections[1].text
    gaps: list[float] = []
    state = {"last": None, "on": False}

    def probe():
        now = time.perf_counter()
        if state["on"] and state["last"] is not None:
            gaps.append(now - state["last"])
        state["last"] = now

    def watch(e):
        state["on"] = w.view.streaming is not None

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(probe)
    timer.start()
    w.runner.event.connect(watch)
    qtbot.mouseClick(w.view.cards[1].regen_btn, Qt.MouseButton.LeftButton)
    assert w.runner.busy
    wait_job(qtbot, w)
    timer.stop()
    assert w.last_error is None, w.last_error
    sec = p.sections[1]
    assert sec.takes[-1] == old                          # the old text became a take
    assert sec.text and sec.text != old
    assert 0.85 * 120 <= sec.words <= 1.15 * 120, sec.words
    assert p.sections[0].text.endswith("dusk.")           # other sections untouched
    assert w.view.cards[1].body.toPlainText() == sec.text
    assert "1 earlier take" in w.view.cards[1].meta.text()
    assert len(gaps) > 100, "the probe ran while the section streamed"
    assert max(gaps) < 0.300, f"the GUI event loop stalled for {max(gaps) * 1000:.0f} ms"

    # "Write more" continues the same section
    before, n_before = sec.text, sec.words
    assert w.view.cards[1].extend_btn.isEnabled()
    qtbot.mouseClick(w.view.cards[1].extend_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, w)
    assert w.last_error is None, w.last_error
    assert sec.text.startswith(before.rstrip()[:200]) and sec.words >= n_before + 40
    assert w.view.cards[1].body.toPlainText() == sec.text


def test_replan_keeps_locked_sections(make_window, qtbot):
    w = make_window()
    p = written_project(n=3, words=40, target=200)
    p.instruction = "Write a 600-word story about a lighthouse keeper."
    p.target_words = 600
    load(w, p)
    keep = p.sections[1]
    w.outline.select_row(1)
    w.outline.toggle_lock()
    assert keep.locked
    assert w.outline.model.data(w.outline.model.index(1, COL_STATUS)) == "locked"
    assert not w.view.cards[1].regen_btn.isEnabled()
    qtbot.mouseClick(w.outline.replan_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, w)
    assert w.last_error is None, w.last_error
    secs = w.project.sections
    assert any(s is keep for s in secs)
    assert keep.text.endswith("dusk.") and keep.locked
    assert sum(1 for s in secs if s.text) == 1           # the unlocked texts were replaced
    assert len(w.view.cards) == len(secs)


# ---------------------------------------------------------------------------------------
# Outline editing, selection sync, request bar (no generation)

def test_outline_add_delete_move_drag_lock_and_edit(make_window, qtbot):
    w = make_window()
    p = written_project(n=3, words=20, target=200)
    load(w, p)
    m = w.outline.model
    a, b, c = p.sections
    assert m.setData(m.index(0, COL_POINT), "The storm  reaches the island")
    assert a.main_point == "The storm reaches the island"
    assert w.view.cards[0].heading.text().startswith("1. The storm reaches the island")
    assert not m.setData(m.index(0, COL_TARGET), "many")
    assert m.setData(m.index(0, COL_TARGET), 10)         # clamped to the minimum
    assert a.target_words == 50
    # drag section 3 to the top
    data = QMimeData()
    data.setData(MIME, b"[2]")
    m.dropMimeData(data, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    assert p.sections == [c, a, b]
    assert [card.section for card in w.view.cards] == [c, a, b]
    w.outline.select_row(2)
    w.outline.move_selected(-1)
    assert p.sections == [c, b, a]
    w.outline.select_row(0)
    w.outline.add_section()
    assert len(p.sections) == 4 and p.sections[1].main_point.startswith("New section")
    w.outline.delete_section()
    assert p.sections == [c, b, a]
    m.setData(m.index(2, COL_LOCK), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert a.locked and w.view.cards[2].lock_btn.isChecked()
    w.view.cards[2].lock_btn.click()                     # unlock from the manuscript
    assert not a.locked
    w.outline.fit_btn.click()
    assert sum(s.target_words for s in p.sections) == p.target_words
    # edit by hand
    card = w.view.cards[1]
    card.edit_btn.click()
    assert not card.body.isReadOnly()
    card.body.setPlainText("A new text, written by hand.")
    card.edit_btn.click()
    assert b.text == "A new text, written by hand." and b.status == EDITED
    assert b.takes and b.takes[-1].endswith("dusk.")
    assert m.data(m.index(1, COL_STATUS)) == "edited by hand"
    assert m.data(m.index(1, COL_WRITTEN)) == count_words(b.text)


def test_selection_and_scroll_stay_in_sync(make_window, qtbot):
    w = make_window()
    w.resize(1280, 800)
    load(w, written_project(n=8, words=220, target=250))
    qtbot.waitUntil(lambda: w.view.verticalScrollBar().maximum() > 0)
    w.outline.select_row(6)
    sb = w.view.verticalScrollBar()
    qtbot.waitUntil(lambda: sb.value() > 0)
    assert w.view.section_at(sb.value() + 20) == 6
    w.outline.select_row(0)
    assert sb.value() < 40 and w.view.section_at(sb.value() + 20) == 0
    sb.setValue(w.view.cards[4].mapTo(w.view.widget(), w.view.cards[4].rect().topLeft()).y() + 5)
    assert w.outline.current_row() == 4


def test_target_prefilled_from_instruction_until_set_by_hand(make_window, qtbot):
    w = make_window()
    qtbot.keyClicks(w.instruction, "Write a 1500-word essay on tides.")
    assert w.target.value() == 1500
    w.target.setValue(900)
    qtbot.keyClicks(w.instruction, " Or 3000 words.")
    assert w.target.value() == 900


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

def test_save_open_export_round_trip(make_window, qtbot, tmp_path):
    w = make_window()
    p = written_project(n=2, words=30)
    p.bible = "Mara keeps the light. The island is called Kell."
    load(w, p)
    assert w.bible.toPlainText() == p.bible
    path = tmp_path / "book"
    assert w.save_as(path)
    assert w.project.path == tmp_path / "book.longhand" and w.project.locked_by_me
    assert "book.longhand" in w.windowTitle()
    w.bible.setPlainText(p.bible + " It rains.")          # an edit is autosaved
    qtbot.waitUntil(lambda: "It rains." in (tmp_path / "book.longhand").read_text(), timeout=5000)
    out = w.export(tmp_path / "book.md")
    assert out is not None and "lamp room" in out.read_text()
    assert w.export(tmp_path / "book.xyz") is None and "Unsupported" in w.banner.label.text()
    assert w.new_project()
    assert w.project.sections == [] and w.instruction.toPlainText() == ""
    assert w.open_project(tmp_path / "book.longhand")
    assert w.project.bible.endswith("It rains.") and len(w.view.cards) == 2
    assert w.project.words == p.words


def test_settings_and_window_state_are_remembered(make_window, qtbot, settings_dir):
    w = make_window()
    w.apply_settings(EngineSettings(model_path="/models/x.gguf", gpu_layers="12", n_ctx=16384,
                                    threads=3, temperature=0.7, seed=42))
    w.resize(700, 520)         # within the offscreen screen, which restoreGeometry clamps to
    w.close()
    again = MainWindow()
    qtbot.addWidget(again)
    s = again.engine_settings
    assert (s.model_path, s.gpu_layers, s.n_ctx, s.threads, s.temperature, s.seed) == \
        ("/models/x.gguf", "12", 16384, 3, 0.7, 42)
    assert (again.size().width(), again.size().height()) == (700, 520)
    assert "x.gguf" in again.model_label.text()
    assert list(settings_dir.rglob("*.ini")), "settings live in the test's own folder"
    # the dialog shows and returns them
    from longhand.ui.settings import SettingsDialog
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    assert dlg.value() == s
    dlg.seed.setValue(-1)
    dlg.temperature.setValue(dlg.temperature.minimum())
    assert dlg.value().seed == -1 and dlg.value().temperature == -1.0


def test_menus_shortcuts_and_about(make_window):
    w = make_window()
    shortcuts = {a.shortcut().toString() for a in
                 (w.new_action, w.open_action, w.save_action, w.quit_action)}
    assert shortcuts == {"Ctrl+N", "Ctrl+O", "Ctrl+S", "Ctrl+Q"}
    assert w.export_action.text() == "&Export…"
    assert __version__ in w.about_text() and "Longhand" in w.about_text()
    assert [m.title() for m in (a.menu() for a in w.menuBar().actions())] == ["&File", "&Write", "&Help"]
    # the model manager's choice becomes the model of the next job, and is remembered
    w.use_model("/models/LongWriter-glm4-9b-Q4_K_M.gguf")
    assert EngineSettings.load(app_settings()).model_path == "/models/LongWriter-glm4-9b-Q4_K_M.gguf"
    assert "LongWriter-glm4-9b-Q4_K_M.gguf" in w.model_label.text()


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


def test_view_follows_the_stream_unless_the_user_scrolls_away(make_window, qtbot):
    from PySide6.QtWidgets import QAbstractSlider
    w = make_window()
    w.resize(1280, 800)
    p = written_project(n=6, words=150, target=200)
    p.sections[5].text = ""
    load(w, p)
    view, sb = w.view, w.view.verticalScrollBar()
    view.begin_section(5, clear=True)
    assert view.cards[5].property("streaming") is True
    for k in range(60):                                  # the pieces the engine would stream
        view.append(5, f" The tide rose again, wave {k}.")
    view.flush()
    qtbot.waitUntil(lambda: sb.value() > 0)
    bottom = view.section_at(sb.value() + view.viewport().height() - 30)
    assert bottom == 5                                   # the end of the stream is in view
    sb.triggerAction(QAbstractSlider.SliderAction.SliderToMinimum)   # the user scrolls up
    qtbot.waitUntil(lambda: not view.follow)
    for k in range(40):
        view.append(5, f" Another wave, {k}.")
    view.flush()
    # once the layout has caught up with the longer text...
    qtbot.waitUntil(lambda: view._stream_end_y() <= sb.maximum() + view.viewport().height())
    assert sb.value() == 0                               # ...the view has not jumped back
    sb.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)   # back to the stream
    qtbot.waitUntil(lambda: view.follow)
    view.end_job()
    assert view.cards[5].property("streaming") is False


def test_failures_are_told_in_plain_words():
    from longhand.core.backends.base import ModelError
    from longhand.ui.runner import plain_error
    assert plain_error(ModelError("Model file not found: /x.gguf")) == "Model file not found: /x.gguf"
    for e in (MemoryError(), RuntimeError("ggml: failed to allocate CPU buffer of size 9 GiB")):
        assert plain_error(e).startswith("Out of memory.")
    assert "Your text is kept" in plain_error(ValueError("odd"))
