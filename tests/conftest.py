"""Shared test set-up: where outputs go, the cache for the tiny checkpoint, and the real-engine fixture.

The engines are the real vLLM server and the real video worker, started through the app's own launcher
(``demo.engines.Engines``) on the tiny checkpoint, once per test session. If they cannot start the tests
fail with the engines' log: they are never skipped.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(os.environ.get("TEST_OUTPUT_DIR", ROOT / "test-output"))
CACHE = ROOT / ".cache" / "tests"


# The order layers run in. The session's engines serve tests/app and tests/engine; the last engine test
# stops them (and checks nothing is left), so that tests/deploy, which start engines of their own, have the
# two cores to themselves. Unit tests need no engine.
LAYERS = ("app", "engine", "deploy", "unit")
LAST_ENGINE_TEST = "test_stop_leaves_no_process_behind"


def pytest_collection_modifyitems(config, items):
    def key(item):
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        layer = LAYERS.index(parts[0]) if parts[0] in LAYERS else len(LAYERS)
        return layer, item.name == LAST_ENGINE_TEST

    items.sort(key=key)  # stable: within a layer, files and tests keep pytest's own order


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


def engine_settings(*extra: str):
    from demo.settings import Settings

    return Settings.from_args(
        ["--model", "tiny", "--cache-dir", str(CACHE), "--cpu-kv-cache-gib", "1", "--port", "0",
         "--startup-timeout", "900", "--video-timeout", "300", "--request-timeout", "30", *extra],
        env={})


@pytest.fixture(scope="session")
def engines(output_dir):
    """Both real engines on the tiny checkpoint, started once; stopped (whole process groups) at the end."""
    from demo.engines import Engines

    eng = Engines.create(engine_settings(), log_dir=output_dir / "engine-logs")
    eng.start()
    try:
        try:
            eng.wait_ready(timeout=900)
        except Exception as exc:
            logs = "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-4000:]
                             for p in sorted((output_dir / "engine-logs").glob("*.log")))
            pytest.fail(f"the engines did not start: {exc}\n{logs}")
        yield eng
    finally:
        eng.stop()


@contextmanager
def page_instance(engines, **changes):
    """The real page (``demo.ui.build_demo``) on ``engines``, some settings changed, launched in-process on a
    free port; yields its URL and closes it afterwards."""
    from demo.server import free_port
    from demo.ui import build_demo, launch_kwargs

    settings = dataclasses.replace(engines.settings, **changes)
    demo = build_demo(settings, engines)
    kwargs = launch_kwargs(settings)
    kwargs.update(server_port=free_port(), server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    _, url, _ = demo.launch(**kwargs)
    try:
        yield url.rstrip("/")
    finally:
        demo.close()


@pytest.fixture(scope="session")
def app_url(engines):
    """The real page on the real engines, as configured."""
    with page_instance(engines) as url:
        yield url
