"""GUI: File > Export Training Data… — the open project as SFT records or DPO pairs (JSON Lines).

A thin layer over ``core.data.training``: choose what to export, choose the file, write it
(a project's records take milliseconds, so this runs on the GUI thread). It sees the window
only through :class:`TrainingExportHost`, as the file actions do through ``FileHost``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QWidget

from ..core.data.training import check_jsonl_output, project_records, write_jsonl
from ..core.errors import LonghandError
from ..core.projects.project import Project

# label -> (kind, with the AgentWrite steps)
CHOICES = {
    "DPO pairs (prompt, chosen, rejected) from sections with earlier takes": ("dpo", False),
    "SFT record (instruction → the whole text)": ("sft", False),
    "SFT records with the plan and write steps": ("sft", True),
}


class TrainingExportHost(Protocol):
    """What the training-data export needs from the window that holds it."""

    project: Project
    qsettings: QSettings

    def add_menu_action(self, menu: QMenu, text: str, slot: Callable[[], object],
                        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                        tip: str | None = None) -> QAction: ...

    def commit_edits(self) -> None:
        """Put what the widgets hold (section edits, the request) into the project."""

    def show_error(self, message: str) -> None: ...

    def show_status(self, message: str, msecs: int) -> None: ...


def add_training_export(host: TrainingExportHost, menu: QMenu, parent: QWidget | None = None) -> QAction:
    """The menu entry; ``parent`` is the parent of its dialogs."""
    return host.add_menu_action(
        menu, "Export &Training Data…", lambda: export_training_data(host, parent=parent), None,
        "Export the project as fine-tuning data: SFT records or DPO pairs (JSON Lines)")


def export_training_data(host: TrainingExportHost, choice: str | None = None,
                         path: str | Path | None = None, *, parent: QWidget | None = None) -> Path | None:
    """Ask what and where (unless given), then write; returns the file written or None."""
    w = host
    if choice is None:
        choice, ok = QInputDialog.getItem(parent, "Export training data", "Export:", list(CHOICES), 0, False)
        if not ok:
            return None
    kind, steps = CHOICES[choice]
    if path is None:
        stem = w.project.path.stem if w.project.path else "project"
        start = Path(str(w.qsettings.value("files/last_dir", str(Path.home()))))
        path, _ = QFileDialog.getSaveFileName(parent, "Export training data",
                                              str(start / f"{stem}-{kind}.jsonl"), "JSON Lines (*.jsonl)")
        if not path:
            return None
        if Path(path).suffix.lower() != ".jsonl":
            path = path + ".jsonl"
    w.commit_edits()
    try:
        out = check_jsonl_output(path)
        records = project_records(w.project, kind, steps=steps)
        if not records:
            w.show_error("Nothing to export: no finished section has an earlier take (regenerate or "
                         "edit a section first)." if kind == "dpo" else "Nothing to export: the project has no text.")
            return None
        n = write_jsonl(records, out)
    except LonghandError as e:
        w.show_error(str(e))
        return None
    w.show_status(f"Exported {n} {'DPO pairs' if kind == 'dpo' else 'SFT records'} to {out}", 5000)
    return out
