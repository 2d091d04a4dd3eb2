"""The app processes' side of the engines: a server and a video worker that mirror the engines' process.

An app process of several starts no engine. Its :class:`Engines` holds a :class:`MirroredServer` (the
co-launched server's address, and its status as the engines' process reports it) and a :class:`MirroredWorker`
(a video answer is sent to the one worker through the engines' process, ``hub.py``). The page sees the same
statuses, sentences and events as with one process. When the engines' process is gone, the app process ends:
it has nothing left to serve.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from collections.abc import AsyncGenerator

import numpy as np

from .. import errors
from ..engines.engines import Engines
from ..engines.params import GenerationParams
from ..engines.status import EngineStatus, StatusCell
from ..engines.supervisor import EngineStartError
from ..errors import EngineError
from ..settings import Settings
from .wire import END, EnginesNews, Failed, Shared, pack, receive, receive_blocking, send


def _ready(status: StatusCell, timeout: float | None) -> EngineStatus:
    """Wait until the engines' process reports the engine ready, or failed (raised, as a supervisor does)."""
    st = status.wait_for(("ready", "error", "stopped"), timeout)
    if st.state != "ready":
        raise EngineStartError(st.detail or st.state)
    return st


class MirroredServer:
    """The co-launched server as the engines' process sees it."""

    def __init__(self, news: EnginesNews):
        self.status = StatusCell(news.server.name)
        self.endpoint = news.endpoint
        self.max_model_len: int | None = news.max_model_len
        self.take(news)

    def take(self, news: EnginesNews) -> None:
        self.status.put(news.server)
        self.endpoint, self.max_model_len = news.endpoint, news.max_model_len

    def start(self) -> None:
        pass  # the engines' process started it

    def wait_ready(self, timeout: float | None = None) -> EngineStatus:
        return _ready(self.status, timeout)

    def stop(self) -> None:
        pass  # the engines' process stops it


class MirroredWorker:
    """The one video worker, reached through the engines' process; ``answer`` is the worker's own, in effect."""

    def __init__(self, shared: Shared, status: EngineStatus):
        self.shared = shared
        self.status = StatusCell(status.name)
        self.status.put(status)

    def start(self) -> None:
        pass

    def wait_ready(self, timeout: float | None = None) -> EngineStatus:
        return _ready(self.status, timeout)

    def stop(self) -> None:
        pass

    async def answer(self, frames: np.ndarray, sample_fps: float, question: str,
                     params: GenerationParams | None = None, *, timing: tuple[list[int], float, int] | None = None,
                     history: tuple[tuple[str, str], ...] = (), json_schema: dict | None = None
                     ) -> AsyncGenerator:
        """As ``VideoWorker.answer``: closing this generator closes the connection, which cancels the job."""
        job = dict(frames=frames, sample_fps=sample_fps, question=question, params=params,
                   timing=timing, history=tuple(history), json_schema=json_schema)
        try:
            reader, writer = await asyncio.open_unix_connection(self.shared.socket_path)
        except OSError as exc:
            raise EngineError("worker_unavailable", detail="the engines' process does not answer") from exc
        try:
            await send(writer, (self.shared.token, "video", job))
            while True:
                item = await receive(reader)
                if item == END:
                    return
                if isinstance(item, Failed):
                    raise getattr(errors, item.kind, EngineError)(item.code, **item.fields)
                yield item
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise EngineError("worker_crashed", detail="the engines' process went away") from exc
        finally:
            writer.close()


def follow_news(sock: socket.socket, server: MirroredServer, worker: MirroredWorker | None) -> None:
    """A daemon thread that keeps the mirrors' statuses as the engines' process reports them; when that process is
    gone, this app process takes its own clean exit (SIGTERM), since there is nothing left to serve."""

    def run() -> None:
        try:
            while True:
                news = receive_blocking(sock)
                server.take(news)
                if news.worker is not None and worker is not None:
                    worker.status.put(news.worker)
        except (EOFError, OSError):
            pass
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=run, name="engines-news", daemon=True).start()


def mirrored_engines(settings: Settings, shared: Shared) -> Engines:
    """An :class:`Engines` of mirrors: connects to the engines' process and waits for its first news."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(shared.socket_path)
    sock.sendall(pack((shared.token, "news")))
    news: EnginesNews = receive_blocking(sock)
    server = MirroredServer(news)
    worker = MirroredWorker(shared, news.worker) if shared.has_worker and news.worker is not None else None
    engines = Engines(settings, shared.model_path, shared.plan, shared.log_dir, None, shared.reasoning_parser,
                      server=server, worker=worker, card=shared.card)
    follow_news(sock, server, worker)
    return engines
