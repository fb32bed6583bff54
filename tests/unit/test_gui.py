"""GUI: the main window driven through its real widgets, on the scripted backend.

No model: the window's runner takes a backend factory (``MainWindow(backend_factory=...)``)
that returns ``fakes.ScriptedBackend``, so these tests run in seconds. The end-to-end tests
with the real demo model are in tests/integration/test_gui.py.
QT_QPA_PLATFORM=offscreen (set in conftest). QSettings is pointed at a temporary folder for
every test. Tests wait on conditions (qtbot.waitUntil) and leave no worker behind.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, Qt, QTimer

from fakes import ScriptedBackend
from guitools import load, written_project
from longhand import __version__
from longhand.core.engine.plan import EDITED, Section
from longhand.core.engine.settings import EngineSettings
from longhand.core.errors import ModelError
from longhand.core.projects.project import Project
from longhand.core.text.wordcount import count_words
from longhand.ui.outline import COL_LOCK, COL_POINT, COL_STATUS, COL_TARGET, COL_WRITTEN, MIME
from longhand.ui.settings import app_settings
from longhand.ui.window import MainWindow

JOB_SECONDS = 30_000      # ms: scripted jobs take a second or two

PLAN = ("Paragraph 1 - Main Point: Mara keeps the lighthouse alone through a winter storm - Word Count: 200 words\n"
        "Paragraph 2 - Main Point: She finds a green bottle with a letter wedged in the rocks - Word Count: 200 words\n"
        "Paragraph 3 - Main Point: The letter's writer arrives by boat on the first calm morning - Word Count: 200 words\n")


class Factory:
    """Opens scripted backends and records what it was asked for; ``fail`` raises instead."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.fail: Exception | None = None
        self.delay = 0.004

    def __call__(self, model=None, **kwargs):
        self.calls.append({"model": model, **kwargs})
        if self.fail is not None:
            raise self.fail
        return ScriptedBackend(plan_text=PLAN, delay=self.delay)


@pytest.fixture
def factory():            # make_window (tests/unit/conftest.py) opens windows on it
    return Factory()


def wait_job(qtbot, w: MainWindow, timeout: int = JOB_SECONDS) -> None:
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=timeout)


def test_regenerate_keeps_old_take_and_event_loop_never_stalls(make_window, qtbot, factory):
    factory.delay = 0.015          # the section streams for about two seconds
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
    from longhand.core.errors import ModelError
    from longhand.ui.runner import plain_error
    assert plain_error(ModelError("Model file not found: /x.gguf")) == "Model file not found: /x.gguf"
    for e in (MemoryError(), RuntimeError("ggml: failed to allocate CPU buffer of size 9 GiB")):
        assert plain_error(e).startswith("Out of memory.")
    assert "Your text is kept" in plain_error(ValueError("odd"))


def test_plan_then_write_on_the_scripted_backend(make_window, qtbot, tmp_path, factory):
    w = make_window()
    qtbot.keyClicks(w.instruction, "Write a 600-word story about a lighthouse keeper.")
    assert w.target.value() == 600
    assert w.save_as(tmp_path / "story.longhand")
    qtbot.mouseClick(w.write_btn, Qt.MouseButton.LeftButton)     # no outline: plans first
    assert w.runner.busy and w.stop_btn.isEnabled() and not w.plan_btn.isEnabled()
    wait_job(qtbot, w)
    assert w.last_error is None, w.last_error
    secs = w.project.sections
    assert secs and sum(s.target_words for s in secs) == 600
    assert all(s.written for s in secs) and len(w.view.cards) == len(secs)
    assert w.tracker.total_label.text().startswith(f"{w.project.words:,} / 600 words")
    assert "Done" in w.job_label.text() and "(model load and plan included)" in w.job_label.text()
    assert [b.state for b in w.tracker.rhythm.bars] == ["done"] * len(secs)
    assert w.tracker.labels["wpm"].text() != "—"                 # words/min from core.engine.progress
    assert Project.load(tmp_path / "story.longhand").words == w.project.words
    # Write again: everything is written
    assert not w.write() and "Every section is written" in w.banner.label.text()
    assert len(factory.calls) == 1                               # the loaded backend was kept


def test_stop_keeps_the_text_and_write_resumes_it(make_window, qtbot, factory):
    factory.delay = 0.02
    w = make_window()
    load(w, Project(instruction="Write a long story about a lighthouse keeper who finds a bottle.",
                    target_words=300, sections=[Section("The keeper finds a bottle on the rocks at dawn", 300)]))
    assert w.write()
    qtbot.waitUntil(lambda: w.view.streaming == 0 and w.view.streamed_words(0) >= 15, timeout=JOB_SECONDS)
    qtbot.mouseClick(w.stop_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, w, 10_000)
    sec = w.project.sections[0]
    assert 15 <= sec.words < 300 * 0.9 and sec.interrupted
    assert "Stopped" in w.job_label.text() and w.last_stop_seconds is not None
    assert w.outline.model.data(w.outline.model.index(0, COL_STATUS)) == "interrupted"
    kept = sec.text
    w.runner.session.backend.delay = 0.0                          # the loaded backend is kept
    assert w.write()                                              # continues, does not restart
    wait_job(qtbot, w)
    assert sec.written and sec.text.startswith(kept.rstrip()[:100]) and not sec.takes


def test_backend_errors_are_shown_and_the_app_keeps_working(make_window, qtbot, factory):
    w = make_window()
    factory.fail = ModelError("Model file not found: /models/missing.gguf")
    qtbot.keyClicks(w.instruction, "Write a 300-word story about a fox.")
    w.plan()
    wait_job(qtbot, w)
    assert w.banner.isVisible() and "not found" in w.banner.label.text()
    assert w.plan_btn.isEnabled() and not w.runner.busy
    factory.fail = RuntimeError("ggml: failed to allocate CPU buffer of size 9 GiB")
    w.apply_settings(EngineSettings(threads=2))                   # another key: opened again
    w.plan()
    wait_job(qtbot, w)
    assert w.banner.label.text().startswith("Out of memory.") and "Traceback" not in w.banner.label.text()
    w.instruction.clear()
    w.plan()
    assert "instruction is empty" in w.banner.label.text() and not w.runner.busy
    factory.fail = None
    assert w.preload_model()
    wait_job(qtbot, w)
    assert not (w.banner.isVisible() and w.banner.kind == "error")
    assert w.status_device.text() == "scripted on CPU"


def test_project_remembers_its_engine_settings_and_reopening_applies_them(make_window, qtbot, tmp_path, factory):
    import json
    w = make_window(n_ctx=4096, temperature=0.4, seed=21, format_name="completion",
                    backend="openai", base_url="http://127.0.0.1:9/v1", api_key="sk-not-in-files")
    w.engine_settings = w.engine_settings.replace(api_key="sk-not-in-files")
    load(w, written_project(n=2, words=60, target=120))
    assert w.save_as(tmp_path / "book.longhand")
    assert w.regenerate(1)
    wait_job(qtbot, w)
    assert w.last_error is None, w.last_error
    stored = json.loads((tmp_path / "book.longhand").read_text())["settings"]
    assert stored == {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "format_name": "completion",
                      "n_ctx": 4096, "temperature": 0.4, "seed": 21}
    assert "sk-not-in-files" not in (tmp_path / "book.longhand").read_text()
    assert "sk-not-in-files" not in "".join(p.read_text() for p in (tmp_path / "qsettings").rglob("*.ini"))
    # the app's settings change; reopening the project offers (applies) what it was written with
    w.apply_settings(EngineSettings(threads=1))
    assert w.new_project()
    assert w.open_project(tmp_path / "book.longhand")
    s = w.engine_settings
    assert (s.n_ctx, s.temperature, s.seed, s.format_name, s.backend) == (4096, 0.4, 21, "completion", "openai")
    assert "written with" in w.banner.label.text()
    assert EngineSettings.load(app_settings()).n_ctx == 0          # the app's own settings are untouched
