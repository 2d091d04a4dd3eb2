"""The co-launched vLLM OpenAI-compatible server: its command line, start-up, health, restarts and stop.

The server is started exactly as the seed documents it (``python -m vllm.entrypoints.openai.api_server`` with
``--served-model-name``, ``--max-model-len``, ``--tensor-parallel-size``, ``--port``, ``--trust-remote-code``,
``--gpu-memory-utilization``), bound to 127.0.0.1 with a random API key that only the app knows, in its own
process group, logging to a file. A monitor thread waits for ``/health`` (the deadline is the loop's own
condition and an exited process fails at once: the flaw of vLLM's ``RemoteOpenAIServer`` that STYLE.md
names), then watches the process and its health, and restarts it when it dies or hangs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from ..settings import Settings
from ..stored_secret import stored_secret
from .placement import Placement
from .processes import stop_group
from .status import EngineStatus, StatusCell
from .supervisor import EngineStartError, Supervisor
from .vllm_flags import SERVER_MODULE, STRUCTURED_OUTPUTS, keep_accepted


def server_command(settings: Settings, model_path: str, placement: Placement, port: int,
                   accepted: frozenset[str] | None = None, reasoning_parser: str | None = None) -> list[str]:
    """The seed's command line, every value from the settings (the fraction and KV cache from the device plan),
    less the optional flags that the installed vLLM does not have (``accepted``: its flags, None = unknown).
    ``reasoning_parser``: a thinking model's (demo/engines/reasoning.py ``choose_parser``), None for none."""
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
        # Video through the server sends the frames' timing as per-request media_io_kwargs, which vLLM 0.32
        # refuses without this. The app is this server's only client (127.0.0.1, a random key) and sends only
        # its own values (demo/engines/video_via_server.py), never a user's.
        "--trust-request-mm-kwargs",
        "--structured-outputs-config", json.dumps(STRUCTURED_OUTPUTS, separators=(",", ":")),
        # usage.prompt_tokens_details.cached_tokens: the prompt tokens vLLM's prefix cache served, in each answer's
        # stats (a follow-up about the same image reuses its vision tokens; a hybrid model's less: see the README)
        "--enable-prompt-tokens-details",
    ]
    if settings.trust_remote_code:
        cmd.append("--trust-remote-code")
    if placement.enforce_eager:  # the plan's choice: eager on the CPU build, the seed's compiled engine on GPUs
        cmd.append("--enforce-eager")
    if placement.kv_cache_bytes is not None:  # a shared card: a KV cache of its own size, not what is free then
        cmd += ["--kv-cache-memory-bytes", str(placement.kv_cache_bytes)]
    if reasoning_parser:  # the reasoning streams as delta.reasoning, apart from the answer (client.Thinking)
        cmd += ["--reasoning-parser", reasoning_parser]
    return keep_accepted(cmd, accepted)[0]


def server_key(cache_dir: str | os.PathLike) -> str:
    """The co-launched server's API key: random, made once and kept in the cache folder (mode 0600).

    Kept, not new at each start: vLLM passes its environment into the key of its compile cache, and a vLLM whose
    list of ignored variables lacks ``VLLM_API_KEY`` (0.32's has it) compiled the model again at every start (seen
    on an H200 with 0.26: 34 s of each warm start). Only this user can read the file, the same user who runs the
    app and its server. Hex: a key that starts with "-" is read as an option when passed as ``--api-key KEY``.
    """
    return stored_secret(cache_dir, "server-api-key")


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


def accepts_stream_interval(endpoint: ServerEndpoint, timeout: float = 10.0) -> bool:
    """Whether the server's chat API takes vLLM's per-request ``stream_interval`` (tokens per streamed chunk; vLLM
    0.32 has it), read from the request schema it publishes; False when it cannot say (another server, an older
    vLLM, no answer): a server that does not know the field would ignore it, or refuse the request."""
    request = urllib.request.Request(f"{endpoint.root}/openapi.json",
                                     headers={"Authorization": f"Bearer {endpoint.api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            schema = json.loads(resp.read())
        fields = schema["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return "stream_interval" in fields


def health_ok(root: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{root}/health", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ServerSupervisor(Supervisor):
    """Starts, watches, restarts and stops one vLLM API server process group."""

    name = "server"

    def __init__(self, settings: Settings, model_path: str, placement: Placement, log_dir: str | os.PathLike,
                 accepted_flags: frozenset[str] | None = None, reasoning_parser: str | None = None):
        super().__init__(Path(log_dir) / "vllm-server.log", settings.startup_timeout, settings.max_restarts,
                         hang_limit=settings.request_timeout)
        self.placement = placement
        self.port = choose_port(settings.port)
        self.endpoint = ServerEndpoint(f"http://127.0.0.1:{self.port}/v1", server_key(settings.cache_dir),
                                       settings.served_model_name)
        self.model_path = str(model_path)
        self.max_model_len: int | None = settings.max_model_len  # launched with it
        self.command = server_command(settings, model_path, placement, self.port, accepted_flags, reasoning_parser)
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc and proc.poll() is None else None

    @property
    def start_key(self) -> str:
        return f"{self.name} · {self.model_path} · {self.placement.describe()}"

    def launch_env(self) -> dict[str, str]:
        """The environment :meth:`spawn` starts the server with: the placement's devices, the key, no redirects."""
        env = dict(os.environ)
        env.update(self.placement.env())
        env["VLLM_API_KEY"] = self.endpoint.api_key  # not on the command line, where `ps` would show it
        env["VLLM_MEDIA_URL_ALLOW_REDIRECTS"] = "0"  # with --allowed-media-domains: no redirect to elsewhere
        return env

    def spawn(self) -> None:
        with self._lock:
            with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
                log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.command)}\n".encode())
                log.flush()
                self._proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, env=self.launch_env(), start_new_session=True)

    def _wait_up(self, deadline: float) -> str | None:
        proc = cast("subprocess.Popen", self._proc)  # _launch set it
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

    def _responsive(self) -> bool:
        return health_ok(self.endpoint.root, timeout=self.health_interval)

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
        base = cast(str, settings.api_base).rstrip("/")  # made only when --api-base is set
        base = base if base.endswith("/v1") else base + "/v1"
        self.endpoint = ServerEndpoint(base, settings.api_key or "EMPTY", settings.served_model_name)
        self.startup_timeout = settings.startup_timeout
        self.max_model_len: int | None = None  # the server's own, once read from /v1/models
        self.status = StatusCell(self.name)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.pid = None

    def _models(self) -> list[dict] | None:
        """The server's ``/v1/models`` list, or None when it does not answer."""
        request = urllib.request.Request(f"{self.endpoint.base_url}/models",
                                         headers={"Authorization": f"Bearer {self.endpoint.api_key}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                return json.load(resp).get("data") or []
        except (urllib.error.URLError, OSError, ValueError, AttributeError):
            return None

    def adopt(self, models: list[dict]) -> None:
        """Follow a ``/v1/models`` listing: the model to ask for and its context length (the watch calls it).

        A deployment serving ``Qwen/Qwen3-VL-4B-Instruct`` under its hub id, not the seed's served name, still
        works: the configured name is used when served, else the server's first model. The context length is the
        one the server reports (``vllm serve`` lists ``max_model_len``), else the setting stays.
        """
        ids = [m.get("id") for m in models if m.get("id")]
        chosen = next((m for m in models if m.get("id") == self.endpoint.model), models[0] if ids else None)
        if chosen is None:
            return
        if chosen["id"] != self.endpoint.model:
            self.endpoint = replace(self.endpoint, model=chosen["id"])
        if isinstance(chosen.get("max_model_len"), int) and chosen["max_model_len"] > 0:
            self.max_model_len = chosen["max_model_len"]

    def _watch(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while not self._stopping.is_set():
            models = self._models()
            state = self.status.get().state
            if models is not None and state != "ready":
                self.adopt(models)
                if models:
                    self.status.set("ready")
                else:
                    self.status.set("error", "the attached server serves no model", hint=self._where())
            elif models is None and state == "ready":
                self.status.set("unresponsive", "the attached server does not answer", hint=self._where())
            elif models is None and state == "starting" and time.monotonic() > deadline:
                self.status.set("error", f"the attached server did not answer within {self.startup_timeout:.0f} s",
                                hint=self._where())
            self._stopping.wait(5.0)

    def _where(self) -> str:
        """The address, for the terminal only: a visitor must not learn it (or a password in it) from the page."""
        return f"--api-base {self.endpoint.base_url}"

    def start(self) -> None:
        self.status.set("starting", "connecting to the attached server")
        self._thread = threading.Thread(target=self._watch, name="attached-server-watch", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> EngineStatus:
        st = self.status.wait_for(("ready", "error", "stopped"), timeout)
        if st.state != "ready":
            raise EngineStartError("\n".join(filter(None, [st.detail or "the attached server is not reachable",
                                                            st.hint or self._where()])))
        return st

    def stop(self) -> None:
        self._stopping.set()
        self.status.set("stopped")
