"""Packaging: entry point of the frozen app.

One executable is both the desktop app and the command line, like the ``longhand`` script:
no arguments opens the window, ``--version`` / ``write ...`` / ``plan ...`` run headless.
Started as ``longhand-gui`` (the link the packages install next to ``longhand``, as pip
installs both scripts) it always opens the window, with the ``.longhand`` files it is given.
"""

from __future__ import annotations

import logging
import os
import sys


def _import_llama_cpp_first() -> None:
    # llama_cpp loads llama.cpp's shared libraries when imported. Doing that before the Qt
    # binding is imported avoids a known Windows crash (Qt's DLLs first in the search path)
    # and puts a broken llama.cpp in the log before the window opens. The app still starts
    # without it: opening a model then reports the error in plain words. The compute
    # backends (CPU, Vulkan: modules in GGML_BACKEND_DL builds) are loaded by
    # longhand.core.backends.ggml.load_backends() when a model is first opened, off the
    # GUI thread; a GPU module is first tried in a child process (this executable, with
    # LONGHAND_GGML_PROBE set), so a broken GPU driver cannot take the app down.
    try:
        import llama_cpp  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any failure here is reported later, when used
        logging.getLogger("longhand.packaging").warning("llama.cpp did not load: %s", e)


def _gui_projects(argv: list[str]) -> list[str] | None:
    """The project files to open when this is a start of the window, else None.

    The window opens with no arguments, with -v/--verbose, and with ``.longhand`` files (a
    double-click on a project, "Open with Longhand", the menu entry's %f).
    """
    rest = [a for a in argv if a not in ("-v", "--verbose")]
    if all(a.lower().endswith(".longhand") for a in rest):
        return rest
    return None


def started_as_gui(prog: str) -> bool:
    return os.path.basename(prog).lower().startswith("longhand-gui")


def main() -> int:
    if os.environ.get("LONGHAND_GGML_PROBE"):
        # the child process of longhand.core.backends.ggml.probe_module: try one GPU module
        from longhand.core.backends.ggml import probe_main
        probe_main()
    # macOS Finder used to add a process serial number argument (-psn_0_12345)
    argv = [a for a in sys.argv[1:] if not a.startswith("-psn_")]
    as_gui = started_as_gui(sys.argv[0] if sys.argv else "")
    projects = [a for a in argv if a.lower().endswith(".longhand")] if as_gui else _gui_projects(argv)
    if projects is not None:
        # A double-clicked app has no terminal: keep a log file under the user's log dir.
        from longhand.core.paths import setup_file_logging
        try:
            log = setup_file_logging()
        except OSError:
            log = None

        def _log_uncaught(kind, value, tb):
            logging.getLogger("longhand").critical("uncaught error", exc_info=(kind, value, tb))
            sys.__excepthook__(kind, value, tb)

        sys.excepthook = _log_uncaught
        if log is not None:
            logging.getLogger("longhand").info("Longhand starting (frozen=%s), log: %s",
                                               getattr(sys, "frozen", False), log)
    if not (argv and argv[0] in ("--version", "-h", "--help")):
        _import_llama_cpp_first()
    if projects or as_gui:
        from longhand.ui.main import main as gui_main
        return gui_main(projects)
    from longhand.cli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
