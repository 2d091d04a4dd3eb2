"""demo/engines/client.py without a server: sampling bounds, answer statistics, error mapping, the client."""

from __future__ import annotations

import asyncio
import importlib
import socket

import openai
import pytest

from demo.engines.client import AnswerStats, make_client, map_error
from demo.engines.params import GenerationParams
from demo.errors import EngineError

# The HTTP library the installed SDK speaks (httpx up to openai 2.x, its fork httpx2 from 3.x), found from the SDK's
# own client class: the SDK's errors are built with its own Request and Response, never another library's.
SDK_HTTP = importlib.import_module(openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0])
REQUEST = SDK_HTTP.Request("POST", "http://x/v1/chat/completions")


# --- GenerationParams.clamped -------------------------------------------------------------------------------

def test_defaults_are_kept_when_in_range():
    params = GenerationParams()
    assert params.clamped(1024) == params
    assert (params.temperature, params.top_p, params.top_k, params.max_tokens, params.presence_penalty) == (
        0.7, 0.8, 20, 1024, 1.5)


@pytest.mark.parametrize("field,value,expected", [
    ("temperature", -1.0, 0.0), ("temperature", 5.0, 2.0), ("temperature", 0.0, 0.0), ("temperature", 2.0, 2.0),
    ("top_p", 0.0, 0.01), ("top_p", -3.0, 0.01), ("top_p", 1.5, 1.0), ("top_p", 0.5, 0.5),
    ("top_k", 0, -1), ("top_k", -7, -1), ("top_k", 5000, 1000), ("top_k", 1, 1), ("top_k", 20.9, 20),
    ("max_tokens", 0, 1), ("max_tokens", -5, 1), ("max_tokens", 10**6, 512), ("max_tokens", 100, 100),
    ("presence_penalty", -9.0, -2.0), ("presence_penalty", 9.0, 2.0), ("presence_penalty", 0.0, 0.0),
])
def test_clamped_bounds(field, value, expected):
    params = GenerationParams(**{field: value})
    out = params.clamped(512)
    assert getattr(out, field) == expected
    assert type(getattr(out, field)) is type(expected)
    assert getattr(params, field) == value  # the original is unchanged


def test_clamped_accepts_numeric_strings():
    out = GenerationParams(temperature="0.3", top_k="5", max_tokens="64").clamped(1024)  # type: ignore[arg-type]
    assert (out.temperature, out.top_k, out.max_tokens) == (0.3, 5, 64)


# --- AnswerStats --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("completion,ttft,total,expected", [
    (101, 1.0, 3.0, 50.0),
    (11, 0.5, 1.5, 10.0),
    (1, 0.5, 2.0, 0.0),  # one token: no decode speed
    (0, None, 2.0, 0.0),
    (50, None, 2.0, 0.0),
    (50, 2.0, 2.0, 0.0),  # no time after the first token
    (50, 3.0, 2.0, 0.0),
])
def test_tokens_per_s(completion, ttft, total, expected):
    stats = AnswerStats("stop", 10, completion, ttft, total)
    assert stats.tokens_per_s == pytest.approx(expected)


def test_describe():
    text = AnswerStats("stop", 12, 101, 1.0, 3.0).describe()
    assert "first token 1.00 s" in text
    assert "50.0 tokens/s" in text
    assert "12 prompt + 101 completion tokens" in text
    assert "finish: stop" in text
    assert "cached" not in text  # the server did not say
    cached = AnswerStats("stop", 912, 101, 1.0, 3.0, cached_tokens=896).describe()
    assert "912 prompt + 101 completion tokens · 896 prompt tokens cached · finish: stop" in cached
    assert "cached" not in AnswerStats("stop", 12, 101, 1.0, 3.0, cached_tokens=0).describe()  # none were
    text = AnswerStats(None, 0, 0, None, 0.1).describe()
    assert "first token -" in text
    assert "0.0 tokens/s" in text
    assert "finish: None" in text


# --- map_error ----------------------------------------------------------------------------------------------

def status_error(cls, status: int, message: str):
    return cls(message=message, response=SDK_HTTP.Response(status, request=REQUEST), body=None)


def mapped(exc: Exception, request_timeout: float = 300.0) -> EngineError:
    err = map_error(exc, max_model_len=8192, request_timeout=request_timeout)
    assert isinstance(err, EngineError)
    assert "Traceback" not in str(err)
    return err


def test_timeout():
    err = mapped(openai.APITimeoutError(request=REQUEST))
    assert err.code == "server_timeout"
    assert "300 s" in str(err)


def test_a_connect_timeout_is_not_called_a_slow_answer():
    """A real connect timeout through make_client: a listening socket whose backlog is full takes no more
    connections, so the client's connect waits out its limit (the request timeout here, 0.5 s)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        held = []
        try:
            for _ in range(8):  # fill the accept queue (never accepted)
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                held.append(s)

            async def ask():
                client = make_client(f"http://127.0.0.1:{port}/v1", "key", 0.5)
                try:
                    await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
                finally:
                    await client.close()

            with pytest.raises(openai.APITimeoutError) as info:
                asyncio.run(ask())
        finally:
            for s in held:
                s.close()
    err = mapped(info.value, request_timeout=0.5)
    assert err.code == "server_busy", (type(info.value.__cause__), err)
    read_timeout = mapped(openai.APITimeoutError(request=REQUEST), request_timeout=0.5)
    assert read_timeout.code == "server_timeout"


def test_connection_error():
    err = mapped(openai.APIConnectionError(request=REQUEST))
    assert err.code == "server_unavailable"
    assert "not reachable" in str(err)


@pytest.mark.parametrize("message", [
    "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens "
    "(8000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.",
    "The decoder prompt (length 9001) is longer than the maximum model length of 8192. max_model_len exceeded",
    "Prompt is too long for the context window of 8192 tokens",
])
def test_too_long(message):
    err = mapped(status_error(openai.BadRequestError, 400, message))
    assert err.code == "too_long"
    assert "8192" in str(err)
    assert err.fields == {"max_model_len": 8192}


def test_a_server_without_trusted_mm_kwargs_says_how_to_start_it():
    # vLLM 0.32's words (vllm/entrypoints/generate/base/protocol.py) for a request with media_io_kwargs
    err = mapped(status_error(openai.BadRequestError, 400,
                              "Per-request media_io_kwargs are disabled by default because they can change "
                              "multimodal media loading resource usage. Start the server with "
                              "--trust-request-mm-kwargs only when clients are trusted."))
    assert err.code == "server_needs_mm_kwargs"
    assert "--trust-request-mm-kwargs" in str(err) and "--video-via worker" in str(err)


def test_other_status_errors_keep_the_servers_words():
    err = mapped(status_error(openai.BadRequestError, 400, "temperature must be non-negative"))
    assert err.code == "server_error"
    assert "temperature must be non-negative" in str(err)
    err = mapped(status_error(openai.InternalServerError, 500, "EngineCore died"))
    assert err.code == "server_error"
    assert "EngineCore died" in str(err)


def test_long_server_messages_are_shortened():
    err = mapped(status_error(openai.BadRequestError, 400, "bad " * 500))
    assert err.code == "server_error"
    assert len(err.fields["detail"]) <= 300
    assert err.fields["detail"].endswith("…")


def test_any_other_exception():
    err = mapped(RuntimeError("something\n  odd   happened"))
    assert err.code == "server_error"
    assert err.fields["detail"] == "RuntimeError: something odd happened"


# --- the client ---------------------------------------------------------------------------------------------

def test_make_client_has_no_retries_and_a_read_timeout():
    client = make_client("http://127.0.0.1:9/v1", "key", 42.0)
    assert client.max_retries == 0
    assert client.timeout.read == 42.0
    assert client.timeout.connect == 30.0  # a saturated local server can take seconds to accept
    assert str(client.base_url).rstrip("/") == "http://127.0.0.1:9/v1"
    assert client.api_key == "key"


def test_vllms_context_overflow_messages_are_recognised_from_the_server_and_the_engine():
    from demo.engines.client import overflows_context

    engine = ("VLLMValidationError: This model's maximum context length is 8192 tokens. However, your prompt "
              "contains at least 8193 input tokens, which exceeds this limit even without any output tokens.")
    older = "ValueError: The decoder prompt (length 9000) is longer than the maximum model length of 8192."
    assert overflows_context(engine) and overflows_context(older)  # the first: seen from the worker, vLLM 0.32
    assert not overflows_context("ValueError: could not decode the video frames")
