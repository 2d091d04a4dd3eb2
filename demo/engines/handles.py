"""What the app asks of a server and of a video worker, whoever started them.

This process's own (``ServerSupervisor``, ``AttachedServer``, ``VideoWorker``), or mirrors of those of the engines'
process when the page is served by several app processes (``demo/fleet/mirror.py``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

import numpy as np

from .params import GenerationParams
from .server import ServerEndpoint
from .status import EngineStatus, StatusCell
from .video_events import VideoEvent


class EngineHandle(Protocol):
    status: StatusCell

    def start(self) -> None: ...

    def wait_ready(self, timeout: float | None = None) -> EngineStatus: ...

    def stop(self) -> None: ...


class ServerHandle(EngineHandle, Protocol):
    endpoint: ServerEndpoint
    max_model_len: int | None  # the server's own context once known (an attached one's); None: the setting's


class WorkerHandle(EngineHandle, Protocol):
    def answer(self, frames: np.ndarray, sample_fps: float, question: str, params: GenerationParams | None = None,
               *, timing: tuple[list[int], float, int] | None = None,
               history: tuple[tuple[str, str], ...] = (), json_schema: dict | None = None
               ) -> AsyncGenerator[VideoEvent, None]: ...
