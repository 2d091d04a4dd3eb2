"""The one address visitors reach when several app processes serve the page: a small reverse proxy that sends
each request to the process its session lives in (``routing.py``) and passes answers on as they come.

It parses nothing but a JSON request's ``session_hash`` and ``event_id`` (and the ``event_id`` Gradio answers
with), and copies every other byte: an SSE message costs it one read and one write, well below the
per-update work of Gradio it spreads over the processes. Hop-by-hop headers are dropped, ``Host`` is kept (Gradio
builds file URLs from it) and ``X-Forwarded-For`` names the visitor.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web

from .routing import EventOwners, Request, reads_body, route

HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Content-Length"))
PROCESS_HEADER = "X-App-Process"  # which process answered: for the curious, the tests and the benchmarks
STARTING_WAIT_S = 600.0  # a request to a process that is (re)starting waits this long for it


class Upstream:
    """One app process as the front sees it: its port, and whether it takes requests now."""

    def __init__(self, index: int, port: int):
        self.index, self.port = index, port
        self.up = asyncio.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Front:
    def __init__(self, upstreams: Sequence[Upstream], max_body_mb: int):
        self.upstreams = list(upstreams)
        self.events = EventOwners()
        self._any = itertools.cycle(range(len(self.upstreams)))
        self._max_body = max_body_mb * 1024 * 1024
        self._session: ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self._max_body)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        return app

    async def _open(self, app: web.Application) -> None:
        # No connection limit: every visitor's event stream is a connection held open for the answer's length.
        self._session = ClientSession(connector=TCPConnector(limit=0), auto_decompress=False,
                                      timeout=ClientTimeout(total=None, sock_connect=30))

    async def _close(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body: bytes | None = None
        session_hash = event_id = None
        if reads_body(request.method, request.headers.get("Content-Type", "")):
            body = await request.read()
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                session_hash = parsed.get("session_hash") if isinstance(parsed.get("session_hash"), str) else None
                event_id = parsed.get("event_id") if isinstance(parsed.get("event_id"), str) else None
        req = Request(request.method, request.path, dict(request.query), session_hash, event_id)
        index = route(req, len(self.upstreams), self.events)
        upstream = self.upstreams[next(self._any) if index is None else index]
        if not upstream.up.is_set():
            try:
                await asyncio.wait_for(upstream.up.wait(), STARTING_WAIT_S)
            except TimeoutError:
                return web.Response(status=503, text="The page is starting; please try again in a moment.")
        return await self._forward(request, upstream, body)

    async def _forward(self, request: web.Request, upstream: Upstream, body: bytes | None) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        peer = request.remote or ""
        headers["X-Forwarded-For"] = ", ".join(filter(None, [request.headers.get("X-Forwarded-For"), peer]))
        headers.setdefault("X-Forwarded-Proto", request.scheme)
        if body is None and request.can_read_body:
            data = request.content
            if request.content_length is not None:
                headers["Content-Length"] = str(request.content_length)
        else:
            data = body  # type: ignore[assignment]
        assert self._session is not None
        out: web.StreamResponse | None = None
        try:
            async with self._session.request(request.method, upstream.base + request.rel_url.raw_path_qs,
                                             headers=headers, data=data, allow_redirects=False) as up:
                out = web.StreamResponse(status=up.status, reason=up.reason)
                for k, v in up.headers.items():
                    if k.lower() not in HOP_BY_HOP:
                        out.headers.add(k, v)
                out.headers[PROCESS_HEADER] = str(upstream.index)
                if "json" in up.headers.get("Content-Type", "") and request.method == "POST":
                    # small answers that may name an event (queue/join, call/...): remember whose it is
                    content = await up.read()
                    self._note_event(content, upstream.index)
                    out.content_length = len(content)
                    await out.prepare(request)
                    await out.write(content)
                else:
                    if up.content_length is not None:
                        out.content_length = up.content_length
                    await out.prepare(request)
                    async for chunk in up.content.iter_any():
                        await out.write(chunk)
                await out.write_eof()
        except (ClientError, ConnectionError) as exc:
            # The visitor left (leaving the block closed the process's side too), or the process failed: before
            # any answer that is a 502; during one, the visitor's connection ends where the answer broke off.
            if out is None or not out.prepared:
                return web.Response(status=502, text=f"The app process did not answer ({type(exc).__name__}).")
        return out

    def _note_event(self, content: bytes, index: int) -> None:
        try:
            parsed = json.loads(content)
        except ValueError:
            return
        if isinstance(parsed, dict) and isinstance(parsed.get("event_id"), str):
            self.events.add(parsed["event_id"], index)
