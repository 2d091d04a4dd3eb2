"""Exposure, on the real engines and the real page (issue 4): what the server and the page let a stranger reach.

- The vLLM server listens on 127.0.0.1 only, needs the random key, which is on no command line.
- The server fetches no URL a user chose (media domains restricted, redirects off), also through vLLM's
  unauthenticated ``/invocations`` route; Gradio's ``/file=<url>`` proxy fetches nothing local either.
- The API forwards only the validated settings: no extra argument, out-of-range values clamped.
- Gradio serves neither the model, the logs nor /etc/passwd; monitoring and MCP are off; uploads are deleted.
"""

from __future__ import annotations

import http.server
import json
import os
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest
from gradio_client import handle_file

from demo.errors import MESSAGES
from tests.raw_http import raw_call
from tests.waits import ENGINE_WAIT_S, app_client, finished, wait_until

ASSETS = Path(__file__).resolve().parents[2] / "assets"


# --- helpers --------------------------------------------------------------------------------------------------
def group_processes(leader: int) -> list[psutil.Process]:
    """Every live process in the process group that ``leader`` leads (vLLM's EngineCore and workers included)."""
    out = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == leader:
                out.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return out


def http_status(url: str, *, method: str = "GET", body: dict | None = None, headers: dict | None = None,
                timeout: float = ENGINE_WAIT_S) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


class Bait:
    """A local HTTP server that records every request it gets: the URL no engine may fetch."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # http.server's name for it
                hits.append(self.path)
                self.send_response(302 if self.path.startswith("/redirect") else 200)
                self.send_header("Location", "http://127.0.0.1:1/elsewhere.png")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def media_request(model: str, kind: str, url: str) -> dict:
    return {"model": model, "max_tokens": 4, "messages": [{"role": "user", "content": [
        {"type": kind, kind: {"url": url}}, {"type": "text", "text": "Describe it."}]}]}


# --- the vLLM server -----------------------------------------------------------------------------------------
def test_server_listens_on_loopback_only(engines):
    leader = engines.server.pid
    assert leader, "the server is not running"
    procs = group_processes(leader)
    assert len(procs) >= 2  # the API server and vLLM's EngineCore at least
    listening = []
    for proc in procs:
        try:
            listening += [c.laddr for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        except psutil.Error:
            continue
    assert listening, "the server's group listens on nothing"
    assert engines.server.port in {addr.port for addr in listening}
    assert {addr.ip for addr in listening} <= {"127.0.0.1"}, listening


def test_server_needs_the_key_which_is_on_no_command_line(engines):
    endpoint = engines.server.endpoint
    key = endpoint.api_key
    assert len(key) >= 24
    assert http_status(f"{endpoint.base_url}/models")[0] == 401
    assert http_status(f"{endpoint.base_url}/models", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert http_status(f"{endpoint.base_url}/chat/completions", method="POST",
                       body={"model": endpoint.model, "messages": [{"role": "user", "content": "hi"}]})[0] == 401
    assert http_status(f"{endpoint.base_url}/models", headers={"Authorization": f"Bearer {key}"})[0] == 200
    leader = engines.server.pid
    procs = group_processes(leader)
    for proc in procs:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
        assert key not in cmdline, f"the API key is on the command line of {proc.pid}"
    environ = Path(f"/proc/{leader}/environ").read_bytes().split(b"\0")
    assert f"VLLM_API_KEY={key}".encode() in environ


def test_server_follows_no_redirect(engines):
    environ = Path(f"/proc/{engines.server.pid}/environ").read_bytes().split(b"\0")
    assert b"VLLM_MEDIA_URL_ALLOW_REDIRECTS=0" in environ
    assert any(a.startswith("--allowed-media-domains") for a in engines.server.command)


@pytest.mark.parametrize("kind,path", [("image_url", "/cat.png"), ("video_url", "/clip.mp4"),
                                       ("image_url", "/redirect.png")])
def test_server_fetches_no_user_url(engines, kind, path):
    endpoint = engines.server.endpoint
    auth = {"Authorization": f"Bearer {endpoint.api_key}"}
    with Bait() as bait:
        code, text = http_status(f"{endpoint.base_url}/chat/completions", method="POST",
                                 body=media_request(endpoint.model, kind, bait.url + path), headers=auth)
        assert code in (400, 403, 422), (code, text)
        # vLLM's /invocations is not behind the key (vLLM documents it): the domain rule still holds there
        code2, text2 = http_status(f"{endpoint.root}/invocations", method="POST",
                                   body=media_request(endpoint.model, kind, bait.url + path))
        assert code2 >= 400, (code2, text2)
        assert bait.hits == []
    # a local file is refused too (no --allowed-local-media-path)
    code, text = http_status(f"{endpoint.base_url}/chat/completions", method="POST",
                             body=media_request(endpoint.model, kind, "file:///etc/passwd"), headers=auth)
    assert code >= 400 and "root:" not in text, (code, text)
    # and the server still answers
    code, text = http_status(f"{endpoint.base_url}/chat/completions", method="POST", headers=auth,
                             body={"model": endpoint.model, "max_tokens": 2,
                                   "messages": [{"role": "user", "content": "hi"}]})
    assert code == 200 and json.loads(text)["usage"]["completion_tokens"] >= 1


# --- the API forwards only validated settings ---------------------------------------------------------------
@pytest.fixture(scope="module")
def client(app_url):
    return app_client(app_url)


CHAT_PARAMETERS = ["message", "system_prompt", "history", "temperature", "top_p", "top_k", "max_tokens",
                   "presence_penalty", "thinking"]


CHAT_DEFAULTS = {"message": "Count to three.", "system_prompt": "", "history": [], "temperature": 0.7,
                 "top_p": 0.8, "top_k": 20, "max_tokens": 6, "presence_penalty": 0.0, "thinking": "auto"}


def completion_tokens(stats: str) -> int:
    return int(stats.split(" completion tokens")[0].rsplit(" ", 1)[1])


def test_chat_endpoint_takes_exactly_the_validated_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")
    params = [p["parameter_name"] for p in api["named_endpoints"]["/chat"]["parameters"]]
    assert params == CHAT_PARAMETERS
    for name, endpoint in api["named_endpoints"].items():
        names = {p["parameter_name"] for p in endpoint["parameters"]}
        assert not names & {"extra_body", "n", "mm_processor_kwargs", "media_io_kwargs", "logit_bias",
                            "seed", "stop", "model"}, name
    # a tenth value (say an ``extra_body``) is dropped by Gradio: the answer keeps the validated max_tokens
    stats, *_ = client.predict("hi", "", [], 0.7, 0.8, 20, 4, 0.0, "auto", {"n": 8, "max_tokens": 4000},
                               api_name="/chat")
    assert 1 <= completion_tokens(stats) <= 4


def raw_chat(app_url: str, data: list) -> tuple[int, list[dict]]:
    """Join the queue for /chat with ``data`` as sent (no client-side checks); the status and the events."""
    return raw_call(app_url, "chat", data)


def server_requests(engines) -> float:
    """Requests the vLLM server has finished, for any reason (its own counter)."""
    return sum(finished(engines).values())


def test_extra_arguments_in_a_raw_request_go_nowhere(app_url, engines):
    """Past gradio_client: extra values (an ``extra_body``, ``n``) are dropped; one validated request is sent."""
    before = server_requests(engines)
    code, events = raw_chat(app_url, ["hi", "", [], 0.7, 0.8, 20, 4, 0.0, "auto", {"n": 8, "max_tokens": 4000},
                                      {"extra_body": {"mm_processor_kwargs": {"max_pixels": 10**9}}}])
    done = [e for e in events if e.get("msg") == "process_completed"]
    assert code == 200 and done and done[-1]["success"], events
    assert 1 <= completion_tokens(done[-1]["output"]["data"][0]) <= 4
    wait_for_count(engines, before + 1)


def wait_for_count(engines, expected: float) -> None:
    """The server's finished-request counter reaches ``expected`` (it is updated just after the answer), and
    not more."""
    wait_until(lambda: server_requests(engines) >= expected, "the server to count the request")
    assert server_requests(engines) == expected


@pytest.mark.parametrize("overrides", [
    {"max_tokens": 10**9}, {"temperature": -1.0}, {"top_k": 10**6}, {"top_p": 7.0},
    {"presence_penalty": -50.0}, {"temperature": 1e9, "top_p": -3.0, "top_k": -10**6, "max_tokens": -5},
])
def test_out_of_range_settings_are_clamped(client, overrides):
    args = dict(CHAT_DEFAULTS)
    args.update(overrides)
    stats, *_ = client.predict(*args.values(), api_name="/chat")
    assert "finish:" in stats and "Traceback" not in stats
    tokens = completion_tokens(stats)
    if "max_tokens" in overrides:  # clamped to at least 1 and at most the context left
        assert 1 <= tokens <= 8192
    else:
        assert 1 <= tokens <= 6


@pytest.mark.parametrize("name,value", [("max_tokens", None), ("temperature", "hot"), ("top_k", float("nan")),
                                        ("max_tokens", float("inf")), ("top_p", [1, 2]), ("history", "x" * 10)])
def test_malformed_settings_never_reach_the_server_unvalidated(app_url, engines, name, value):
    args = dict(CHAT_DEFAULTS)
    args[name] = value
    before = server_requests(engines)
    code, events = raw_chat(app_url, list(args.values()))
    done = [e for e in events if e.get("msg") == "process_completed"]
    if code == 200 and done and done[-1]["success"]:  # taken, as a clamped value
        stats = done[-1]["output"]["data"][0]
        assert 1 <= completion_tokens(stats) <= 8192
        wait_for_count(engines, before + 1)
    else:  # refused before the server, with a sentence when the app's handler refused it
        assert code != 200 or done, events
        if done:  # the handler's own sentence, never a Python error
            expected = "history must be a list" if name == "history" else MESSAGES["bad_settings"]
            assert expected in (done[-1]["output"].get("error") or ""), done[-1]
        assert server_requests(engines) == before


# --- Gradio -------------------------------------------------------------------------------------------------
def file_url(app_url: str, path: str | Path) -> str:
    return f"{app_url}/gradio_api/file={urllib.parse.quote(str(path))}"


def test_page_serves_assets_but_not_the_model_logs_or_system_files(app_url, engines):
    assert http_status(file_url(app_url, ASSETS / "coffee.jpg"))[0] == 200
    secrets_ = [engines.model_path / "config.json", engines.log_dir / "vllm-server.log", Path("/etc/passwd"),
                Path(__file__)]
    for path in secrets_:
        assert path.is_file(), path
        code, _ = http_status(file_url(app_url, path))
        assert code in (403, 404), (path, code)
    # traversal out of the allowed folder
    code, _ = http_status(f"{app_url}/gradio_api/file={ASSETS}/../README.md")
    assert code in (403, 404)


def test_page_fetches_no_local_url_for_a_caller(app_url):
    with Bait() as bait:
        code, _ = http_status(f"{app_url}/gradio_api/file={bait.url}/x.png")
        assert code in (403, 404)
        assert bait.hits == []


def test_monitoring_and_mcp_are_not_served(app_url):
    for path in ("/monitoring", "/monitoring/summary"):
        code, text = http_status(f"{app_url}{path}")
        assert code == 403 and "not enabled" in text, (path, code)
    for path in ("/gradio_api/mcp/sse", "/gradio_api/mcp/schema", "/gradio_api/mcp/", "/gradio_api/mcp/http/"):
        assert http_status(f"{app_url}{path}")[0] == 404, path
    config = json.loads(urllib.request.urlopen(f"{app_url}/config", timeout=30).read())
    assert not config.get("mcp_server")


def test_uploads_are_deleted_when_the_page_closes(engines, tmp_path):
    import numpy as np
    from PIL import Image

    from demo.engines.server import free_port
    from demo.ui import build_demo, launch_kwargs
    from demo.ui.page import DELETE_CACHE

    frequency, age = DELETE_CACHE
    assert 0 < frequency <= 3600 and 0 < age <= 24 * 3600
    # a picture nobody else uploads (the cache is keyed by content and shared by pages in one process)
    name = f"upload-{secrets.token_hex(6)}.png"
    rng = np.random.default_rng()
    Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(tmp_path / name)

    demo = build_demo(engines.settings, engines)
    assert demo.delete_cache == DELETE_CACHE
    kwargs = launch_kwargs(engines.settings)
    kwargs.update(server_port=free_port(), server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    _, url, _ = demo.launch(**kwargs)
    try:
        client = app_client(url)
        stats, *_ = client.predict(handle_file(str(tmp_path / name)), "Describe this image.", 0.7, 0.8, 20, 4, 0.0,
                                   api_name="/describe_image")
        assert "completion tokens" in stats
        uploaded = [Path(p) for p in demo.upload_file_set if Path(p).name == name]
        assert uploaded and all(p.is_file() for p in uploaded)
        assert all(str(p).startswith(str(demo.GRADIO_CACHE)) for p in uploaded)
    finally:
        demo.close()
    assert not any(p.exists() for p in uploaded), uploaded

