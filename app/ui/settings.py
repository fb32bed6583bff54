"""GUI: the Settings dialog, and where the engine settings are kept.

The settings themselves (``core.engine.settings.EngineSettings``) are Qt-free; here they are
kept in QSettings (an INI file under the user's config dir), so they survive restarts, and
the API key in the system keychain (``core.secrets``), never in the INI file.
Tests point QSettings at a temporary folder with ``QSettings.setPath``.
"""

from __future__ import annotations

import os

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

from ..core.backends.base import MAX_CONTEXT
from ..core.backends.formats import FORMATS
from ..core.engine.settings import EngineSettings
from ..core.paths import config_dir
from ..core.secrets import API_KEY, HUB_TOKEN, secrets

__all__ = ["SettingsDialog", "app_settings", "load_engine_settings", "save_engine_settings"]

ORG = "Longhand"
APP = "Longhand"


def app_settings() -> QSettings:
    """The one QSettings store of the app (INI format, user scope; LONGHAND_CONFIG_DIR moves it)."""
    if os.environ.get("LONGHAND_CONFIG_DIR"):
        return QSettings(str(config_dir() / f"{APP}.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, APP)


def load_engine_settings(qs: QSettings) -> EngineSettings:
    """The engine settings from QSettings, with the API key from the keychain.

    An API key left in plain text by an older version is moved to the keychain (or, without
    one, kept for this session) and removed from the settings file.
    """
    settings = EngineSettings.load(qs)
    old = qs.value("engine/api_key")
    if old:
        secrets.set(API_KEY, str(old))
        qs.remove("engine/api_key")
        qs.sync()
    return settings.replace(api_key=secrets.get(API_KEY))


def save_engine_settings(settings: EngineSettings, qs: QSettings) -> str | None:
    """Store the settings; the API key goes to the keychain. Returns a notice when it could not."""
    settings.save(qs)
    if settings.api_key == secrets.get(API_KEY):
        return None
    return None if secrets.set(API_KEY, settings.api_key) else secrets.notice


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

        self.hub_token = QLineEdit(secrets.get(HUB_TOKEN))
        self.hub_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.hub_token.setPlaceholderText("Optional: for gated or private models on Hugging Face")
        form.addRow("Hub token:", self.hub_token)

        self.format = QComboBox()
        self.format.addItem("Auto (from the model file or server)", "")
        for name in FORMATS:
            self.format.addItem(name, name)
        self.format.setCurrentIndex(max(0, self.format.findData(settings.format_name)))
        self.format.setToolTip("How prompts are laid out for the model (LongWriter-GLM4, "
                               "LongWriter-Llama3, or plain completion for base models)")
        form.addRow("Prompt format:", self.format)

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
        self.ctx.setToolTip("Kept for the whole job, like the command line's --ctx")
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

        note = QLabel("A new model file, GPU layers, context length or thread count takes effect "
                      "at the next Plan or Write (the model is reloaded). An explicit context "
                      "length is kept for the whole job (longer books carry earlier sections as "
                      f"summaries); Auto sizes it to the job, at most {MAX_CONTEXT:,} tokens. The "
                      "API key is kept in the system keychain.")
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

    def save_hub_token(self) -> str | None:
        """Keep the hub token in the keychain; a notice when there is none (memory only)."""
        token = self.hub_token.text().strip()
        if token == secrets.get(HUB_TOKEN):
            return None
        return None if secrets.set(HUB_TOKEN, token) else secrets.notice

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
            api_key=self.api_key.text().strip(), format_name=self.format.currentData() or "")
