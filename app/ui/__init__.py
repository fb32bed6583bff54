"""GUI: the PySide6 desktop app, a thin layer over ``longhand.core``.

PySide6 6.12.0 is excluded in pyproject.toml: on Python < 3.12 its void methods and
``Signal.emit`` drop a reference to None/True/False, and Python aborts with
"Fatal Python error: none_dealloc" (tests/test_qt_binding.py guards against it).
"""
