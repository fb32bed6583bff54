"""GUI: engine settings (model file, GPU layers, context, threads, temperature, seed).

Kept in QSettings (an INI file under the user's config dir), so they survive restarts.
Tests point QSettings at a temporary folder with ``QSettings.setPath``.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

ORG = "Longhand"
APP = "Longhand"


def app_settings() -> QSettings:
    """The one QSettings store of the app (INI format, user scope)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, APP)


@dataclass
class EngineSettings:
    model_path: str = ""          # empty: LONGHAND_MODEL, else the demo model
    gpu_layers: str = "auto"      # "auto" or a number of layers
    n_ctx: int = 0                # 0: sized to the job
    threads: int = 0              # 0: all cores
    temperature: float = -1.0     # < 0: the model family's default
    seed: int = -1                # < 0: random
    backend: str = "llama"        # "llama" (local GGUF) or "openai" (a remote server)
    base_url: str = ""            # remote: e.g. http://127.0.0.1:8080/v1
    remote_model: str = ""        # remote: model name (empty: the server's first)
    api_key: str = ""             # remote: optional

    @classmethod
    def load(cls, qs: QSettings) -> "EngineSettings":
        d = cls()

        def get(key, default, kind):
            value = qs.value(f"engine/{key}", default)
            try:
                return kind(value)
            except (TypeError, ValueError):
                return default

        gpu = str(qs.value("engine/gpu_layers", d.gpu_layers) or "auto")
        if gpu != "auto" and not gpu.lstrip("-").isdigit():
            gpu = "auto"
        return cls(model_path=str(qs.value("engine/model_path", "") or ""), gpu_layers=gpu,
                   n_ctx=get("n_ctx", d.n_ctx, int), threads=get("threads", d.threads, int),
                   temperature=get("temperature", d.temperature, float),
                   seed=get("seed", d.seed, int),
                   backend="openai" if qs.value("engine/backend", "llama") == "openai" else "llama",
                   base_url=str(qs.value("engine/base_url", "") or ""),
                   remote_model=str(qs.value("engine/remote_model", "") or ""),
                   api_key=str(qs.value("engine/api_key", "") or ""))

    def save(self, qs: QSettings) -> None:
        for key, value in self.__dict__.items():
            qs.setValue(f"engine/{key}", value)
        qs.sync()

    def open_kwargs(self) -> dict:
        """What changes the loaded model: a different value means the model is reopened."""
        return {"model": self.model_path or None,
                "n_gpu_layers": self.gpu_layers if self.gpu_layers == "auto" else int(self.gpu_layers),
                "n_threads": self.threads or None,
                "backend": self.backend, "base_url": self.base_url or None,
                "remote_model": self.remote_model or None, "api_key": self.api_key or None}


class SettingsDialog(QDialog):
    """GUI: the Settings dialog."""

    def __init__(self, settings: EngineSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        form = QFormLayout()

        self.model_edit = QLineEdit(settings.model_path)
        self.model_edit.setPlaceholderText("Demo model (Gemma 3 270M) — or pick a LongWriter GGUF")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.model_edit, 1)
        row.addWidget(browse)
        form.addRow("Model file:", row)

        # A remote OpenAI-compatible server (llama-server, vLLM, ...) instead of a local file.
        self.backend = QComboBox()
        self.backend.addItems(["Local model file", "Remote server (OpenAI-compatible)"])
        self.backend.setCurrentIndex(1 if settings.backend == "openai" else 0)
        form.addRow("Backend:", self.backend)
        self.base_url = QLineEdit(settings.base_url)
        self.base_url.setPlaceholderText("http://127.0.0.1:8080/v1")
        form.addRow("Server URL:", self.base_url)
        self.remote_model = QLineEdit(settings.remote_model)
        self.remote_model.setPlaceholderText("The server's model (empty: its first)")
        form.addRow("Model name:", self.remote_model)
        self.api_key = QLineEdit(settings.api_key)
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText("Optional")
        form.addRow("API key:", self.api_key)

        def remote_changed(i: int) -> None:
            for w in (self.base_url, self.remote_model, self.api_key):
                w.setEnabled(i == 1)
            self.model_edit.setEnabled(i == 0)
            browse.setEnabled(i == 0)
        self.backend.currentIndexChanged.connect(remote_changed)
        remote_changed(self.backend.currentIndex())

        self.gpu_mode = QComboBox()
        self.gpu_mode.addItems(["Auto (all layers if the build can offload)", "Number of layers"])
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setRange(0, 999)
        auto = settings.gpu_layers == "auto"
        self.gpu_mode.setCurrentIndex(0 if auto else 1)
        self.gpu_layers.setValue(0 if auto else int(settings.gpu_layers))
        self.gpu_layers.setEnabled(not auto)
        self.gpu_mode.currentIndexChanged.connect(lambda i: self.gpu_layers.setEnabled(i == 1))
        row = QHBoxLayout()
        row.addWidget(self.gpu_mode, 1)
        row.addWidget(self.gpu_layers)
        form.addRow("GPU layers:", row)

        self.ctx = QSpinBox()
        self.ctx.setRange(0, 131072)
        self.ctx.setSingleStep(4096)
        self.ctx.setSpecialValueText("Auto (sized to the job)")
        self.ctx.setSuffix(" tokens")
        self.ctx.setValue(settings.n_ctx)
        form.addRow("Context length:", self.ctx)

        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("Auto (all cores)")
        self.threads.setValue(settings.threads)
        form.addRow("CPU threads:", self.threads)

        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(-0.05, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setDecimals(2)
        self.temperature.setSpecialValueText("Model default")
        self.temperature.setValue(settings.temperature if settings.temperature >= 0 else -0.05)
        form.addRow("Temperature:", self.temperature)

        self.seed = QSpinBox()
        self.seed.setRange(-1, 2_147_483_647)
        self.seed.setSpecialValueText("Random")
        self.seed.setValue(settings.seed if settings.seed >= 0 else -1)
        form.addRow("Seed:", self.seed)

        note = QLabel("A new model file, GPU layers or thread count takes effect at the next "
                      "Plan or Write (the model is reloaded).")
        note.setWordWrap(True)
        note.setStyleSheet("color: #5b6770;")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model file", self.model_edit.text(),
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.model_edit.setText(path)

    def value(self) -> EngineSettings:
        temp = self.temperature.value()
        return EngineSettings(
            model_path=self.model_edit.text().strip(),
            gpu_layers="auto" if self.gpu_mode.currentIndex() == 0 else str(self.gpu_layers.value()),
            n_ctx=self.ctx.value(), threads=self.threads.value(),
            temperature=round(temp, 2) if temp >= 0 else -1.0,
            seed=self.seed.value(),
            backend="openai" if self.backend.currentIndex() == 1 else "llama",
            base_url=self.base_url.text().strip(), remote_model=self.remote_model.text().strip(),
            api_key=self.api_key.text().strip())
