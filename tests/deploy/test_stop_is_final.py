"""``Engines.stop()`` is final (issue 13, point 3): once it returns no engine process exists, and none appears
later, whatever phase the start-up was in. Real engines on the tiny checkpoint, started by the app's launcher.

Two races are forced, not waited for: a stop that lands while the worker is being spawned, and a stop that lands
while the starter of a sequential start (the CPU's server-first order) starts the worker. Each is set up by
wrapping the real method so that the stop begins at that exact point; the engines themselves are not replaced.
"""

from __future__ import annotations

import threading
import time

import psutil

from demo.engines.startup import FIRST_PHASE, PHASES
from tests.conftest import engine_settings
from tests.waits import ENGINE_WAIT_S, wait_until

SETTLE_S = 3.0  # a process spawned after the stop would show up within this (a spawn takes milliseconds)
PHASE_NAMES = {FIRST_PHASE, "launching", "waits for the server to be ready"} | {name for _, name in PHASES}


def our_processes() -> set[int]:
    """This test process's descendants (vLLM's EngineCore and workers included; setsid keeps them children)."""
    out = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                out.add(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return out


def make_engines(tmp_path, *extra: str):
    from demo.engines.engines import Engines

    return Engines.create(engine_settings(*extra), log_dir=tmp_path / "logs")


def assert_nothing_left(before: set[int], what: str) -> None:
    left = our_processes() - before
    assert not left, f"{what}: processes left at once: {left}"
    time.sleep(SETTLE_S)
    left = our_processes() - before
    assert not left, f"{what}: processes that appeared after stop() returned: {left}"


def test_a_stop_in_each_phase_of_start_up_leaves_no_process_and_the_next_start_knows_the_last(tmp_path):
    before = our_processes()
    # 1. at once: the server is being launched
    eng = make_engines(tmp_path)
    assert eng.plan.sequential_start  # the CPU's order: server first, then the worker
    eng.start()
    eng.stop()
    assert_nothing_left(before, "stopped at launch")

    # 2. the server's process is up and reading its start-up phases from its log
    eng = make_engines(tmp_path)
    eng.start()
    try:
        wait_until(lambda: eng.server.pid is not None and our_processes() - before, "the server's process")
        assert eng.worker.status.get().state == "starting"  # waiting for the server, shown as such
        assert eng.worker.status.get().detail == "waits for the server to be ready"
    finally:
        eng.stop()
    assert_nothing_left(before, "stopped while the server started")

    # 3. the server is ready and the worker starting; every phase shown was a phase's name, never a log line
    eng = make_engines(tmp_path)
    seen: set[str] = set()
    eng.start()
    try:
        def worker_spawned():
            for st in eng.statuses():
                if st.state == "starting":
                    seen.add(st.detail)
            return eng.worker.pid is not None

        wait_until(worker_spawned, "the worker's process", poll=0.05)
        assert eng.server.status.get().state == "ready"
        assert eng.server.status.get().last_start_s > 0
    finally:
        eng.stop()
    assert_nothing_left(before, "stopped while the worker started")
    assert seen <= PHASE_NAMES, seen - PHASE_NAMES
    assert FIRST_PHASE in seen and len(seen - {"launching", "waits for the server to be ready"}) >= 2, seen

    # 4. the next start shows how long the last one took on this machine
    eng = make_engines(tmp_path)
    eng.start()
    try:
        line = eng.statuses()[0].describe()
        assert "the last start here took" in line, line
    finally:
        eng.stop()
    assert_nothing_left(before, "stopped at the second launch")


def test_a_stop_during_the_workers_spawn_kills_what_the_spawn_started(tmp_path):
    """Without the supervisor's lock, stop() killed nothing (no process yet), the spawn then started one, and it
    was left running (checked)."""
    before = our_processes()
    eng = make_engines(tmp_path, "--engine-start", "together")
    worker = eng.worker
    real_spawn = worker.spawn
    stopper = threading.Thread(target=eng.stop, name="test-stopper")

    def spawn_as_the_stop_comes():
        stopper.start()
        wait_until(lambda: worker.stopping, "the stop to begin")
        stopper.join(2.0)  # it may finish (nothing to kill yet) or wait for this spawn to end; either way, go on
        real_spawn()

    worker.spawn = spawn_as_the_stop_comes
    eng.start()
    wait_until(lambda: stopper.ident is not None, "the worker's spawn")
    stopper.join(ENGINE_WAIT_S)
    assert not stopper.is_alive()
    assert worker.status.get().state == "stopped"
    assert_nothing_left(before, "stopped during the worker's spawn")


def test_a_stop_while_the_starter_starts_the_worker_leaves_no_worker(tmp_path):
    """Without the starter's check under the engines' lock, the worker was started after stop() had stopped
    both engines, and kept running (checked)."""
    before = our_processes()
    eng = make_engines(tmp_path)
    worker = eng.worker
    real_start = worker.start
    stopper = threading.Thread(target=eng.stop, name="test-stopper")

    def start_as_the_stop_comes():
        stopper.start()
        stopper.join(2.0)  # without the fix stop() ends meanwhile; with it, it waits for this start to end
        real_start()

    worker.start = start_as_the_stop_comes
    eng.start()
    wait_until(lambda: stopper.ident is not None, "the server to be ready and the worker's start")
    stopper.join(ENGINE_WAIT_S)
    assert not stopper.is_alive()
    assert_nothing_left(before, "stopped while the starter started the worker")
