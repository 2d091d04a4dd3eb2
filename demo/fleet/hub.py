"""The engines' side of several app processes: the engines' status, and the one video worker, served to every
app process over a Unix socket (``mirror.py`` is the other end).

The video worker holds its GPU memory once, so the app processes share it rather than start one each; its line
(places, capacity, cancels) stays the worker's own. A video answer is one connection: the app process sends the
job and reads the events; closing the connection (Stop, a closed tab, the app process gone) cancels the job, as
closing the generator does in one process.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from contextlib import aclosing, suppress

from ..engines.engines import Engines
from ..errors import UserFacingError
from .wire import END, EnginesNews, Failed, Shared, receive, send

NEWS_EVERY_S = 0.25  # how often the engines' status is looked at for news


class Hub:
    def __init__(self, engines: Engines):
        self.engines = engines
        self.token = secrets.token_hex(16)
        self._folder = tempfile.mkdtemp(prefix="qwen-demo-hub-")  # mode 0700: only this user can reach the socket
        self.socket_path = os.path.join(self._folder, "engines.sock")
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task] = set()

    def shared(self) -> Shared:
        e = self.engines
        return Shared(self.socket_path, self.token, e.model_path, e.plan, e.log_dir, e.reasoning_parser,
                      e.worker is not None, e.card)

    def news(self) -> EnginesNews:
        e = self.engines
        return EnginesNews(e.server.status.get(), e.worker.status.get() if e.worker else None, e.server.endpoint,
                           e.max_model_len)

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=self.socket_path)

    async def stop(self) -> None:
        """Stop listening and end every connection still open (the app processes are stopped first)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        with suppress(OSError):
            os.unlink(self.socket_path)
            os.rmdir(self._folder)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            hello = await receive(reader)
            if not (isinstance(hello, tuple) and len(hello) >= 2 and isinstance(hello[0], str)
                    and secrets.compare_digest(hello[0], self.token)):
                return
            match hello[1:]:
                case ("news",):
                    await self._news(reader, writer)
                case ("video", dict() as job):
                    await self._video(reader, writer, job)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the app process went away
        except asyncio.CancelledError:
            pass  # the hub stops: a connection's task ends here (asyncio's stream callback logs a cancelled one)
        finally:
            self._connections.discard(task)  # type: ignore[arg-type]
            writer.close()

    async def _news(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The engines' status now and at every change, until the app process closes the connection."""
        gone = asyncio.ensure_future(reader.read(1))
        last = None
        try:
            while not gone.done():
                now = self.news()
                if now != last:
                    await send(writer, now)
                    last = now
                await asyncio.wait({gone}, timeout=NEWS_EVERY_S)
        finally:
            gone.cancel()

    async def _video(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, job: dict) -> None:
        """One video answer in the worker, its events sent as they come; cancelled when the asker lets go."""
        worker = self.engines.worker

        async def relay() -> None:
            try:
                if worker is None:
                    raise RuntimeError("no video worker in this plan")
                async with aclosing(worker.answer(**job)) as events:
                    async for event in events:
                        await send(writer, event)
                await send(writer, END)
            except UserFacingError as exc:
                await send(writer, Failed.of(exc))
            except Exception as exc:  # a bug of ours: the asker gets a sentence, the log the error
                print(f"video answer failed in the engines' process: {exc!r}", flush=True)
                await send(writer, Failed("EngineError", "worker_failed", {"detail": type(exc).__name__}))

        gone = asyncio.ensure_future(reader.read(1))  # any byte or the end: the asker let go
        answer = asyncio.ensure_future(relay())
        try:
            await asyncio.wait({gone, answer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (gone, answer):
                task.cancel()  # an answer cancelled while it waits on the worker cancels the job there
            await asyncio.gather(gone, answer, return_exceptions=True)
