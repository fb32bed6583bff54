"""GUI: the model manager — the catalog with what fits this machine, downloads with progress,
imports of local GGUF files, removal. A thin layer over ``core.catalog``/``core.downloads``.

The main window opens it with ``ModelManagerDialog(parent)`` and listens to
``modelChosen(str path)``, emitted when the user picks an installed model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..core.backends.gpu import Machine, probe
from ..core.errors import Cancelled, CancelToken, LonghandError
from ..core.library.catalog import Catalog, CatalogModel, QuantFile, load_catalog, recommend
from ..core.library.downloads import DownloadProgress, download_model, progress_line
from ..core.library.installed import PART_SUFFIX, import_model, installed_models, remove_model
from ..core.paths import models_dir
from ..core.units import format_gb

log = logging.getLogger(__name__)

COLUMNS = ["Model", "Quantization", "Size", "Needs", "On this machine", "Status"]


@dataclass
class Row:
    model_id: str
    quant: str
    path: Path | None            # the file, once installed
    source: str                  # "catalog" or "import"
    recommended: bool = False
    reason: str = ""


class _DownloadSignals(QObject):
    progress = Signal(object)    # DownloadProgress
    finished = Signal(object)    # DownloadResult
    failed = Signal(str)         # message for the user
    cancelled = Signal(str)


class _DownloadJob(QRunnable):
    """Runs one download on a worker thread; reports through signals only."""

    def __init__(self, model_id: str, quant: str, cancel: CancelToken) -> None:
        super().__init__()
        self.model_id, self.quant, self.cancel = model_id, quant, cancel
        self.signals = _DownloadSignals()

    def run(self) -> None:  # worker thread
        try:
            result = download_model(self.model_id, self.quant, cancel=self.cancel,
                                    on_progress=self.signals.progress.emit)
        except Cancelled as e:
            self.signals.cancelled.emit(str(e))
        except LonghandError as e:
            self.signals.failed.emit(str(e))
        except Exception as e:  # never let a worker die silently
            log.exception("download failed")
            self.signals.failed.emit(f"The download failed ({type(e).__name__}: {e}).")
        else:
            self.signals.finished.emit(result)


class ModelManagerDialog(QDialog):
    """Catalog, downloads, imports; emits ``modelChosen(path)`` for the model to use."""

    modelChosen = Signal(str)

    def __init__(self, parent=None, *, machine: Machine | None = None,
                 catalog: Catalog | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(900, 520)
        self.catalog = catalog or load_catalog()
        self.machine = machine or probe()
        self.rows: list[Row] = []
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.cancel_token: CancelToken | None = None
        self.job: _DownloadJob | None = None
        self.downloading: tuple[str, str] | None = None

        top = QLabel(self._machine_text())
        top.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda *_: self._use())

        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel()
        self.message.setWordWrap(True)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.progress_text = QLabel()
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_download)
        prog = QHBoxLayout()
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.cancel_button)

        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.start_download)
        self.import_button = QPushButton("Import .gguf…")
        self.import_button.clicked.connect(self._import_dialog)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.use_button = QPushButton("Use this model")
        self.use_button.setDefault(True)
        self.use_button.clicked.connect(self._use)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for b in (self.download_button, self.import_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(close)

        lay = QVBoxLayout(self)
        lay.addWidget(top)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.details)
        lay.addLayout(prog)
        lay.addWidget(self.progress_text)
        lay.addWidget(self.message)
        lay.addLayout(buttons)
        self.refresh()

    # -- table -----------------------------------------------------------------------------

    def _machine_text(self) -> str:
        m = self.machine
        lines = [f"This machine: {m.describe()}.",
                 "GPU offload in this llama.cpp build: " + ("yes" if m.offload_supported else "no") + ".",
                 f"Models folder: {models_dir()}"]
        lines += m.notes
        return "\n".join(lines)

    def refresh(self) -> None:
        """Rebuild the table from the catalog and the files on disk."""
        selected = self.selected_row()
        key = (selected.model_id, selected.quant) if selected else None
        installed = {(m.id, m.quant): m for m in installed_models()}
        self.rows = []
        self.table.setRowCount(0)
        for model in self.catalog.models:
            rec = recommend(model, self.machine)
            for fit in sorted(rec.fits, key=lambda f: -f.quant.size):
                q = fit.quant
                local = installed.get((model.id, q.quant))
                row = Row(model.id, q.quant, local.path if local else None, "catalog",
                          recommended=rec.quant is not None and rec.quant.quant == q.quant,
                          reason=rec.reason)
                self._add_row(row, model.name, q.quant, q.size, format_gb(fit.need),
                              fit.label, self._status(model, q, local))
        for m in installed.values():
            if m.source == "import":
                row = Row(m.id, m.quant, m.path, "import")
                s = m.summary
                self._add_row(row, f"{m.name} (imported)", m.quant or "?", m.size, "",
                              f"{s.get('architecture', '?')}, {s.get('layers', '?')} layers",
                              "imported")
        if key:
            for i, r in enumerate(self.rows):
                if (r.model_id, r.quant) == key:
                    self.table.selectRow(i)
                    break
        self._selection_changed()

    def _status(self, model: CatalogModel, q: QuantFile, local) -> str:
        if self.downloading == (model.id, q.quant):
            return "downloading…"
        if local is not None:
            return "installed, verified" if local.verified else "installed"
        part = models_dir() / (q.filename + PART_SUFFIX)
        if part.exists() and q.size:
            return f"partial ({part.stat().st_size / q.size:.0%}), resumable"
        return ""

    def _add_row(self, row: Row, *cells) -> None:
        i = self.table.rowCount()
        self.table.insertRow(i)
        name, quant, size, need, fit, status = cells
        texts = [name, ("★ " if row.recommended else "") + quant,
                 format_gb(size, 2) if size else "", need, fit, status]
        for c, text in enumerate(texts):
            item = QTableWidgetItem(text)
            if row.recommended:
                f = QFont(item.font())
                f.setBold(True)
                item.setFont(f)
                item.setToolTip("Recommended: " + row.reason)
            self.table.setItem(i, c, item)
        self.rows.append(row)

    def selected_row(self) -> Row | None:
        idx = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not idx:
            return None
        i = idx[0].row()
        return self.rows[i] if 0 <= i < len(self.rows) else None

    def select(self, model_id: str, quant: str | None = None) -> None:
        for i, r in enumerate(self.rows):
            if r.model_id == model_id and (quant is None or r.quant == quant):
                self.table.selectRow(i)
                return
        raise KeyError((model_id, quant))

    def _selection_changed(self) -> None:
        r = self.selected_row()
        busy = self.job is not None
        self.download_button.setEnabled(bool(r and r.source == "catalog" and r.path is None and not busy))
        self.remove_button.setEnabled(bool(r and (r.path is not None or self._has_part(r))
                                           and not busy))
        self.use_button.setEnabled(bool(r and r.path is not None))
        if r is None:
            self.details.setText("")
        elif r.source == "catalog":
            model = self.catalog.get(r.model_id)
            self.details.setText(f"<b>{model.name}</b> — {model.description}<br>"
                                 f"Prompt format: {model.format}. Recommended for this machine: "
                                 f"{r.reason}")
        else:
            self.details.setText(f"<b>{r.model_id}</b>: {r.path}")

    def _has_part(self, r: Row) -> bool:
        if r.source != "catalog":
            return False
        q = self.catalog.get(r.model_id).quant(r.quant)
        return (models_dir() / (q.filename + PART_SUFFIX)).exists()

    # -- download --------------------------------------------------------------------------

    def start_download(self) -> None:
        r = self.selected_row()
        if r is None or r.source != "catalog" or self.job is not None:
            return
        self.message.setText("")
        self.cancel_token = CancelToken()
        job = _DownloadJob(r.model_id, r.quant, self.cancel_token)
        job.signals.progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        job.signals.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        job.signals.failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)
        job.signals.cancelled.connect(self._on_cancelled, Qt.ConnectionType.QueuedConnection)
        self.job = job
        self.downloading = (r.model_id, r.quant)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.progress_text.setText("Starting…")
        self.pool.start(job)
        self.refresh()

    def cancel_download(self) -> None:
        if self.cancel_token is not None:
            self.cancel_token.cancel()
            self.progress_text.setText("Cancelling…")

    def _on_progress(self, p: DownloadProgress) -> None:
        if p.total:
            self.progress.setValue(int(1000 * p.done / p.total))
        self.progress_text.setText(progress_line(p))

    def _done(self) -> None:
        self.job = None
        self.cancel_token = None
        self.downloading = None
        self.cancel_button.setVisible(False)
        self.progress.setVisible(False)
        self.refresh()

    def _on_finished(self, result) -> None:
        self.progress_text.setText("")
        self.message.setText(f"Downloaded and verified: {result.path.name}"
                             if not result.already_present else f"Already downloaded: {result.path.name}")
        self._done()

    def _on_failed(self, text: str) -> None:
        self.progress_text.setText("")
        self.message.setText(f"<span style='color:#b00020'>{text}</span>")
        self._done()

    def _on_cancelled(self, text: str) -> None:
        self.progress_text.setText("")
        self.message.setText(text)
        self._done()

    # -- import, remove, use ----------------------------------------------------------------

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a GGUF model", str(Path.home()),
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> bool:
        """Validate and register a local .gguf; show its metadata or why it was refused."""
        try:
            m = import_model(path)
        except LonghandError as e:
            self.message.setText(f"<span style='color:#b00020'>Not imported: {e}</span>")
            return False
        s = m.summary
        self.message.setText(
            f"Imported <b>{m.name}</b>: {s['architecture']}, {s['layers']} layers, "
            f"{s['parameters'] / 1e9:.2f} B parameters, {m.quant or 'unknown'} quantization, "
            f"trained context {s['context_length']:,} tokens, "
            f"{'a chat template' if s['chat_template'] else 'no chat template (base model)'}; "
            f"prompt format {m.format}.")
        self.refresh()
        self.select(m.id)
        return True

    def _confirm(self, text: str) -> bool:
        return QMessageBox.question(self, "Remove model", text) == QMessageBox.StandardButton.Yes

    def remove_selected(self) -> None:
        r = self.selected_row()
        if r is None or self.job is not None:
            return
        if r.source == "import":
            text = f"Forget {r.model_id}? The file stays where it is:\n{r.path}"
        else:
            text = f"Delete {r.model_id} {r.quant} from this computer?"
        if not self._confirm(text):
            return
        try:
            removed = remove_model(r.model_id, r.quant if r.source == "catalog" else None)
        except LonghandError as e:
            self.message.setText(f"<span style='color:#b00020'>{e}</span>")
            return
        self.message.setText("Removed " + ", ".join(p.name for p in removed))
        self.refresh()

    def _use(self) -> None:
        r = self.selected_row()
        if r is None or r.path is None:
            return
        self.modelChosen.emit(str(r.path))
        self.accept()

    def done(self, result: int) -> None:  # close/accept/reject: stop a running download
        if self.cancel_token is not None:
            self.cancel_token.cancel()
        self.pool.waitForDone(5000)
        super().done(result)
