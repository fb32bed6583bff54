"""Core: everything that is not GUI. Never imports Qt (tests/test_core_no_qt.py checks)."""
