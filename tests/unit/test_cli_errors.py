"""CLI: clear one-line errors for bad input (no model needed; the demo-model runs are in tests/integration/test_cli.py)."""


import pytest

from helpers import assert_clean_error, run


def test_version():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("Longhand ")


def test_missing_model_file():
    assert_clean_error(run("write", "Write 300 words about tea.", "--model", "/nonexistent/model.gguf"),
                       "not found")


def test_corrupt_model_file(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"this is not a model" * 100)
    assert_clean_error(run("write", "Write 300 words about tea.", "--model", str(bad)), "not a GGUF")


def test_empty_instruction():
    assert_clean_error(run("write", "   ", "--words", "300"), "empty")


@pytest.mark.parametrize("words", ["0", "5", "100000000"])
def test_absurd_targets(words):
    assert_clean_error(run("write", "Write about tea.", "--words", words), "between")


def test_no_length_given():
    assert_clean_error(run("write", "Write about tea."), "--words")


def test_unwritable_output_path(tmp_path):
    assert_clean_error(run("write", "Write 300 words about tea.", "--out", str(tmp_path / "missing" / "x.md")),
                       "does not exist")
    assert_clean_error(run("write", "Write 300 words about tea.", "--out", str(tmp_path / "x.exe")),
                       "unsupported")
