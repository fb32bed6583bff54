"""Test double (never in app/): a tiny OpenAI-compatible server on 127.0.0.1 that misbehaves
on purpose (slow, garbage, auth failure, dropped stream) or writes scripted text."""

from __future__ import annotations

import itertools
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLAN = ("Paragraph 1 - Main Point: Mara finds the bottle - Word Count: 60 words\n"
        "Paragraph 2 - Main Point: Mara sets out to sea - Word Count: 60 words\n\n")
SENTENCE = " The keeper walked along the wet stones and looked at the sea."
_SYL = ["ka", "lo", "mi", "ren", "tu", "sa", "vel", "no", "bri", "da", "fen", "go", "hul", "ji", "mar", "pe",
        "qua", "ris", "te", "wo"]


def prose(seed: str, n: int) -> list[str]:
    """``n`` one-word pieces of made-up prose whose 4-grams never repeat (a text the health
    check passes; ``SENTENCE`` over and over is a loop it rightly cuts)."""
    x = zlib.crc32(seed.encode()) or 1
    out = []
    for i in itertools.islice(itertools.count(), n):
        x = (x * 1103515245 + 12345) % (2 ** 31)
        k = i % 8
        word = "The" if k == 0 else "keeper" if k == 3 else "".join(_SYL[(x >> s) % 20] for s in (0, 5, 10))
        out.append(f" {word}{'.' if k == 7 else ''}")
    return out


class StubServer:
    """``mode``: "ok" (scripted writer), "slow", "garbage", "auth", "drop" (stream breaks after
    ``drop_after`` pieces), "early_end" (ends each stream after ``end_after`` pieces unless
    end-of-text is banned with logit_bias). ``text``: "sentence" (``SENTENCE`` over and over)
    or "prose" (:func:`prose`). ``slots``: what ``/props`` reports as ``total_slots`` (as
    llama-server does; None: no ``/props``). ``requests`` records every JSON body received."""

    def __init__(self, mode: str = "ok", *, delay: float = 3.0, drop_after: int = 5,
                 end_after: int = 4, text: str = "sentence", slots: int | None = None) -> None:
        self.mode = mode
        self.text = text
        self.slots = slots
        self.delay = delay
        self.drop_after = drop_after
        self.end_after = end_after
        self.requests: list[tuple[str, dict]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, code: int, obj) -> None:
                self._send(code, json.dumps(obj).encode())

            def do_GET(self):
                if stub.mode == "garbage":
                    return self._send(200, b"<html>It works!</html>", "text/html")
                if stub.mode == "auth":
                    return self._json(401, {"error": {"message": "Invalid API key", "type": "auth"}})
                if self.path.endswith("/models"):
                    return self._json(200, {"object": "list", "data": [
                        {"id": "stub-model", "object": "model", "owned_by": "me"}]})
                if self.path.endswith("/props") and stub.slots:
                    return self._json(200, {"total_slots": stub.slots})
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                stub.requests.append((self.path, body))
                if stub.mode == "garbage":
                    return self._send(200, b"<html>It works!</html>", "text/html")
                if self.path.endswith("/extras/tokenize"):
                    text = body.get("input", "")
                    toks = [2]       # BOS, then a word per token; "<eos>" is the only special
                    for w in text.split():
                        toks += [1] if w == "<eos>" else [ord(c) for c in w] if w[0] == "<" else [100 + len(w)]
                    return self._json(200, {"tokens": toks})
                if not self.path.endswith("/completions"):
                    return self._json(404, {"error": {"message": "not found"}})
                if stub.mode == "slow":
                    time.sleep(stub.delay)
                prompt = body.get("prompt", "")
                if prompt.rstrip().endswith("Paragraph 1 - Main Point:"):
                    pieces = [PLAN]
                elif stub.text == "prose":
                    pieces = prose(prompt, 2400)
                else:
                    pieces = (SENTENCE.replace(" ", "\x00 ").split("\x00")[1:]) * 200
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                banned = "1" in (body.get("logit_bias") or {})
                finish = "length"
                for n, piece in enumerate(pieces[: int(body.get("max_tokens", 16))]):
                    if stub.mode == "drop" and n == stub.drop_after:
                        self.wfile.write(b"data: {this is not json\n\n")
                        self.wfile.flush()
                        return
                    if stub.mode == "early_end" and n == stub.end_after and not banned:
                        finish = "stop"
                        break
                    chunk = {"id": "c", "object": "text_completion", "created": 0, "model": "stub-model",
                             "choices": [{"index": 0, "text": piece, "finish_reason": None}]}
                    try:
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    except OSError:     # the client closed the stream (stop / cancel)
                        return
                else:
                    finish = "stop" if pieces == [PLAN] else "length"
                last = {"id": "c", "object": "text_completion", "created": 0, "model": "stub-model",
                        "choices": [{"index": 0, "text": "", "finish_reason": finish}]}
                try:
                    self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
                    self.wfile.flush()
                except OSError:
                    pass
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def completions(self) -> list[dict]:
        return [b for p, b in self.requests if p.endswith("/completions")]
