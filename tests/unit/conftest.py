"""Fixtures for tests/unit (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from guitools import window_maker


@pytest.fixture
def make_window(qtbot, settings_dir, factory):
    """``make(**engine)``: main windows whose backends come from the test module's ``factory``
    fixture (scripted, no model); every window's worker is stopped after the test."""
    with window_maker(qtbot, backend_factory=factory) as make:
        yield make
