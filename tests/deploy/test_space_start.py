"""A Space starts ``app.py`` with no command line: every setting from the environment, on 0.0.0.0:7860.

``SPACE_ID`` is what Hugging Face sets; the app then listens on 0.0.0.0:7860 and would download from the Hugging
Face hub. Here the model is the tiny checkpoint (``QWEN_DEMO_MODEL=tiny``), so both real engines start on
it. SIGTERM (what a Space sends on restart) must stop every process the app started.
"""

from __future__ import annotations

from pathlib import Path

import psutil
from gradio_client import handle_file

from tests.conftest import CACHE
from tests.deploy.conftest import AppProcess, base_env, wait_answer
from tests.waits import app_client

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SPACE_PORT = 7860


def test_app_starts_from_environment_variables_alone_and_sigterm_stops_everything():
    # Spaces also set SYSTEM=spaces, which switches on Gradio's hot reloader; that needs the `spaces` package of
    # Hugging Face's images, so it is left out here. The app itself keys on SPACE_ID.
    env = base_env(SPACE_ID="someone/qwen3-vl-demo", QWEN_DEMO_MODEL="tiny",
                   QWEN_DEMO_CACHE_DIR=str(CACHE), QWEN_DEMO_CPU_KV_CACHE_GIB="1", QWEN_DEMO_PORT="0",
                   QWEN_DEMO_MAX_MODEL_LEN="4096", QWEN_DEMO_VIDEO_MAX_TOKENS="256")
    app = AppProcess("space", [], env, SPACE_PORT)
    try:
        app.wait_page()
        log = app.log()
        for name, value in (("host", "0.0.0.0"), ("app_port", 7860), ("model_source", "huggingface"),
                            ("max_model_len", 4096)):
            assert f"{name:30} {value}" in log  # the settings it printed came from the environment and platform
        listening = {(c.laddr.ip, c.laddr.port) for c in psutil.Process(app.proc.pid).net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN}
        assert ("0.0.0.0", SPACE_PORT) in listening

        client = app_client(app.url)
        _, answer, _ = wait_answer(client, "/chat", message="hello", max_tokens=8)
        assert answer
        stats, answer = wait_answer(client, "/describe_video", handle_file(str(ASSETS / "example.mp4")),
                                    "Describe this video.", 2.0, 4, max_tokens=8)
        assert answer and "prepared in" in stats  # answered by the video worker
        engines = [p for p in app.descendants() if "vllm" in " ".join(p.cmdline()) or "spawn" in " ".join(p.cmdline())]
        assert engines  # the server and the worker run under the app

        alive = app.terminate()
        assert not alive, [" ".join(p.cmdline()) for p in alive]
        assert app.proc.returncode is not None
    finally:
        app.kill_everything()
