"""What the page and the server expose by default, without starting anything (issue 4, "Exposure").

The engine-backed proofs are in tests/app/test_exposure.py; these pin the settings that make them hold.
"""

from __future__ import annotations

import math

from demo.engines.params import GenerationParams
from demo.engines.placement import Placement
from demo.engines.server import ServerSupervisor
from demo.settings import Settings


def test_launch_exposes_nothing_extra_by_default():
    from demo.ui.page import ASSETS, launch_kwargs

    kwargs = launch_kwargs(Settings())
    assert kwargs["share"] is False
    assert kwargs["enable_monitoring"] is False
    assert kwargs["mcp_server"] is False
    assert kwargs["allowed_paths"] == [str(ASSETS)]
    assert kwargs["server_name"] == "127.0.0.1"
    assert kwargs["max_file_size"] == f"{Settings().max_file_size_mb}mb"
    assert "blocked_paths" not in kwargs and "auth" not in kwargs


def test_the_page_deletes_its_uploads():
    from demo.ui.page import DELETE_CACHE

    frequency, age = DELETE_CACHE
    assert 0 < frequency <= age <= 24 * 3600  # swept at least daily, nothing kept longer than a day


def test_server_binds_loopback_fetches_no_url_and_follows_no_redirect(tmp_path):
    sup = ServerSupervisor(Settings.from_args(["--port", "0"], env={}), "/x", Placement("cpu"), tmp_path)
    cmd = sup.command
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--allowed-media-domains") + 1] == "none.invalid"
    assert "--allowed-local-media-path" not in cmd and "--api-key" not in cmd
    env = sup.launch_env()
    assert env["VLLM_MEDIA_URL_ALLOW_REDIRECTS"] == "0"
    assert env["VLLM_API_KEY"] == sup.endpoint.api_key and len(sup.endpoint.api_key) >= 24


def test_nan_settings_become_the_defaults_not_a_bound():
    nan = float("nan")
    out = GenerationParams(temperature=nan, top_p=nan, presence_penalty=nan).clamped(512)
    d = GenerationParams()
    assert (out.temperature, out.top_p, out.presence_penalty) == (d.temperature, d.top_p, d.presence_penalty)
    out = GenerationParams(temperature=math.inf, top_p=-math.inf, presence_penalty=-math.inf).clamped(512)
    assert (out.temperature, out.top_p, out.presence_penalty) == (2.0, 0.01, -2.0)
