"""Take the README's screenshots of the desktop app during and after a real run (demo model).

    xvfb-run -s "-screen 0 1920x1080x24" python docs/screenshots/make_screenshots.py

Writes writing.png (a section streaming, 1280x800), main-1280x800.png and main-1920x1080.png
(the finished run) next to this script. Works offscreen too (QT_QPA_PLATFORM=offscreen).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

INSTRUCTION = ("Write a 900-word story about a lighthouse keeper who finds a message in a bottle "
               "from her younger self.")


def open_window(settings_dir: Path, seed: int):
    """The application and its main window on the demo model (``THREADS`` threads, default 1),
    1280x800 and shown, with QSettings in ``settings_dir``: ``(app, window)``."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    app = QApplication.instance() or QApplication([])

    from longhand.core.library.demo import demo_model_path
    from longhand.ui.settings import EngineSettings, app_settings
    from longhand.ui.window import MainWindow

    EngineSettings(model_path=str(demo_model_path()), threads=int(os.environ.get("THREADS", "1")),
                   seed=seed).save(app_settings())
    w = MainWindow()
    w.ask_unsaved = lambda: "discard"
    w.resize(1280, 800)
    w.show()
    return app, w


def wait_until(cond, timeout: float = 1800.0, interval_ms: int = 20) -> None:
    """Run the event loop until ``cond()`` holds or ``timeout`` seconds have passed."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    t = QTimer()
    t.setInterval(interval_ms)
    end = time.perf_counter() + timeout
    t.timeout.connect(lambda: (cond() or time.perf_counter() > end) and loop.quit())
    t.start()
    if not cond():
        loop.exec()
    t.stop()


def settle(ms: int = 400) -> None:
    """Run the event loop for ``ms`` milliseconds."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="longhand-shots-"))
    _app, w = open_window(tmp / "settings", seed=3)

    def shot(name: str) -> None:
        settle()
        w.grab().save(str(HERE / name))
        print("saved", HERE / name, w.width(), "x", w.height())

    w.instruction.setPlainText(INSTRUCTION)
    # (no story bible here: the demo base model tends to echo it into the text)
    w.save_as(tmp / "kell-point.longhand")
    w.write()
    wait_until(lambda: w.view.streaming == 1 and w.view.streamed_words(1) >= 60)
    shot("writing.png")
    wait_until(lambda: not w.runner.busy)
    if w.last_error:
        print("error:", w.last_error)
    w.outline.select_row(0)
    shot("main-1280x800.png")
    w.resize(1920, 1080)
    settle(600)
    w.outline.select_row(0)
    shot("main-1920x1080.png")
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
