"""Tests: verified, resumable downloads with the real huggingface_hub client against a local
stand-in hub (tests/hubserver.py) with fault injection."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from hubserver import FakeHub
from longhand.core.errors import Cancelled, CancelToken
from longhand.core.library import downloads
from longhand.core.library.downloads import ChecksumError, DiskFullError, DownloadError, download_file, download_model
from longhand.core.library.installed import is_verified, load_library

MB = 1_000_000


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("LONGHAND_OFFLINE", raising=False)
    server = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.stop()


@pytest.fixture
def models(tmp_path) -> Path:
    return tmp_path / "models"


def payload(n: int, seed: int = 1) -> bytes:
    import random
    return random.Random(seed).randbytes(n)


def gets(f) -> list:
    return [r for r in f.requests if r["method"] == "GET"]


def test_download_verifies_records_and_never_downloads_again(hub, models, monkeypatch):
    data = payload(3 * MB)
    f = hub.add("org/model-GGUF", "model-Q4_K_M.gguf", data)
    seen = []
    r = download_file("org/model-GGUF", "model-Q4_K_M.gguf", directory=models, on_progress=seen.append)
    assert r.path == models / "model-Q4_K_M.gguf"
    assert r.path.read_bytes() == data
    assert r.downloaded == len(data) and not r.already_present
    assert f.served == len(data)
    assert is_verified(r.path)
    entry = load_library(models)["verified"]["model-Q4_K_M.gguf"]
    assert entry["sha256"] == f.sha256 and entry["size"] == len(data)
    assert not (models / "model-Q4_K_M.gguf.part").exists()
    assert seen[-1].status == "done" and seen[-1].done == seen[-1].total == len(data)

    # A verified file is never fetched again, and needs no network at all: stop the hub and
    # switch offline mode on.
    hub.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = download_file("org/model-GGUF", "model-Q4_K_M.gguf", directory=models)
    assert again.already_present and again.downloaded == 0
    assert f.served == len(data)


def test_connection_dropped_mid_file_resumes_not_restarts(hub, models):
    size = 8 * MB
    data = payload(size, 2)
    # the connection dies after 5 MB, three times in a row
    f = hub.add("org/model-GGUF", "drop.gguf", data, drop_after=5 * MB, drop_times=3)
    r = download_file("org/model-GGUF", "drop.gguf", directory=models, backoff=0.05)
    assert r.path.read_bytes() == data
    reserved = f.served - size
    ranges = [r["range"] for r in gets(f) if r["range"]]
    assert ranges, "the retry did not send a Range header"
    assert all(rng.startswith("bytes=") and int(rng[6:].rstrip("-")) > 0 for rng in ranges)
    # a restart would re-serve >= 5 MB per drop; a resume only the last unfinished read chunk
    assert reserved < size // 10, f"re-served {reserved} bytes of a {size}-byte file"


def test_resume_after_cancel_in_a_later_run(hub, models):
    """The app closed mid-download: the part file stays, and the next run continues it."""
    size = 4 * MB
    data = payload(size, 3)
    f = hub.add("org/model-GGUF", "resume.gguf", data, rate=1 * MB)
    cancel = CancelToken()

    def on_progress(p):
        if p.done >= 1 * MB:
            cancel.cancel()

    with pytest.raises(Cancelled):
        download_file("org/model-GGUF", "resume.gguf", directory=models, cancel=cancel,
                      on_progress=on_progress, progress_interval=0.05)
    part = models / "resume.gguf.part"
    kept = part.stat().st_size
    assert 0 < kept < size
    assert not (models / "resume.gguf").exists()

    f.rate = None
    r = download_file("org/model-GGUF", "resume.gguf", directory=models)
    assert r.resumed_from == kept
    assert r.path.read_bytes() == data
    last = gets(f)[-1]
    assert last["range"] == f"bytes={kept}-"
    assert last["sent"] == size - kept


def test_wrong_hash_is_rejected_and_the_file_deleted(hub, models):
    data = payload(2 * MB, 4)
    hub.add("org/model-GGUF", "bad.gguf", data, sha256="ab" * 32)
    with pytest.raises(ChecksumError) as e:
        download_file("org/model-GGUF", "bad.gguf", directory=models)
    msg = str(e.value)
    assert "SHA-256" in msg and "deleted" in msg and "ab" * 32 in msg
    assert not (models / "bad.gguf").exists()
    assert not (models / "bad.gguf.part").exists()
    assert "bad.gguf" not in load_library(models)["verified"]


def test_full_disk_refuses_before_starting(hub, models, monkeypatch):
    data = payload(3 * MB, 5)
    f = hub.add("org/model-GGUF", "big.gguf", data)
    probed = []

    def tiny_disk(path):
        probed.append(Path(path))
        return 1 * MB

    monkeypatch.setattr(downloads, "free_space", tiny_disk)
    with pytest.raises(DiskFullError) as e:
        download_file("org/model-GGUF", "big.gguf", directory=models)
    assert "Not enough disk space" in str(e.value) and "0.00 GB is free" in str(e.value)
    assert probed == [models]
    assert gets(f) == [] and f.served == 0
    assert not (models / "big.gguf.part").exists()
    assert not (models / "big.gguf.part.json").exists()


def test_disk_check_counts_only_the_missing_part(hub, models, monkeypatch):
    data = payload(3 * MB, 6)
    hub.add("org/model-GGUF", "half.gguf", data)
    models.mkdir(parents=True)
    (models / "half.gguf.part").write_bytes(data[: 2 * MB])
    (models / "half.gguf.part.json").write_text(json.dumps({"sha256": hub.repos["org/model-GGUF"]["half.gguf"].sha256}))
    monkeypatch.setattr(downloads, "DISK_MARGIN", 0)
    monkeypatch.setattr(downloads, "free_space", lambda p: 1 * MB)  # exactly what is missing
    r = download_file("org/model-GGUF", "half.gguf", directory=models)
    assert r.resumed_from == 2 * MB and r.downloaded == 1 * MB
    assert r.path.read_bytes() == data


def test_disk_filling_up_mid_download_stops_with_a_clear_message(hub, models, monkeypatch):
    import errno
    data = payload(3 * MB, 13)
    hub.add("org/model-GGUF", "enospc.gguf", data)
    real_write = downloads._PartFile.write

    def write(self, chunk):
        if self.f.tell() >= 1 * MB:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, chunk)

    monkeypatch.setattr(downloads._PartFile, "write", write)
    with pytest.raises(DiskFullError) as e:
        download_file("org/model-GGUF", "enospc.gguf", directory=models, backoff=0.01)
    assert "filled up" in str(e.value) and "continue where it stopped" in str(e.value)
    assert (models / "enospc.gguf.part").stat().st_size >= 1 * MB


def test_slow_server_cancel_stops_the_download(hub, models):
    size = 4 * MB
    hub.add("org/model-GGUF", "slow.gguf", payload(size, 7), rate=50_000)  # 80 s in full
    cancel = CancelToken()
    outcome = []
    started = threading.Event()

    def run():
        try:
            download_file("org/model-GGUF", "slow.gguf", directory=models, cancel=cancel,
                          on_progress=lambda p: p.done > 0 and started.set())
            outcome.append("finished")
        except Cancelled as e:
            outcome.append(e)

    t = threading.Thread(target=run)
    t.start()
    assert started.wait(30)
    cancel.cancel()
    t.join(10)   # the whole file would take 80 s: returning at all proves the cancel worked
    assert not t.is_alive()
    assert isinstance(outcome[0], Cancelled)
    assert "resume" in str(outcome[0])
    part = models / "slow.gguf.part"
    assert part.exists() and part.stat().st_size < size


def test_server_errors_are_retried_with_backoff(hub, models):
    data = payload(1 * MB, 8)
    hub.add("org/model-GGUF", "flaky.gguf", data, errors=2)
    seen = []
    r = download_file("org/model-GGUF", "flaky.gguf", directory=models, backoff=0.05,
                      on_progress=seen.append)
    assert r.attempts == 3
    assert r.path.read_bytes() == data
    assert any(p.status == "retrying" for p in seen)


def test_gives_up_after_the_retries_with_a_clear_message(hub, models):
    hub.add("org/model-GGUF", "down.gguf", payload(1 * MB, 9), errors=100)
    with pytest.raises(DownloadError) as e:
        download_file("org/model-GGUF", "down.gguf", directory=models, retries=2, backoff=0.01)
    assert "503" in str(e.value) or "error" in str(e.value).lower()


def test_missing_file_is_not_retried(hub, models):
    hub.add("org/model-GGUF", "other.gguf", b"x")
    with pytest.raises(DownloadError) as e:
        download_file("org/model-GGUF", "nope.gguf", directory=models, backoff=0.01)
    assert "not found" in str(e.value)


def test_offline_mode_says_so(hub, models, monkeypatch):
    hub.add("org/model-GGUF", "a.gguf", b"x" * 10)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError) as e:
        download_file("org/model-GGUF", "a.gguf", directory=models)
    assert "Offline mode" in str(e.value)


def test_stale_part_of_another_version_is_discarded(hub, models):
    data = payload(2 * MB, 10)
    f = hub.add("org/model-GGUF", "v2.gguf", data)
    models.mkdir(parents=True)
    (models / "v2.gguf.part").write_bytes(b"\0" * MB)
    (models / "v2.gguf.part.json").write_text(json.dumps({"sha256": "cd" * 32}))
    r = download_file("org/model-GGUF", "v2.gguf", directory=models)
    assert r.resumed_from == 0 and r.path.read_bytes() == data
    assert gets(f)[-1]["range"] is None


def test_progress_has_bytes_speed_and_eta(hub, models):
    size = 2 * MB
    hub.add("org/model-GGUF", "prog.gguf", payload(size, 11), rate=1 * MB)
    seen = []
    download_file("org/model-GGUF", "prog.gguf", directory=models, on_progress=seen.append,
                  progress_interval=0.05)
    moving = [p for p in seen if p.status == "downloading"]
    assert len(moving) >= 3
    assert all(p.total == size for p in moving)
    assert [p.done for p in moving] == sorted(p.done for p in moving)
    assert any(p.speed > 0 and p.eta is not None and p.eta > 0 for p in moving)
    assert any(p.status == "verifying" for p in seen) or seen[-1].status == "done"
    line = downloads.progress_line(moving[-1])
    assert line.startswith("prog.gguf: ") and "/2.00 MB" in line
    assert "MB/s" in line and "ETA" in line
    big = downloads.DownloadProgress("x.gguf", 1_230_000_000, 4_920_000_000, speed=12.3e6, eta=302)
    assert downloads.progress_line(big) == "x.gguf: 1.23/4.92 GB  25%   12.3 MB/s ETA 5m02s"
    stalled = downloads.DownloadProgress("x.gguf", 10, 4_920_000_000, speed=0.0, eta=None)
    assert downloads.progress_line(stalled).endswith("0.0 MB/s ETA --:--")


def test_catalog_model_download_uses_the_catalog_repo_and_file(hub, models, monkeypatch):
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(models))
    data = payload(1 * MB, 12)
    f = hub.add("bartowski/LongWriter-llama3.1-8b-GGUF", "LongWriter-llama3.1-8b-IQ4_XS.gguf", data)
    r = download_model("longwriter-llama3.1-8b", "IQ4_XS")
    assert r.path == models / "LongWriter-llama3.1-8b-IQ4_XS.gguf"
    assert f.served == len(data)


@pytest.mark.slow
def test_end_to_end_download_load_write(hub, models, demo_model):
    """The real demo GGUF, served by the stand-in hub, downloaded, loaded and writing."""
    from longhand.core.backends.base import Prompt, Sampling
    from longhand.core.backends.llama import LlamaCppBackend
    from longhand.core.library.gguf import validate_model_file
    from longhand.core.text.wordcount import count_words

    data = Path(demo_model).read_bytes()
    hub.add("longhand-test/gemma-3-270m-GGUF", "gemma-3-270m-q4_k_m.gguf", data,
            drop_after=100 * MB)
    r = download_file("longhand-test/gemma-3-270m-GGUF", "gemma-3-270m-q4_k_m.gguf",
                      directory=models, backoff=0.05)
    assert r.size == len(data) and is_verified(r.path)
    info = validate_model_file(r.path)
    assert info.architecture == "gemma3" and info.block_count == 18
    backend = LlamaCppBackend(r.path, n_ctx=2048, n_threads=1)  # 1 thread: the CI cores are shared
    try:
        gen = backend.generate(Prompt(user=["The old lighthouse keeper opened the letter. "]),
                               max_tokens=60, sampling=Sampling(temperature=0.7, seed=7))
    finally:
        backend.close()
    assert count_words(gen.text) >= 24, gen.text
