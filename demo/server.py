"""The co-launched vLLM OpenAI-compatible server: its command line, start-up, health, restarts and stop.

The server is started exactly as the seed documents it (``python -m vllm.entrypoints.openai.api_server`` with
``--served-model-name``, ``--max-model-len``, ``--tensor-parallel-size``, ``--port``, ``--trust-remote-code``,
``--gpu-memory-utilization``), bound to 127.0.0.1 with a random API key that only the app knows, in its own
process group, logging to a file. A monitor thread waits for ``/health`` (the deadline is the loop's own
condition and an exited process fails at once: the flaw of vLLM's ``RemoteOpenAIServer`` that STYLE.md
names), then watches the process and restarts it when it dies.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .device_plan import Placement
from .processes import stop_group
from .settings import Settings
from .status import EngineStatus, StatusCell
from .supervisor import EngineStartError, Supervisor

SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def server_command(settings: Settings, model_path: str, placement: Placement, port: int) -> list[str]:
    """The seed's command line, every value from the settings (the fraction from the device plan)."""
    fraction = placement.gpu_memory_utilization or settings.gpu_memory_utilization
    cmd = [
        sys.executable, "-m", SERVER_MODULE,
        "--model", str(model_path),
        "--served-model-name", settings.served_model_name,
        "--max-model-len", str(settings.max_model_len),
        "--tensor-parallel-size", str(placement.tensor_parallel_size),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--gpu-memory-utilization", f"{fraction:g}",
        # Only data: URLs come from the app; a user-chosen http(s) URL is never fetched by the server.
        "--allowed-media-domains", "none.invalid",
    ]
    if settings.trust_remote_code:
        cmd.append("--trust-remote-code")
    if settings.enforce_eager:
        cmd.append("--enforce-eager")
    return cmd


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def choose_port(wanted: int) -> int:
    """``wanted`` when it is free, else any free port (0 always means any)."""
    return wanted if wanted and port_is_free(wanted) else free_port()


@dataclass(frozen=True)
class ServerEndpoint:
    """How the app reaches an OpenAI-compatible server, co-launched or attached."""

    base_url: str  # ends in /v1
    api_key: str
    model: str

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/").removesuffix("/v1")


def health_ok(root: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{root}/health", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ServerSupervisor(Supervisor):
    """Starts, watches, restarts and stops one vLLM API server process group."""

    name = "server"

    def __init__(self, settings: Settings, model_path: str, placement: Placement, log_dir: str | os.PathLike):
        super().__init__(Path(log_dir) / "vllm-server.log", settings.startup_timeout, settings.max_restarts)
        self.placement = placement
        self.port = choose_port(settings.port)
        self.endpoint = ServerEndpoint(f"http://127.0.0.1:{self.port}/v1", secrets.token_urlsafe(24),
                                       settings.served_model_name)
        self.command = server_command(settings, model_path, placement, self.port)
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc and proc.poll() is None else None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.placement.env())
        env["VLLM_API_KEY"] = self.endpoint.api_key  # not on the command line, where `ps` would show it
        return env

    def _spawn(self) -> None:
        with self._lock:
            with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
                log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.command)}\n".encode())
                log.flush()
                self._proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, env=self._env(), start_new_session=True)

    def _wait_up(self, deadline: float) -> str | None:
        proc = self._proc
        while time.monotonic() < deadline and not self._stopping.is_set():
            if proc.poll() is not None:
                return self._exited_while_starting()
            if health_ok(self.endpoint.root):
                return None
            self._progress()
            self._stopping.wait(1.0)
        return "stopped" if self._stopping.is_set() else self._too_slow()

    def _running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _exit_code(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def _kill(self) -> None:
        with self._lock:
            proc = self._proc
        if proc is not None:
            stop_group(proc.pid, reap=proc.poll)
            proc.poll()


class AttachedServer:
    """An existing OpenAI-compatible server (``--api-base``): nothing is launched; its health is watched."""

    name = "server"

    def __init__(self, settings: Settings):
        base = settings.api_base.rstrip("/")
        base = base if base.endswith("/v1") else base + "/v1"
        self.endpoint = ServerEndpoint(base, settings.api_key or "EMPTY", settings.served_model_name)
        self.startup_timeout = settings.startup_timeout
        self.status = StatusCell(self.name)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.pid = None

    def _reachable(self) -> bool:
        request = urllib.request.Request(f"{self.endpoint.base_url}/models",
                                         headers={"Authorization": f"Bearer {self.endpoint.api_key}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _watch(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while not self._stopping.is_set():
            up = self._reachable()
            state = self.status.get().state
            if up and state != "ready":
                self.status.set("ready")
            elif not up and state == "ready":
                self.status.set("restarting", f"{self.endpoint.base_url} does not answer")
            elif not up and state == "starting" and time.monotonic() > deadline:
                self.status.set("error", f"{self.endpoint.base_url} did not answer within "
                                         f"{self.startup_timeout:.0f} s")
            self._stopping.wait(5.0)

    def start(self) -> None:
        self.status.set("starting", f"connecting to {self.endpoint.base_url}")
        self._thread = threading.Thread(target=self._watch, name="attached-server-watch", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> EngineStatus:
        st = self.status.wait_for(("ready", "error", "stopped"), timeout)
        if st.state != "ready":
            raise EngineStartError(st.detail or f"{self.endpoint.base_url} is not reachable")
        return st

    def stop(self) -> None:
        self._stopping.set()
        self.status.set("stopped")
