"""Deployment tests start the app the way users do: ``app.py`` as its own process, with flags or only
environment variables, on the tiny checkpoint, and stop it with SIGTERM like a Space or Ctrl-C would.

Every process a test starts is stopped by the test, whole process group and descendants included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tests.conftest import CACHE, OUTPUT, ROOT
from tests.waits import ENGINE_WAIT_S


def base_env(**extra: str) -> dict[str, str]:
    """The parent's environment without any of the app's own variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QWEN_DEMO_", "GRADIO_", "SPACE_", "MODELSCOPE_ENVIRONMENT"))}
    env.update(extra)
    return env


class AppProcess:
    """``python app.py ...`` in its own session, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        logs = OUTPUT / "deploy-logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), *args], cwd=ROOT, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_page(self, timeout: float = ENGINE_WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"app.py exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        pytest.fail(f"the page did not come up within {timeout:.0f} s:\n{self.log()[-4000:]}")

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def terminate(self, timeout: float = ENGINE_WAIT_S, sig: int = signal.SIGTERM) -> list[psutil.Process]:
        """SIGTERM the app, as a Space or `kill` does (or SIGINT, as Ctrl-C does); return the descendants
        still alive after ``timeout``."""
        family = self.descendants()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        _, alive = psutil.wait_procs(family, timeout=max(1.0, timeout / 4))
        return alive

    def kill_everything(self) -> None:
        """Last resort for a failed test: nothing it started may outlive it (each has its own group)."""
        groups = {self.proc.pid}
        for p in self.descendants():
            try:
                groups.add(os.getpgid(p.pid))
            except ProcessLookupError:
                pass
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait(30)
        self._log.close()


def wait_answer(client, api_name: str, *args, timeout: float = ENGINE_WAIT_S, **kwargs):
    """Ask ``api_name`` until the engines are up (before that the app says they are starting)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            return client.predict(*args, api_name=api_name, **kwargs)
        except Exception as exc:  # "still starting" sentences while the engines load
            last = exc
            if "starting" not in str(exc) and "restarting" not in str(exc):
                raise
            time.sleep(3)
    pytest.fail(f"the engines did not answer within {timeout:.0f} s: {last}")


@pytest.fixture
def tiny_args() -> list[str]:
    return ["--model", "tiny", "--cache-dir", str(CACHE), "--cpu-kv-cache-gib", "1", "--port", "0",
            "--startup-timeout", str(ENGINE_WAIT_S)]

