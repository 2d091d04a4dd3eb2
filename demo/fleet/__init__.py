"""Several app processes behind one address (issue 30): the page's crowd work spread over more than one core.

One Gradio process is one event loop, and a crowd fills its core (48 ms of it per chat visitor on an H100,
``bench/RESULTS-crowd.md``) long before the GPU is busy. Here the app's first process starts the engines once and
then serves no page itself: it runs the front (``front.py``, the one address, each request sent to its session's
process), the hub (``hub.py``, the engines' status and the one video worker for every app process), and
``app_processes`` app processes (``child.py``), each a whole page of its own with the engines mirrored
(``mirror.py``). Limits that bound the whole app (answers admitted, the queue, sessions kept) are shared out
among them. With one process (the default without a GPU) none of this runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..engines.server import free_port
from ..settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MOST_AUTO = 4  # app processes chosen by the machine: past 4, the front's one core is the next limit
CORES_EACH = 4  # CPU cores a machine has per app process it runs, when the machine decides (vLLM needs some)
RESTART_PAUSE_S = 2.0
SHUTDOWN_S = 5.0  # the longest the front waits for its open requests when the app stops


def app_processes(setting: int, gpus: int, cpu_count: int, share: bool = False) -> int:
    """How many app processes serve the page: the setting, or (0) one without a GPU (the engines then take the
    cores) or with a gradio.live link (Gradio's share tunnel belongs to one launched page), and else one per
    ``CORES_EACH`` cores, at most ``MOST_AUTO``."""
    if setting > 0:
        return setting
    if gpus == 0 or share:
        return 1
    return max(1, min(MOST_AUTO, cpu_count // CORES_EACH))


def share_of(settings: Settings, n: int, port: int) -> Settings:
    """One app process's settings: the whole app's limits shared out (rounded up), on a port of its own that only
    this machine reaches."""
    def part(value: int) -> int:
        return max(1, math.ceil(value / n))

    return dataclasses.replace(
        settings, host="127.0.0.1", app_port=port, share=False, app_processes=1,
        concurrency_limit=part(settings.concurrency_limit), max_concurrency=part(settings.max_concurrency),
        max_queue_size=part(settings.max_queue_size), session_capacity=part(settings.session_capacity))


class AppProcess:
    """One app process: started with its settings and the engines' news address on its standard input."""

    def __init__(self, index: int, settings: Settings, shared):
        self.index, self.settings, self.shared = index, settings, shared
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.starts = 0

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "demo.fleet.child"], cwd=ROOT, stdin=subprocess.PIPE)
        assert self.proc.stdin is not None
        self.proc.stdin.write(pickle.dumps((self.index, self.settings, self.shared)))
        self.proc.stdin.close()
        self.started_at, self.starts = time.monotonic(), self.starts + 1

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self, grace: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def _answers(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


class Fleet:
    """The front, the hub and ``n`` app processes on ``engines`` (started and stopped by the caller)."""

    def __init__(self, settings: Settings, engines, n: int):
        self.settings, self.engines, self.n = settings, engines, n
        self.procs: list[AppProcess] = []
        self.all_up = threading.Event()  # every app process answers on its port

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; then stop the app processes (whole, in order: front, processes, hub)."""
        from aiohttp import web

        from .front import Front, Upstream
        from .hub import Hub

        hub = Hub(self.engines)
        await hub.start()
        ports = [free_port() for _ in range(self.n)]
        self.procs = [AppProcess(i, share_of(self.settings, self.n, port), hub.shared())
                      for i, port in enumerate(ports)]
        upstreams = [Upstream(i, port) for i, port in enumerate(ports)]
        # A JSON body (an API call's inputs) may hold a file as text: as large as an upload, and then some.
        front = Front(upstreams, max_body_mb=2 * self.settings.max_file_size_mb + 16)
        runner = web.AppRunner(front.app(), access_log=None)
        watcher = None
        try:
            for proc in self.procs:
                proc.start()
            await runner.setup()
            watcher = asyncio.ensure_future(self._watch(upstreams))
            await web.TCPSite(runner, self.settings.host, self.settings.app_port, shutdown_timeout=SHUTDOWN_S).start()
            print(f"* Running on local URL:  http://{self.settings.host}:{self.settings.app_port} ({self.n} app "
                  f"processes, pids {', '.join(str(p.proc.pid) for p in self.procs if p.proc)})", flush=True)
            await stop.wait()
        finally:
            if watcher is not None:
                watcher.cancel()
            # Both at once: the app processes' ends close the streams the front still passes on (a tab's
            # heartbeat is one), which the front's cleanup would otherwise wait for.
            await asyncio.gather(runner.cleanup(),
                                 asyncio.get_running_loop().run_in_executor(None, stop_all, self.procs))
            await hub.stop()

    async def _watch(self, upstreams: list) -> None:
        """Marks each app process up once its port answers; restarts one that ended (its visitors' sessions start
        again, as after a reload; the others' are untouched)."""
        while True:
            for proc, upstream in zip(self.procs, upstreams):
                code = proc.exited()
                if code is not None:
                    upstream.up.clear()
                    self.all_up.clear()
                    print(f"App process {proc.index} ended (exit code {code}); starting it again.", flush=True)
                    await asyncio.sleep(RESTART_PAUSE_S)
                    proc.start()
                elif not upstream.up.is_set() and await _answers(upstream.port):
                    upstream.up.set()
            if all(u.up.is_set() for u in upstreams):
                self.all_up.set()
            await asyncio.sleep(0.25)


def stop_all(procs: list[AppProcess]) -> None:
    """SIGTERM every app process at once, then wait for each (SIGKILL after its grace)."""
    for proc in procs:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.stop()


def serve(settings: Settings, engines, n: int) -> None:
    """Serve the page from ``n`` app processes until SIGINT or SIGTERM; the engines are already started, and the
    caller stops them."""
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # an orderly end, not an exception in the middle of the loop
            loop.add_signal_handler(sig, stop.set)
        await Fleet(settings, engines, n).run(stop)

    asyncio.run(main())


@contextmanager
def running_fleet(settings: Settings, engines, n: int, ready_timeout: float = 600.0) -> Iterator[Fleet]:
    """A fleet served from a thread of this process until the block ends (tests, benchmarks); every app process
    answers when it is yielded."""
    fleet = Fleet(settings, engines, n)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            loop.run_until_complete(fleet.run(stop))
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            failed.append(exc)
            fleet.all_up.set()

    thread = threading.Thread(target=run, name="fleet", daemon=True)
    thread.start()
    try:
        if not fleet.all_up.wait(ready_timeout) or failed:
            raise RuntimeError(f"the app processes did not start: {failed[0] if failed else 'timed out'}")
        yield fleet
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        loop.close()
