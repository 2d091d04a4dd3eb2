"""The life cycle both engines share: start in a monitor thread, wait until up, watch, restart, stop.

An engine that never came up is not retried (a bad flag or a missing file will not fix itself): its status
becomes "error" with the reason. One that dies after it was ready is restarted, with a growing pause, up to
``max_restarts`` times. One that is alive but stops answering its health check is shown as "unresponsive"
and, after ``hang_limit`` seconds of that, killed and restarted too. ``stop()`` ends the monitor and the
engine's whole process group.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path

from .processes import tail
from .startup import PhaseReader, StartTimes
from .status import EngineStatus, StatusCell


class EngineStartError(RuntimeError):
    """An engine could not start; the message says why, with the end of its log."""


class Supervisor:
    """Subclasses implement :meth:`spawn`, ``_wait_up``, ``_running``, ``_exit_code`` and ``_kill``."""

    name = "engine"
    health_interval = 5.0  # seconds between health checks of a ready engine
    misses_before_unresponsive = 3  # one slow answer on a busy machine is not a hang

    def __init__(self, log_path: Path, startup_timeout: float, max_restarts: int, hang_limit: float = 300.0):
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.max_restarts = max_restarts
        self.hang_limit = hang_limit
        self.status = StatusCell(self.name)
        self._stopping = threading.Event()
        # Held while a process is spawned and while stop() kills: a spawn either finishes before the kill (and is
        # killed) or sees the stop and does not happen. Without it a restart could spawn just after stop()'s kill.
        self._life = threading.Lock()
        self._thread: threading.Thread | None = None
        self._phases: PhaseReader | None = None
        self.start_times = StartTimes(self.log_path.parent / "start-times.json")

    @property
    def start_key(self) -> str:
        """What a start's duration is remembered under (subclasses add the model and the placement)."""
        return self.name

    # --- public surface -------------------------------------------------------------------------------
    def start(self) -> None:
        """Launch the engine and its monitor thread; returns at once (see :meth:`wait_ready`)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self.status.set_last_start(self.start_times.get(self.start_key))
        self.status.set("starting", "launching", fresh=True)
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-monitor", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> EngineStatus:
        """Block until ready; raise :class:`EngineStartError` if it failed or stopped."""
        st = self.status.wait_for(("ready", "error", "stopped"), timeout)
        if st.state != "ready":
            raise EngineStartError("\n".join(filter(None, [st.detail or f"the {self.name} is {st.state}", st.hint])))
        return st

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for and no :meth:`start` came since: a waiting caller gives up on it."""
        return self._stopping.is_set()

    def request_stop(self) -> None:
        """End the monitor's waits and its spawning, killing nothing: the first step of :meth:`stop`."""
        self._stopping.set()

    def stop(self) -> None:
        """Stop the engine's whole process group and the monitor; safe to call twice. Final: once it returns no
        process of this engine exists, and none is started until :meth:`start` is called again."""
        self.request_stop()
        with self._life:
            self._kill()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)
        self.status.set("stopped")

    def last_log_lines(self, n: int = 15) -> str:
        return "\n".join(tail(self.log_path, n))

    # --- for subclasses ---------------------------------------------------------------------------------
    def spawn(self) -> None:
        """Start the engine's process: the monitor calls it, under the lock that :meth:`stop` kills under."""
        raise NotImplementedError

    def _wait_up(self, deadline: float) -> str | None:
        """Block until the engine answers (None) or a reason it never will (exited, too slow, stopping)."""
        raise NotImplementedError

    def _running(self) -> bool:
        raise NotImplementedError

    def _exit_code(self) -> int | None:
        raise NotImplementedError

    def _kill(self) -> None:
        raise NotImplementedError

    def _on_down(self, reason: str) -> None:
        """Called when a ready engine went down (the worker fails its pending jobs here)."""

    def _responsive(self) -> bool:
        """Whether a running engine answers its health check (engines without one always do)."""
        return True

    def watch_ready(self, restarts: int) -> str | None:
        """The monitor's watch of a ready engine: None once stopping, else why it went down (exited, or hung)."""
        misses, silent_since, next_check = 0, None, time.monotonic() + self.health_interval
        while self._running() and not self._stopping.wait(min(0.5, self.health_interval)):
            if time.monotonic() < next_check:
                continue
            next_check = time.monotonic() + self.health_interval
            if self._responsive():
                if misses >= self.misses_before_unresponsive:
                    self.status.set("ready", "", restarts)
                misses, silent_since = 0, None
                continue
            misses += 1
            silent_since = silent_since or time.monotonic()
            silent = time.monotonic() - silent_since
            if misses >= self.misses_before_unresponsive:
                self.status.set("unresponsive", f"no answer to its health check for {silent:.0f} s", restarts)
            if silent >= self.hang_limit:
                return f"the {self.name} did not answer for {silent:.0f} s and was restarted"
        if self._stopping.is_set():
            return None
        return f"the {self.name} stopped unexpectedly (exit code {self._exit_code()})"

    # --- shared helpers ---------------------------------------------------------------------------------
    def _progress(self) -> None:
        """Show the phase of the start (from the engine's log): a name, never a log line, which can hold paths."""
        if self._phases is not None:
            self.status.set_detail(self._phases.poll())

    def _exited_while_starting(self) -> str:
        return f"the {self.name} exited with code {self._exit_code()} while starting"

    def _too_slow(self) -> str:
        return f"the {self.name} was not ready within {self.startup_timeout:.0f} s"

    def _log_hint(self) -> str:
        """Where the log is and how it ends: for the terminal and the start error, never for the page."""
        return f"its log ({self.log_path}) ends with:\n{self.last_log_lines()}"

    def _report(self, state: str, problem: str, restarts: int) -> None:
        """Set a failed state: the sentence for the page, the log's path and end for the terminal (printed)."""
        hint = self._log_hint()
        self.status.set(state, problem, restarts, hint=hint)  # type: ignore[arg-type]
        print(f"[{self.name}] {state}: {problem}\n{hint}", file=sys.stderr, flush=True)

    def compile_cache_was_broken(self) -> bool:
        """Remove torch.compile's cache when the failed start died loading a truncated artefact from it.

        An engine stopped in the middle of its first compile (Ctrl-C during start-up) can leave a half-written
        ``.so`` in vLLM's shared cache; every later start then fails with "file too short" (seen here).
        """
        log = "\n".join(tail(self.log_path, 400, max_bytes=512 * 1024))
        if "torch_compile_cache" not in log or not any(
                sign in log for sign in ("file too short", "InductorError", "invalid ELF header")):
            return False
        root = os.environ.get("VLLM_CACHE_ROOT") or os.path.join(os.path.expanduser("~"), ".cache", "vllm")
        shutil.rmtree(os.path.join(root, "torch_compile_cache"), ignore_errors=True)
        return True

    def _run(self) -> None:
        try:
            self._supervise()
        finally:
            with self._life:  # whatever this thread started ends with it (stop() may have come mid-spawn)
                self._kill()

    def _supervise(self) -> None:
        restarts = 0
        ever_ready = False
        cache_cleared = False
        while True:
            with self._life:
                if self._stopping.is_set():
                    break
                self._phases = PhaseReader(self.log_path)
                spawned = time.monotonic()
                self.spawn()
            problem = self._wait_up(time.monotonic() + self.startup_timeout)
            if self._stopping.is_set():
                break
            if problem is None:
                ever_ready = True
                took = time.monotonic() - spawned
                self.start_times.put(self.start_key, took)
                self.status.set_last_start(took)
                self.status.set("ready", "", restarts)
                problem = self.watch_ready(restarts)
                if problem is None or self._stopping.is_set():
                    break
                self._report("restarting", problem, restarts)  # at once: no new request may count on it
                self._on_down(problem)
            self._kill()  # its children too (vLLM's EngineCore and workers)
            if not ever_ready and not cache_cleared and self.compile_cache_was_broken():
                cache_cleared = True
                self.status.set("starting", "cleared a broken compile cache; starting again")
                continue
            if not ever_ready or restarts >= self.max_restarts:
                self._report("error", problem, restarts)
                return
            restarts += 1
            self.status.set("restarting", problem, restarts)
            self._stopping.wait(min(30.0, 2.0 * restarts))  # back off: a crash loop should not spin
