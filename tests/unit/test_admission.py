"""demo/engines/admission.py: the limit of answers at once follows the server's queue and the app's load."""

from __future__ import annotations

from demo.engines.admission import STEP, next_limit


def test_a_keeping_up_server_and_app_admit_a_step_beyond_what_runs():
    assert next_limit(running=0, floor=32, ceiling=256, server_waiting=0, app_full=False) == 32
    assert next_limit(running=32, floor=32, ceiling=256, server_waiting=0, app_full=False) == 32 + STEP
    assert next_limit(running=250, floor=32, ceiling=256, server_waiting=0, app_full=False) == 256
    assert next_limit(running=40, floor=32, ceiling=256, server_waiting=None, app_full=False) == 40 + STEP


def test_a_full_server_or_app_holds_at_what_runs_and_never_below_the_floor():
    assert next_limit(running=100, floor=32, ceiling=256, server_waiting=3, app_full=False) == 100
    assert next_limit(running=100, floor=32, ceiling=256, server_waiting=0, app_full=True) == 100
    assert next_limit(running=5, floor=32, ceiling=256, server_waiting=3, app_full=True) == 32


def test_a_ceiling_below_the_floor_is_the_floor():
    assert next_limit(running=0, floor=32, ceiling=8, server_waiting=0, app_full=False) == 32
