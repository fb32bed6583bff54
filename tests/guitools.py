"""Shared GUI test helpers (tests/unit and tests/integration): main windows made for a test and
torn down after it, a project written by hand, and the model manager dialog.

QSettings must already point at a folder of the test's own (the ``settings_dir`` fixture in
tests/conftest.py) before a window is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pytestqt.qtbot import QtBot

from longhand.core.backends.gpu import Machine
from longhand.core.engine.plan import DONE, Section
from longhand.core.engine.settings import EngineSettings
from longhand.core.projects.project import Project
from longhand.ui.model_manager import ModelManagerDialog
from longhand.ui.settings import app_settings
from longhand.ui.window import MainWindow


@contextmanager
def window_maker(qtbot: QtBot, *, backend_factory=None, size: tuple[int, int] | None = None,
                 **engine_defaults) -> Iterator[Callable[..., MainWindow]]:
    """Yields ``make(show=True, **engine) -> MainWindow``, for a fixture to yield in turn.

    Each window is opened with ``backend_factory`` (None: real backends) after its engine
    settings (threads 1, seed 7, then ``engine_defaults``, then ``engine``) are saved; its
    questions are answered without a dialog (discard unsaved work, confirm everything); it is
    resized to ``size`` when given and shown unless ``show`` is false. On leaving, every
    window's runner is cancelled and must finish: no worker thread outlives its test.
    """
    windows: list[MainWindow] = []

    def make(show: bool = True, **engine) -> MainWindow:
        EngineSettings(**{"threads": 1, "seed": 7, **engine_defaults, **engine}).save(app_settings())
        w = MainWindow(backend_factory=backend_factory)
        w.ask_unsaved = lambda: "discard"
        w.confirm = lambda question: True
        qtbot.addWidget(w)
        if size is not None:
            w.resize(*size)
        if show:
            w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.runner.cancel()
        assert w.runner.wait(60_000)


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
    """Show ``project`` in the window as if it had been opened."""
    w.project = project
    w._load_project_into_widgets()


# ---------------------------------------------------------------------------------------
# The model manager dialog

def make_dialog(qtbot: QtBot, machine: Machine | None = None) -> ModelManagerDialog:
    dlg = ModelManagerDialog(None, machine=machine)
    qtbot.addWidget(dlg)
    return dlg


def cell(dlg, row: int, col: int) -> str:
    return dlg.table.item(row, col).text()


def row_of(dlg, model_id, quant) -> int:
    return next(i for i, r in enumerate(dlg.rows) if (r.model_id, r.quant) == (model_id, quant))
