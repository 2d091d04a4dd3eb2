"""Shared test set-up: where outputs go, the cache for the tiny checkpoint, and the real-engine fixture.

The engines are the real vLLM server and the real video worker, started through the app's own launcher
(``demo.engines.engines.Engines``) on the tiny checkpoint, once per test session. If they cannot start the tests
fail with the engines' log: they are never skipped.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import signal
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.waits import ENGINE_WAIT_S

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(os.environ.get("TEST_OUTPUT_DIR", ROOT / "test-output"))
CACHE = ROOT / ".cache" / "tests"


# The order tests run in: unit tests first (they need no engine and say in minutes what is broken), then every test
# that uses the session's engines (engine, app, then deploy's attach tests, which attach an app to the session's
# server), those that kill or freeze an engine after those that need it steady; then the thinking engines' tests;
# last the tests that start engines of their own. Each set of session engines is stopped after the last test that
# uses it in the run's final order (pytest_runtest_teardown below), so that later tests have the two cores to
# themselves: vLLM's idle CPU workers spin. No test depends on this order: each file passes alone.
LAYERS = ("unit", "engine", "app", "deploy")
SESSION_ENGINES = ("engines", "thinking_engines", "qwen35_engines")  # fixtures, in the order their users run
_RUNNING: dict[str, object] = {}  # the session engines started so far, by fixture name, until stopped


def layer_of(item) -> str:
    parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
    return parts[0] if parts[0] in LAYERS else "other"


def pytest_collection_modifyitems(config, items):
    def key(item):
        layer = layer_of(item)
        users = [i for i, name in enumerate(SESSION_ENGINES) if name in item.fixturenames]
        disruptive = item.get_closest_marker("disruptive") is not None
        return (layer != "unit", users[0] if users else len(SESSION_ENGINES), disruptive,
                LAYERS.index(layer) if layer in LAYERS else len(LAYERS))

    items.sort(key=key)  # stable: within a group, files and tests keep pytest's own order


_LAST_USER: dict[str, object] = {}  # by fixture name: the last test of the run's final order that uses it


def pytest_collection_finish(session):
    """The last user of each set of session engines, once every plugin has ordered the tests (``--ff`` reorders
    after this file's sort: a user may come after tests that use no engine)."""
    for item in session.items:
        for name in SESSION_ENGINES:
            if name in item.fixturenames:
                _LAST_USER[name] = item


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After the last test that uses a set of session engines: stop it, and check that the server's and the worker's
    whole process groups are gone and their statuses say so. A failed check is this test's teardown error."""
    ending = [(_RUNNING.pop(name), name) for name in SESSION_ENGINES
              if name in _RUNNING and _LAST_USER.get(name) is item]
    groups = {name: (eng.server.pid, eng.worker.pid if eng.worker else None) for eng, name in ending}
    try:
        return (yield)  # the test's own fixtures first (and, after the very last test, the session's)
    finally:  # the engines stop even when one of the test's own fixtures failed to tear down
        from demo.engines.processes import group_alive

        for eng, _ in ending:
            eng.stop()
        for eng, name in ending:
            server, worker = groups[name]
            assert server and (worker or not eng.worker), f"{name}: an engine had no process at the end: {groups}"
            left = [pgid for pgid in (server, worker) if pgid and group_alive(pgid)]
            assert not left, f"{name}: process groups left after Engines.stop(): {left}"
            assert {s.state for s in eng.statuses()} == {"stopped"}, [s.describe() for s in eng.statuses()]


def pytest_configure(config):
    config.addinivalue_line("markers", "disruptive: kills or freezes a session engine; runs after the others")
    # A SIGTERM (a CI limit, `timeout`, a kill) ends the run as Ctrl-C does, so the fixtures still stop every
    # engine they started: killed outright, pytest left the engines' EngineCore and workers running (seen).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


# --- how long each layer took, printed at the end (scripts/test.sh adds its set-up time) ---------------------
_LAYER_SECONDS: dict[str, float] = defaultdict(float)
_LAYER_COUNTS: dict[str, int] = defaultdict(int)


@contextmanager
def collector_paused():
    """Python's cyclic garbage collector off for a while (restored as it was)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# A failure's report is written with the collector paused. On CPython 3.11 before 3.11.8 (this machine has 3.11.7)
# the AST builder keeps its recursion depth in one global (python/cpython#106905): when a collection in the middle
# of pytest's ast.parse of a traceback's source frees an object whose __del__ raises, pytest's unraisable-exception
# hook formats that traceback, parsing again, and the outer parse ends in "SystemError: AST constructor recursion
# depth mismatch (before=129, after=150)", an INTERNALERROR that stops the whole run and shows no traceback (issue
# 25: a half-built openai client's __del__ did it). Reproduced with a failing test that leaves such garbage.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    with collector_paused():
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report(collector):
    with collector_paused():
        return (yield)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.monotonic()
    yield
    _LAYER_SECONDS[layer_of(item)] += time.monotonic() - started
    _LAYER_COUNTS[layer_of(item)] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _LAYER_SECONDS:
        return
    terminalreporter.section("time by layer")
    setup = os.environ.get("TEST_SETUP_S")
    if setup:
        terminalreporter.write_line(f"{'set-up (scripts/setup_env.sh)':32} {float(setup):7.0f} s")
    for layer in (*LAYERS, "other"):
        if layer in _LAYER_SECONDS:
            terminalreporter.write_line(f"{'tests/' + layer + f' ({_LAYER_COUNTS[layer]} tests)':32} "
                                        f"{_LAYER_SECONDS[layer]:7.0f} s")


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


def engine_settings(*extra: str):
    from demo.settings import Settings

    return Settings.from_args(
        ["--model", "tiny", "--cache-dir", str(CACHE), "--cpu-kv-cache-gib", "1", "--port", "0",
         "--startup-timeout", str(ENGINE_WAIT_S), "--video-timeout", "300", "--request-timeout", "30",
         "--video-concurrency", "2", *extra],
        env={})


@contextmanager
def started_engines(settings, logs: Path, what: str):
    """Real engines started through the app's own launcher, ready; stopped (whole process groups) at the end.
    If they do not start, the test fails with the end of their logs."""
    from demo.engines.engines import Engines

    eng = Engines.create(settings, log_dir=logs)
    eng.start()
    try:
        try:
            eng.wait_ready(timeout=ENGINE_WAIT_S)
        except Exception as exc:
            text = "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-4000:]
                             for p in sorted(logs.glob("*.log")))
            pytest.fail(f"{what} did not start: {exc}\n{text}")
        yield eng
    finally:
        eng.stop()


@pytest.fixture(scope="session")
def engines(output_dir):
    """Both real engines on the tiny checkpoint, started once; stopped (whole process groups) at the end."""
    with started_engines(engine_settings(), output_dir / "engine-logs", "the engines") as eng:
        _RUNNING["engines"] = eng
        yield eng
        _RUNNING.pop("engines", None)


@pytest.fixture(scope="session")
def thinking_engines(output_dir):
    """The thinking flavour of the tiny checkpoint on its own real engines (server and video worker), started once
    for the engine and page tests of thinking; stopped (whole process groups) at the end."""
    settings = engine_settings("--model", "tiny-thinking")
    with started_engines(settings, output_dir / "engine-logs-thinking", "the thinking engines") as eng:
        _RUNNING["thinking_engines"] = eng
        yield eng
        _RUNNING.pop("thinking_engines", None)


@pytest.fixture(scope="session")
def qwen35_engines(output_dir):
    """``--model tiny-qwen3.5`` (Qwen3.5's hybrid architecture, thinking on request) on its own real engines, started
    once for the tests of the family's differences; stopped (whole process groups) after its last user."""
    settings = engine_settings("--model", "tiny-qwen3.5")
    with started_engines(settings, output_dir / "engine-logs-qwen35", "the Qwen3.5 engines") as eng:
        _RUNNING["qwen35_engines"] = eng
        yield eng
        _RUNNING.pop("qwen35_engines", None)


@contextmanager
def launched_page(engines, **changes):
    """The real page (``demo.ui.build_demo``) on ``engines``, some settings changed, launched in-process on a
    free port; yields its FastAPI app and URL and closes it afterwards."""
    from demo.engines.server import free_port
    from demo.ui import build_demo, launch_kwargs

    settings = dataclasses.replace(engines.settings, **changes)
    demo = build_demo(settings, engines)
    kwargs = launch_kwargs(settings)
    kwargs.update(server_port=free_port(), server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    server_app, url, _ = demo.launch(**kwargs)
    try:
        yield server_app, url.rstrip("/")
    finally:
        demo.close()


@contextmanager
def page_instance(engines, **changes):
    """The URL of :func:`launched_page`."""
    with launched_page(engines, **changes) as (_, url):
        yield url


@pytest.fixture(scope="session")
def app_page(engines):
    """The real page on the real engines, as configured: (its FastAPI app, its URL)."""
    with launched_page(engines) as launched:
        yield launched


@pytest.fixture(scope="session")
def app_url(app_page):
    """The URL of the real page on the real engines, as configured."""
    return app_page[1]
