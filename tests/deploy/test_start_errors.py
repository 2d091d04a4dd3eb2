"""``app.py`` refuses to start, with one sentence and before any engine runs, when it cannot work."""

from __future__ import annotations

import json
import socket

import psutil

from demo.engines.server import free_port
from tests.deploy.conftest import AppProcess, base_env
from tests.waits import ENGINE_WAIT_S


def run_to_exit(name: str, args: list[str], port: int) -> tuple[int, str, list]:
    app = AppProcess(name, args, base_env(GRADIO_SERVER_PORT=str(port)), port)
    try:
        code = app.proc.wait(ENGINE_WAIT_S)
        return code, app.log(), app.descendants()
    finally:
        app.kill_everything()


def assert_clean_refusal(code: int, log: str, sentence: str) -> None:
    assert code != 0
    assert sentence in log
    assert "Traceback" not in log
    assert "Device plan" not in log  # it stopped before planning, let alone starting, the engines


def test_a_port_in_use_is_refused_before_any_engine_starts(tiny_args):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, log, children = run_to_exit("port-in-use", tiny_args, port)
    assert_clean_refusal(code, log, f"port {port} on 127.0.0.1 is already in use")
    assert "GRADIO_SERVER_PORT" in log  # it says how to choose another
    assert not children
    assert not [p for p in psutil.process_iter(["cmdline"])
                if "vllm.entrypoints.openai.api_server" in " ".join(p.info["cmdline"] or [])
                and str(port) in " ".join(p.info["cmdline"] or [])]


def test_a_missing_model_folder_is_a_clear_sentence(tmp_path):
    missing = tmp_path / "no-such-model"
    code, log, _ = run_to_exit("missing-model", ["--model", str(missing), "--model-source", "modelscope"],
                               free_port())
    # not a folder and not a hub id: the download is not even tried
    assert code != 0 and "Traceback" not in log and "Device plan" not in log
    assert str(missing) in log


def test_an_incomplete_model_folder_is_a_clear_sentence(tmp_path):
    folder = tmp_path / "half-downloaded"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}))
    code, log, _ = run_to_exit("incomplete-model", ["--model", str(folder)], free_port())
    assert code != 0 and "Traceback" not in log and "Device plan" not in log
    assert str(folder) in log and "safetensors" in log
