"""Fixtures for tests/integration (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from guitools import window_maker


@pytest.fixture
def make_window(qtbot, settings_dir, demo_model):
    """``make(**engine)``: main windows on the real demo model (one thread, seed 7); every
    window's worker is stopped after the test."""
    with window_maker(qtbot, model_path=str(demo_model)) as make:
        yield make
