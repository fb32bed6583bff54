"""GUI: the engine settings of the window — Settings, Models, the model line, and the settings a
project remembers.

The rule for those is the core's, the same as the CLI's and batch's (``JobRunner.start``):
explicit > remembered > default. Here the defaults are the app's settings, the explicit
choices are the settings changed (in Settings or Models) since the project was opened
(:attr:`EngineControls.given`), and opening a project shows what that rule gives before any
job runs; each job applies it again and the project remembers the engine it ran with.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from ..core.backends.base import BackendInfo
from ..core.engine.session import PROJECT_KEYS
from ..core.engine.settings import EngineSettings
from ..core.library.demo import is_demo
from .settings import SettingsDialog, save_engine_settings

if TYPE_CHECKING:  # pragma: no cover
    from .window import MainWindow


class EngineControls(QObject):
    """Changes ``w.engine_settings`` (saved in QSettings, the API key in the keychain)."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.w = window
        # the remembered settings chosen explicitly since the project was opened (EngineConfig
        # field names): they win over what the project remembers
        self.given: set[str] = set()

    def open_settings(self) -> None:
        w = self.w
        dlg = SettingsDialog(w.engine_settings, w)
        if dlg.exec():
            self.apply(dlg.value())
            notice = dlg.save_hub_token()
            if notice:
                w.show_info(notice)

    def open_models(self) -> None:
        w = self.w
        from .model_manager import ModelManagerDialog
        dlg = ModelManagerDialog(w)
        dlg.modelChosen.connect(self.use_model)
        dlg.exec()

    def use_model(self, path: str) -> None:
        """Make ``path`` the model (loaded at the next Plan or Write)."""
        w = self.w
        self.apply(w.engine_settings.replace(model_path=str(path)))
        w.statusBar().showMessage(f"Model set to {Path(path).name}; it loads at the next Plan or Write.", 6000)

    def apply(self, settings: EngineSettings) -> None:
        w = self.w
        old, new = w.engine_settings.to_config(), settings.to_config()
        self.given |= {k for k in PROJECT_KEYS if getattr(old, k) != getattr(new, k)}
        w.engine_settings = settings
        notice = save_engine_settings(settings, w.qsettings)
        if notice:
            w.show_info(notice)
        self.update_model_label()

    def apply_project_settings(self) -> None:
        """Reopening a project offers the engine settings it was written with: they are applied
        (nothing is explicit yet for this project)."""
        w = self.w
        self.given = set()
        if not w.project.settings:
            return
        offered = w.engine_settings.with_project(w.project.settings)
        if offered != w.engine_settings:
            # for this project only: the app's own settings (QSettings) stay as they were
            w.engine_settings = offered
            self.update_model_label()
            w.show_info("Using the engine settings this project was written with "
                           "(model, prompt format, context, sampling, seed); change them in Settings.")

    def update_model_label(self, info: BackendInfo | None = None) -> None:
        w = self.w
        info = info or w.runner.info
        s = w.engine_settings
        if info is not None and w.runner.matches(s):
            name = info.model + (" (demo)" if info.demo else "")
            w.model_label.setText(f"Model: {name}")
            w.status_model.setText(f"{info.model} · context {info.n_ctx:,}")
            w.status_device.setText(f"{info.name} on {info.device}")
            w.status_demo.setVisible(info.demo)
            return
        chosen = s.model_path or os.environ.get("LONGHAND_MODEL", "")
        # without a choice, core.backends.factory picks an installed LongWriter model, else the demo
        name = Path(chosen).name if chosen else "default"
        w.model_label.setText(f"Model: {name} · not loaded yet")
        w.model_label.setToolTip(chosen or "An installed LongWriter model, else the demo model. "
                                    "Choose a file in File → Settings.")
        w.status_model.setText(f"{Path(chosen).name if chosen else 'default model'} · not loaded")
        w.status_device.setText("")
        w.status_demo.setVisible(bool(chosen) and is_demo(chosen))
