"""A ready engine that stops answering its health check: shown "unresponsive", then replaced after the limit."""

from __future__ import annotations

import threading

from demo.engines.supervisor import Supervisor


class Silent(Supervisor):
    """The monitor's watch loop on a stand-in process whose health answers follow a script."""

    name = "server"
    health_interval = 0.01

    def __init__(self, answers, hang_limit, tmp_path):
        super().__init__(tmp_path / "x.log", 1.0, 1, hang_limit=hang_limit)
        self.answers = list(answers)
        self.states = []

    def _running(self):
        return True

    def _responsive(self):
        self.states.append(self.status.get().state)
        return self.answers.pop(0) if self.answers else True


def test_a_silent_engine_is_unresponsive_then_reported_as_hung(tmp_path):
    sup = Silent([False] * 1000, hang_limit=0.2, tmp_path=tmp_path)
    sup.status.set("ready")
    problem = sup.watch_ready(0)
    assert "did not answer" in problem and "restarted" in problem
    assert sup.status.get().state == "unresponsive"


def test_one_or_two_slow_answers_are_not_a_hang(tmp_path):
    sup = Silent([False, False, True, False, False, True], hang_limit=60, tmp_path=tmp_path)
    sup.status.set("ready")
    stopper = threading.Timer(0.5, sup.request_stop)
    stopper.start()
    assert sup.watch_ready(0) is None  # stopped, not hung
    assert "unresponsive" not in sup.states


def test_an_engine_that_answers_again_is_ready_again(tmp_path):
    sup = Silent([False, False, False, False, True], hang_limit=60, tmp_path=tmp_path)
    sup.status.set("ready")
    stopper = threading.Timer(0.5, sup.request_stop)
    stopper.start()
    assert sup.watch_ready(0) is None
    assert "unresponsive" in sup.states
    assert sup.status.get().state == "ready"
