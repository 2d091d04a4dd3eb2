"""``app.py --app-processes 2`` as a user starts it: the page from two app processes behind one address, the
engines started once (here: attached to the session's server, so that no second engine start is paid), and a
SIGTERM that stops every process it started, with no traceback."""

from __future__ import annotations

import urllib.request

import psutil
import pytest

from demo.engines.server import free_port
from demo.fleet.front import PROCESS_HEADER
from tests.deploy.conftest import AppProcess, base_env, wait_answer
from tests.waits import ENGINE_WAIT_S, app_client


@pytest.fixture(scope="module")
def fleet_app(engines):
    endpoint = engines.server.endpoint
    port = free_port()
    app = AppProcess("fleet", ["--api-base", endpoint.root, f"--api-key={endpoint.api_key}", "--app-processes", "2"],
                     base_env(GRADIO_SERVER_PORT=str(port)), port)
    try:
        app.wait_page()
        yield app
    finally:
        app.kill_everything()


def app_processes_of(app: AppProcess) -> list:
    return [p for p in app.descendants() if "demo.fleet.child" in " ".join(p.cmdline())]


def test_two_app_processes_serve_one_address(fleet_app):
    assert len(app_processes_of(fleet_app)) == 2
    assert "(2 app processes" in fleet_app.log()
    served = set()
    for _ in range(6):  # what names no session goes to either process
        with urllib.request.urlopen(fleet_app.url + "/gradio_api/info", timeout=60) as resp:
            served.add(resp.headers[PROCESS_HEADER])
    assert served == {"0", "1"}
    client = app_client(fleet_app.url)
    job = client.submit("Count to five.", api_name="/chat")
    updates = list(job)
    stats, answer, _ = job.result()
    assert "completion tokens" in stats and len(updates) >= 2
    _, answer, _ = wait_answer(client, "/chat", message="hello again", max_tokens=8)
    assert answer is not None


def test_sigterm_stops_every_app_process_and_the_front(fleet_app, engines):
    children = app_processes_of(fleet_app)
    assert children
    alive = fleet_app.terminate()
    assert not alive
    assert fleet_app.proc.returncode == 0
    assert "Traceback" not in fleet_app.log()
    assert engines.server.status.get().state == "ready"  # attached: not the app's to stop


def test_app_processes_end_when_the_first_process_is_killed_outright(engines):
    """SIGKILL gives the app's first process no chance to stop anything: its app processes see the engines' hub
    close and end themselves, so nothing is left holding the port or the memory."""
    endpoint = engines.server.endpoint
    port = free_port()
    app = AppProcess("fleet-killed", ["--api-base", endpoint.root, f"--api-key={endpoint.api_key}",
                                      "--app-processes", "2"], base_env(GRADIO_SERVER_PORT=str(port)), port)
    try:
        app.wait_page()
        children = app_processes_of(app)
        assert len(children) == 2
        app.proc.kill()
        app.proc.wait(60)
        _, alive = psutil.wait_procs(children, timeout=ENGINE_WAIT_S)
        assert not alive, alive
    finally:
        app.kill_everything()
