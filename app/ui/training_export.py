"""GUI: File > Export Training Data… — the open project as SFT records or DPO pairs (JSON Lines).

A thin layer over ``core.data.training``: choose what to export, choose the file, write it
(a project's records take milliseconds, so this runs on the GUI thread).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu

from ..core.data.training import check_jsonl_output, project_records, write_jsonl
from ..core.errors import LonghandError

if TYPE_CHECKING:  # pragma: no cover
    from .window import MainWindow

# label -> (kind, with the AgentWrite steps)
CHOICES = {
    "DPO pairs (prompt, chosen, rejected) from sections with earlier takes": ("dpo", False),
    "SFT record (instruction → the whole text)": ("sft", False),
    "SFT records with the plan and write steps": ("sft", True),
}


def add_training_export(window: "MainWindow", menu: QMenu) -> QAction:
    window.training_export_action = window.add_menu_action(
        menu, "Export &Training Data…", lambda: export_training_data(window), None,
        "Export the project as fine-tuning data: SFT records or DPO pairs (JSON Lines)")
    return window.training_export_action


def export_training_data(window: "MainWindow", choice: str | None = None,
                         path: str | Path | None = None) -> Path | None:
    """Ask what and where (unless given), then write; returns the file written or None."""
    w = window
    if choice is None:
        choice, ok = QInputDialog.getItem(w, "Export training data", "Export:", list(CHOICES), 0, False)
        if not ok:
            return None
    kind, steps = CHOICES[choice]
    if path is None:
        stem = w.project.path.stem if w.project.path else "project"
        start = Path(str(w.qsettings.value("files/last_dir", str(Path.home()))))
        path, _ = QFileDialog.getSaveFileName(w, "Export training data",
                                              str(start / f"{stem}-{kind}.jsonl"), "JSON Lines (*.jsonl)")
        if not path:
            return None
        if Path(path).suffix.lower() != ".jsonl":
            path = path + ".jsonl"
    w.view.commit_edits()
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
    w.statusBar().showMessage(f"Exported {n} {'DPO pairs' if kind == 'dpo' else 'SFT records'} to {out}", 5000)
    return out
