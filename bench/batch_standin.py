"""Bench tool: stand-in OpenAI-compatible servers with a fixed capacity, for measuring the
batch *client* (not the CPU the model would need).

Each port is one "server" that behaves like llama-server to the client: ``/v1/models``,
``/props`` (``total_slots``, ``n_ctx``), ``/slots``, ``/tokenize`` (one token a word), and
streaming ``/v1/completions`` and ``/v1/chat/completions``. A server has ``slots`` slots
(llama-server's ``--parallel``); a request waits for a free slot, then waits ``latency``
seconds (prompt processing), then streams one token (one word) per chunk at ``rate`` tokens
per second, on an absolute schedule (no drift), until ``max_tokens`` or until the client
closes the stream. So N servers are N times the capacity, whatever the machine: the servers
sleep, they do not compute.

The text: a plan (``Paragraph k - Main Point: ... - Word Count: ...``) when the prompt asks
for one, else sentences of made-up words around the request's topic words, whose 4-grams
never repeat, so the engine's health check passes them as it would clean prose.

    python bench/batch_standin.py --servers 4 --slots 4 --rate 25 --latency 0.2
    (prints one URL a line, then serves until killed)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import time
import zlib

SYL = ["ka", "lo", "mi", "ren", "tu", "sa", "vel", "no", "bri", "da", "fen", "go", "hul", "ji", "mar", "pe",
       "qua", "ris", "te", "wo", "lan", "dor", "ex", "fi", "gar", "hom", "is", "ju", "ker", "lu", "mon", "nar"]
FUNCTION = ["the", "and", "of", "with", "near", "under", "while", "because", "after", "before"]
_PLAN_ASK = re.compile(r"\[main point\]|Main Point:\s*$", re.I)
_WRITE = re.compile(r"\b(Write (?:a|an|the) [^.\n]{5,300})")
_TASK = re.compile(r"(?:Writing task|Request|Instruction)[^\n]*:\s*\n(.+)", re.I)
_N_PARAS = re.compile(r"plan of (\d+)")
_STOP = {"write", "story", "essay", "report", "guide", "about", "words", "word", "text", "their", "there"}


class Capacity:
    def __init__(self, slots: int, rate: float, latency: float, n_ctx: int) -> None:
        self.slots, self.rate, self.latency, self.n_ctx = slots, rate, latency, n_ctx
        self.sem = asyncio.Semaphore(slots)
        self.busy = 0
        self.requests = 0
        self.tokens = 0


def topic_words(prompt: str) -> list[str]:
    """Content words of the request (the first "Write a/an ..." sentence of the prompt)."""
    m = _WRITE.search(prompt) or _TASK.search(prompt)
    task = m.group(m.lastindex or 0) if m else prompt[-300:]
    words = [w.lower() for w in re.findall(r"[A-Za-z]{4,}", task)]
    return [w for w in dict.fromkeys(words) if w not in _STOP][:6] or ["harbor"]


def plan_text(prompt: str) -> str:
    m = _N_PARAS.search(prompt)
    n = int(m.group(1)) if m else 4
    keys = topic_words(prompt)
    return "\n".join(f"Paragraph {k} - Main Point: the {keys[k % len(keys)]} in part {k} of the tale, "
                     f"with {keys[(k + 1) % len(keys)]} - Word Count: 400 words" for k in range(1, n + 1)) + "\n"


def prose(prompt: str):
    """Endless made-up prose: every 4-gram new (the seed mixes the prompt in)."""
    keys = topic_words(prompt)
    x = zlib.crc32(prompt.encode("utf-8", "replace")) or 12345
    n = 0
    while True:
        sentence = []
        for k in range(9):
            x = (x * 1103515245 + 12345) % (2 ** 31)
            if k == 0:
                w = "The"
            elif k == 4:
                w = FUNCTION[x % len(FUNCTION)]
            elif k == 6:
                w = keys[(x >> 3) % len(keys)]
            else:
                w = "".join(SYL[(x >> s) % len(SYL)] for s in (0, 5, 10))
            sentence.append(w)
        n += 1
        text = " ".join(sentence) + "."
        if n % 8 == 0:
            text += "\n\n"
        for i, w in enumerate(text.split(" ")):
            yield (" " if i or n > 1 else "") + w


def _chunk(piece: str, chat: bool) -> bytes:
    if chat:
        body = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "standin",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
    else:
        body = {"id": "c", "object": "text_completion", "created": 0, "model": "standin",
                "choices": [{"index": 0, "text": piece, "finish_reason": None}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _last(finish: str, chat: bool, n: int) -> bytes:
    choice = ({"index": 0, "delta": {}, "finish_reason": finish} if chat else
              {"index": 0, "text": "", "finish_reason": finish})
    body = {"id": "c", "object": "chat.completion.chunk" if chat else "text_completion", "created": 0,
            "model": "standin", "choices": [choice]}
    return b"data: " + json.dumps(body).encode() + b"\n\ndata: [DONE]\n\n"


async def handle(cap: Capacity, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    body: dict = {}
    if int(headers.get("content-length", 0) or 0):
        raw = await reader.readexactly(int(headers["content-length"]))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}

    def reply(obj, code: int = 200) -> None:
        data = json.dumps(obj).encode()
        writer.write(f"HTTP/1.1 {code} OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + data)

    try:
        if method == "GET" and path.endswith("/models"):
            reply({"object": "list", "data": [{"id": "standin", "object": "model", "owned_by": "bench"}]})
        elif method == "GET" and path.endswith("/props"):
            reply({"total_slots": cap.slots, "default_generation_settings": {"n_ctx": cap.n_ctx}})
        elif method == "GET" and path.endswith("/slots"):
            reply([{"id": i, "is_processing": i < cap.busy} for i in range(cap.slots)])
        elif method == "POST" and path == "/tokenize":
            reply({"tokens": list(range(len(str(body.get("content", "")).split())))})
        elif method == "POST" and path.endswith("/completions"):
            await stream(cap, body, path.endswith("/chat/completions"), reader, writer)
        else:
            reply({"error": {"message": "not found"}}, 404)
        await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def stream(cap: Capacity, body: dict, chat: bool, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    if chat:
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    else:
        prompt = str(body.get("prompt", ""))
    max_tokens = int(body.get("max_tokens") or 16)
    gone = asyncio.ensure_future(reader.read(1))        # b"" when the client closes the stream
    async with cap.sem:
        cap.busy += 1
        cap.requests += 1
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
            await asyncio.sleep(cap.latency)
            t0 = time.monotonic()
            if _PLAN_ASK.search(prompt.rstrip()):
                pieces = iter([plan_text(prompt)])
                finish = "stop"
            else:
                pieces = prose(prompt)
                finish = "length"
            n = 0
            for piece in pieces:
                if n >= max_tokens:
                    break
                wait = t0 + n / cap.rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if gone.done():
                    return
                writer.write(_chunk(piece, chat))
                await writer.drain()
                n += 1
                cap.tokens += 1
            writer.write(_last(finish, chat, n))
            await writer.drain()
        finally:
            cap.busy -= 1
            gone.cancel()


async def serve(n: int, slots: int, rate: float, latency: float, n_ctx: int, port0: int = 0) -> None:
    servers = []
    for k in range(n):
        cap = Capacity(slots, rate, latency, n_ctx)
        srv = await asyncio.start_server(lambda r, w, cap=cap: handle(cap, r, w), "127.0.0.1",
                                         port0 + k if port0 else 0, backlog=256)
        servers.append(srv)
        print(f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}/v1", flush=True)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for srv in servers:
        srv.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=1)
    ap.add_argument("--slots", type=int, default=4, help="parallel requests per server (llama-server --parallel)")
    ap.add_argument("--rate", type=float, default=25.0, help="tokens per second per slot")
    ap.add_argument("--latency", type=float, default=0.2, help="seconds before the first token")
    ap.add_argument("--ctx", type=int, default=32768)
    args = ap.parse_args()
    asyncio.run(serve(args.servers, args.slots, args.rate, args.latency, args.ctx))
    return 0


if __name__ == "__main__":
    sys.exit(main())
