"""Unit: choosing among llama.cpp's CPU variants (one module per x86-64 level) and what doctor
says about it. The real modules, loaded and writing, are in tests/integration/test_cpu_variants.py."""

from __future__ import annotations

import pytest

from longhand.core.backends import ggml
from longhand.core.backends.ggml import BackendModule, BackendsReport
from longhand.core.doctor import cpu_variant_line

NAMES = ["x64", "sse42", "sandybridge", "haswell", "skylakex"]


@pytest.fixture
def variants(tmp_path, monkeypatch):
    mods = [BackendModule(f"cpu-{n}", str(tmp_path / f"libggml-cpu-{n}.so")) for n in NAMES]
    # an AVX2 machine without AVX-512: what ggml_backend_score() says per module
    scores = {"x64": 1, "sse42": 5, "sandybridge": 17, "haswell": 113, "skylakex": 0}
    monkeypatch.setattr(ggml, "_scores", {m.path: scores[m.name[4:]] for m in mods})
    return mods


def test_the_best_variant_is_the_highest_score_this_cpu_can_run(variants):
    assert ggml._best_cpu_variant(variants).endswith("libggml-cpu-haswell.so")


def test_forcing_the_baseline(variants, monkeypatch):
    rep = BackendsReport()
    monkeypatch.setenv(ggml.CPU_VARIANT_ENV, "x64")
    assert ggml._forced_variant(rep, variants).endswith("libggml-cpu-x64.so") and not rep.notes


def test_a_variant_this_cpu_cannot_run_is_refused(variants, monkeypatch):
    rep = BackendsReport()
    monkeypatch.setenv(ggml.CPU_VARIANT_ENV, "skylakex")
    assert ggml._forced_variant(rep, variants) == ""
    assert "refused" in rep.notes[0]


def test_an_unknown_variant_or_a_build_without_variants_is_ignored(variants, monkeypatch):
    monkeypatch.setenv(ggml.CPU_VARIANT_ENV, "pentium")
    rep = BackendsReport()
    assert ggml._forced_variant(rep, variants) == "" and "no such CPU variant" in rep.notes[0]
    assert "x64, sse42" in rep.notes[0]
    rep = BackendsReport()
    assert ggml._forced_variant(rep, []) == "" and "one CPU backend" in rep.notes[0]


def test_doctor_line():
    assert cpu_variant_line({"variants": []}).startswith("CPU backend: one build")
    line = cpu_variant_line({"variants": NAMES, "variant": "haswell", "variant_how": "best for this CPU"})
    assert line == ("CPU backend: haswell (x86-64-v3: AVX2, FMA, F16C, BMI2), best for this CPU; "
                    "5 variants in this build")
    line = cpu_variant_line({"variants": NAMES, "variant": "x64", "variant_how": "forced by LONGHAND_CPU_VARIANT"})
    assert line.startswith("CPU backend: x64 (x86-64 baseline: SSE2), forced by LONGHAND_CPU_VARIANT")
