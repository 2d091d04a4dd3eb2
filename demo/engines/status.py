"""Engine status, shared by the server supervisor and the video worker, shown in the page header."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Literal

State = Literal["starting", "ready", "unresponsive", "restarting", "error", "stopped"]


@dataclass(frozen=True)
class EngineStatus:
    name: str  # "server" or "video worker"
    state: State
    since: float  # time.monotonic() when this state began
    detail: str = ""  # the reason (error, restarting) or the phase (starting): shown to every visitor, so no
    # addresses or paths in it; those go in ``hint``
    restarts: int = 0
    hint: str = ""  # for the terminal only: where the log is and how it ends
    last_start_s: float | None = None  # how long this engine's last start took on this machine, if known

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.since

    def describe(self) -> str:
        """One line for a visitor: 'server: starting (42 s; the last start here took 35 s) - loading the weights'."""
        text = f"{self.name}: {self.state}"
        if self.state in ("starting", "restarting") and self.last_start_s:
            text += f" ({self.elapsed:.0f} s; the last start here took {self.last_start_s:.0f} s)"
        elif self.state in ("starting", "restarting", "unresponsive"):
            text += f" ({self.elapsed:.0f} s)"
        if self.detail:
            text += f" - {self.detail}"
        return text


class StatusCell:
    """A thread-safe holder of one engine's status that others can wait on."""

    def __init__(self, name: str):
        self._cond = threading.Condition()
        self._status = EngineStatus(name, "stopped", time.monotonic())

    def get(self) -> EngineStatus:
        with self._cond:
            return self._status

    def set(self, state: State, detail: str = "", restarts: int | None = None, hint: str = "",
            fresh: bool = False) -> None:
        """``fresh``: the state begins again now, even if it is the one already set."""
        with self._cond:
            cur = self._status
            since = cur.since if state == cur.state and not fresh else time.monotonic()
            self._status = replace(cur, state=state, since=since, detail=detail, hint=hint,
                                   restarts=cur.restarts if restarts is None else restarts)
            self._cond.notify_all()

    def put(self, status: EngineStatus) -> None:
        """Take a whole status as another process reports it (``demo/fleet``: its times are the same monotonic
        clock, the machine's)."""
        with self._cond:
            self._status = status
            self._cond.notify_all()

    def set_detail(self, detail: str) -> None:
        with self._cond:
            self._status = replace(self._status, detail=detail)

    def set_last_start(self, seconds: float | None) -> None:
        with self._cond:
            self._status = replace(self._status, last_start_s=seconds)

    def wait_for(self, states: tuple[State, ...], timeout: float | None) -> EngineStatus:
        """Block until the state is one of ``states`` (or the time is up); return the status then."""
        with self._cond:
            self._cond.wait_for(lambda: self._status.state in states, timeout)
            return self._status
