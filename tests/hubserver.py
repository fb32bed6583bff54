"""Tests: a stand-in for the Hugging Face Hub on 127.0.0.1, serving files a test makes.

It serves what the real ``huggingface_hub`` client asks for when ``HF_ENDPOINT`` points here:

* ``HEAD/GET /{repo}/resolve/{revision}/{file}`` with ``X-Repo-Commit``, ``X-Linked-Etag``
  (the LFS sha256), ``X-Linked-Size``, ``ETag``, ``Accept-Ranges`` and Range requests (206);
* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` (``model_info``), with
  each sibling's size and ``lfs.sha256``.

Faults a test can switch on per file: drop the connection after N bytes of a response (the
first ``drop_times`` responses), advertise a wrong sha256, throttle to N bytes/s, answer the
first N downloads with 503. It counts
the body bytes it sends per file and per request, and logs each request's Range header, so a test can tell a
resumed download from a restarted one.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    data: bytes
    sha256: str = ""               # advertised; defaults to the real hash
    drop_after: int | None = None  # close the connection after this many body bytes...
    drop_times: int = 1            # ...in this many responses
    rate: float | None = None      # bytes per second
    errors: int = 0                # answer this many GETs with 503 first
    served: int = 0                # body bytes sent so far
    requests: list = field(default_factory=list)   # {"method", "range", "sent"} per request

    def __post_init__(self):
        if not self.sha256:
            self.sha256 = hashlib.sha256(self.data).hexdigest()


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, HubFile]] = {}
        self.lock = threading.Lock()
        self.api_calls = 0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def handle(self):
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass  # the client went away (a cancelled download)

            def do_HEAD(self):
                hub._handle(self, head=True)

            def do_GET(self):
                hub._handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, repo: str, filename: str, data: bytes, **faults) -> HubFile:
        f = HubFile(data, **faults)
        self.repos.setdefault(repo, {})[filename] = f
        return f

    def start(self) -> "FakeHub":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- request handling -----------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlparse(h.path).path)
        m = re.match(r"^/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?/?$", path)
        if m:
            return self._model_info(h, m.group(1), head)
        m = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if m:
            return self._resolve(h, m.group(1), m.group(3), head)
        self._send_json(h, 404, {"error": "Not found"}, head, error_code="EntryNotFound")

    def _send_json(self, h, status, obj, head, error_code=None):
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        if error_code:
            h.send_header("X-Error-Code", error_code)
            h.send_header("X-Error-Message", obj.get("error", ""))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _model_info(self, h, repo, head):
        self.api_calls += 1
        files = self.repos.get(repo)
        if files is None:
            return self._send_json(h, 404, {"error": "Repository not found"}, head,
                                   error_code="RepoNotFound")
        siblings = [{"rfilename": name, "size": len(f.data), "blobId": f.sha256[:40],
                     "lfs": {"sha256": f.sha256, "size": len(f.data), "pointerSize": 134}}
                    for name, f in files.items()]
        self._send_json(h, 200, {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                                 "siblings": siblings, "tags": ["gguf"]}, head)

    def _resolve(self, h, repo, filename, head):
        f = self.repos.get(repo, {}).get(filename)
        if f is None:
            return self._send_json(h, 404, {"error": "Entry not found"}, head,
                                   error_code="EntryNotFound")
        rng = h.headers.get("Range")
        log = {"method": h.command, "range": rng, "sent": 0}
        with self.lock:
            f.requests.append(log)
        if not head and f.errors > 0:
            with self.lock:
                f.errors -= 1
            return self._send_json(h, 503, {"error": "Service unavailable"}, head)
        size = len(f.data)
        start, end = 0, size - 1
        status = 200
        if rng and not head:
            m = re.match(r"bytes=(\d+)-(\d*)$", rng.strip())
            if not m or int(m.group(1)) >= size:
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{size}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else size - 1
            status = 206
        h.send_response(status)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("ETag", f'"{f.sha256}"')
        h.send_header("X-Linked-Etag", f'"{f.sha256}"')
        h.send_header("X-Linked-Size", str(size))
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        h.end_headers()
        if head:
            return
        drop_at = None
        with self.lock:
            if f.drop_after is not None and f.drop_times > 0:
                f.drop_times -= 1
                drop_at = f.drop_after
        pos, sent = start, 0
        chunk = 64 * 1024
        try:
            while pos <= end:
                n = min(chunk, end - pos + 1)
                if drop_at is not None:
                    n = min(n, drop_at - sent)
                    if n <= 0:
                        h.wfile.flush()
                        h.connection.shutdown(socket.SHUT_RDWR)
                        h.close_connection = True
                        return
                if f.rate:
                    n = min(n, max(1, int(f.rate / 20)))
                h.wfile.write(f.data[pos:pos + n])
                with self.lock:
                    f.served += n
                    log["sent"] += n
                pos += n
                sent += n
                if f.rate:
                    time.sleep(n / f.rate)
        except (BrokenPipeError, ConnectionResetError, OSError):
            h.close_connection = True
