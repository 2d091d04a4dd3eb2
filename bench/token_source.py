"""A token source for the capacity figure: a minimal OpenAI-compatible server that streams tokens at a set rate.

``python -m bench.token_source --port P --rate 60``. It exists because the real engine on a CPU cannot produce a
GPU's token rate: with it the app can be measured at 64 or 128 streams of 60 tokens a second, on this machine.
It is used by ``bench/capacity.py`` only; no test uses it in place of vLLM.

- ``GET /health``, ``GET /v1/models`` (one model, ``--model``, with ``max_model_len``);
- ``POST /v1/chat/completions`` with ``stream: true``: one chunk per token, ``max_tokens`` tokens at ``--rate``
  per second each (on a fixed schedule, so a late write does not slow the stream), usage on every chunk as
  vLLM sends it with ``continuous_usage_stats``, then a finish chunk and ``[DONE]``. Each token's text is its
  emission time (``time.time()``, 4 decimals) and a ``|``: the client measures the delay to its arrival.
  ``stream_interval`` (vLLM 0.32's per-request field, announced in ``GET /openapi.json`` as vLLM does) puts that
  many tokens in one chunk, the first and last chunks at once, as vLLM does.
  A prompt containing ``prefill=S`` waits S seconds before its first token (a long prefill, for Stop latency).
- ``GET /stats``: per request, when it was accepted, when its first token went out, when the client closed the
  connection (read as end-of-file, at once) and how many tokens were sent.

Plain asyncio streams, no framework: its own CPU stays small next to what it feeds (the report shows it).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import time

RECORDS: dict[int, dict] = {}
_IDS = itertools.count(1)
_PREFILL = re.compile(r"prefill=([0-9.]+)")


def _response(status: str, body: bytes, ctype: str = "application/json") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: keep-alive\r\n\r\n").encode() + body


def _chunk(payload: str) -> bytes:
    data = f"data: {payload}\n\n".encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _read_request(reader) -> tuple[str, str, bytes] | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return method, path, body


async def _stream(reader, writer, body: dict, args) -> None:
    rid = next(_IDS)
    rec = RECORDS[rid] = {"accepted": time.time(), "first": None, "closed": None, "sent": 0, "done": None}
    max_tokens = int(body.get("max_tokens") or 16)
    per_chunk = max(1, int(body.get("stream_interval") or 1))  # vLLM 0.32's tokens per streamed chunk
    held = ""
    text = json.dumps(body.get("messages", ""))
    match = _PREFILL.search(text)
    prefill = float(match.group(1)) if match else 0.0
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                 b"Connection: close\r\n\r\n")
    eof = asyncio.ensure_future(reader.read(1))  # the client closing its side: the moment Stop reached us
    created = int(time.time())
    base = {"id": f"chatcmpl-{rid}", "object": "chat.completion.chunk", "created": created, "model": args.model}

    def usage(n):
        return {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": 10 + n}

    try:
        writer.write(_chunk(json.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                                   "content": ""},
                                                               "finish_reason": None}], "usage": usage(0)})))
        start = time.monotonic() + prefill
        for i in range(max_tokens):
            delay = start + i / args.rate - time.monotonic()
            if delay > 0:
                done, _ = await asyncio.wait({eof}, timeout=delay)
                if done:
                    rec["closed"] = time.time()
                    return
            elif eof.done():
                rec["closed"] = time.time()
                return
            now = time.time()
            if rec["first"] is None:
                rec["first"] = now
            held += f"{now:.4f}|"
            if i == 0 or (i + 1) % per_chunk == 0 or i + 1 == max_tokens:  # vLLM's rule: first and last at once
                writer.write(_chunk(json.dumps({**base, "choices": [{"index": 0, "delta": {"content": held},
                                                                       "finish_reason": None}],
                                                "usage": usage(i + 1)}, separators=(",", ":"))))
                held = ""
                rec["sent"] = i + 1
                await writer.drain()
        writer.write(_chunk(json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],
                                        "usage": usage(max_tokens)})))
        writer.write(_chunk(json.dumps({**base, "choices": [], "usage": usage(max_tokens)})))
        writer.write(_chunk("[DONE]") + b"0\r\n\r\n")
        await writer.drain()
        rec["done"] = time.time()
    except (ConnectionError, OSError):
        rec["closed"] = rec["closed"] or time.time()
    finally:
        eof.cancel()


async def _serve(reader, writer, args) -> None:
    try:
        while True:
            try:
                method, path, raw = await _read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                return
            if method == "GET" and path.startswith("/health"):
                writer.write(_response("200 OK", b"{}"))
            elif method == "GET" and path.startswith("/v1/models"):
                models = {"object": "list", "data": [{"id": args.model, "object": "model",
                                                      "max_model_len": args.max_model_len}]}
                writer.write(_response("200 OK", json.dumps(models).encode()))
            elif method == "GET" and path.startswith("/openapi.json"):  # the request field it takes, as vLLM's says
                schema = {"components": {"schemas": {"ChatCompletionRequest": {"properties": {
                    "stream_interval": {"type": "integer", "minimum": 1}}}}}}
                writer.write(_response("200 OK", json.dumps(schema).encode()))
            elif method == "GET" and path.startswith("/stats"):
                writer.write(_response("200 OK", json.dumps(RECORDS).encode()))
            elif method == "POST" and path.startswith("/stats/reset"):
                RECORDS.clear()
                writer.write(_response("200 OK", b"{}"))
            elif method == "POST" and path.startswith("/v1/chat/completions"):
                await _stream(reader, writer, json.loads(raw or b"{}"), args)
                return  # a stream ends its connection (Connection: close)
            else:
                writer.write(_response("404 Not Found", b"{}"))
            await writer.drain()
    finally:
        writer.close()


async def main(args) -> None:
    server = await asyncio.start_server(lambda r, w: _serve(r, w, args), "127.0.0.1", args.port, backlog=1024)
    print(f"token source on 127.0.0.1:{args.port}, {args.rate} tokens/s per stream", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m bench.token_source")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=60.0, help="tokens per second per stream")
    p.add_argument("--model", default="Qwen3-VL-4B-Instruct")
    p.add_argument("--max-model-len", type=int, default=8192)
    asyncio.run(main(p.parse_args()))
