"""An attached server (``--api-base``): the model it serves and its context, read from ``/v1/models``."""

from __future__ import annotations

from demo.engines.server import AttachedServer
from demo.settings import Settings


def attached(*argv: str) -> AttachedServer:
    return AttachedServer(Settings.from_args(["--api-base", "http://10.0.0.5:8000", *argv], env={}))


def test_base_url_gets_v1_and_the_key_defaults_to_empty():
    srv = attached()
    assert srv.endpoint.base_url == "http://10.0.0.5:8000/v1" and srv.endpoint.api_key == "EMPTY"
    assert attached("--api-key", "k").endpoint.api_key == "k"


def test_the_configured_name_is_kept_when_served():
    srv = attached()
    srv.adopt([{"id": "other"}, {"id": "Qwen3-VL-4B-Instruct", "max_model_len": 32768}])
    assert srv.endpoint.model == "Qwen3-VL-4B-Instruct" and srv.max_model_len == 32768


def test_a_server_serving_under_another_name_is_followed():
    srv = attached()
    srv.adopt([{"id": "Qwen/Qwen3-VL-4B-Instruct", "max_model_len": 16384}])
    assert srv.endpoint.model == "Qwen/Qwen3-VL-4B-Instruct" and srv.max_model_len == 16384


def test_a_server_that_does_not_say_its_context_leaves_the_setting():
    srv = attached()
    srv.adopt([{"id": "m"}])
    assert srv.endpoint.model == "m" and srv.max_model_len is None
    srv.adopt([])
    assert srv.endpoint.model == "m"
