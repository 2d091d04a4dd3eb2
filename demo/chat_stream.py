"""Streaming chat (and image) answers from an OpenAI-compatible vLLM server through the ``openai`` SDK.

A plain generator per request (FastChat's ``model_worker_stream_iter`` idea): it yields text deltas as the
server makes them and, last, an :class:`AnswerStats`. Closing the generator early closes the HTTP stream,
which makes vLLM abort the request (seen: ``vllm:num_requests_running`` drops to 0, shared/TESTBED.md).
SDK errors become :class:`EngineError` sentences.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Iterator

import httpx
import openai

from .messages import EngineError


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings shared by the tabs; defaults are Qwen3-VL-Instruct's recommended ones for vision."""

    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    max_tokens: int = 1024
    presence_penalty: float = 1.5

    def clamped(self, max_tokens_limit: int) -> "GenerationParams":
        """The same settings forced into the ranges the server accepts (callers of the API can send anything)."""
        d = GenerationParams()
        return replace(
            self,
            temperature=min(2.0, max(0.0, _number(self.temperature, d.temperature))),
            top_p=min(1.0, max(0.01, _number(self.top_p, d.top_p))),
            top_k=-1 if int(self.top_k) <= 0 else min(1000, int(self.top_k)),
            max_tokens=min(max_tokens_limit, max(1, int(self.max_tokens))),
            presence_penalty=min(2.0, max(-2.0, _number(self.presence_penalty, d.presence_penalty))),
        )


def _number(value, default: float) -> float:
    """``value`` as a float; NaN (which every comparison lets through, and JSON can carry) is the default."""
    number = float(value)
    return default if math.isnan(number) else number


@dataclass(frozen=True)
class AnswerStats:
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None  # time to the first text
    total_s: float

    @property
    def tokens_per_s(self) -> float:
        """Decode speed: completion tokens after the first, over the time after the first."""
        if self.ttft_s is None or self.completion_tokens < 2 or self.total_s <= self.ttft_s:
            return 0.0
        return (self.completion_tokens - 1) / (self.total_s - self.ttft_s)

    def describe(self) -> str:
        ttft = f"{self.ttft_s:.2f} s" if self.ttft_s is not None else "-"
        return (f"first token {ttft} · {self.tokens_per_s:.1f} tokens/s · "
                f"{self.prompt_tokens} prompt + {self.completion_tokens} completion tokens · "
                f"finish: {self.finish_reason}")


def make_client(base_url: str, api_key: str, request_timeout: float) -> openai.OpenAI:
    """An SDK client whose read timeout bounds the wait for each streamed chunk; no silent retries."""
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0,
                         timeout=httpx.Timeout(request_timeout, connect=5.0))


def map_error(exc: Exception, *, max_model_len: int, request_timeout: float) -> EngineError:
    """One sentence for any failure of a request to the server."""
    if isinstance(exc, openai.APITimeoutError):
        return EngineError("server_timeout", seconds=request_timeout)
    if isinstance(exc, openai.APIConnectionError):
        return EngineError("server_unavailable", detail="connection failed")
    if isinstance(exc, openai.APIStatusError):
        text = str(getattr(exc, "message", "") or exc)
        low = text.lower()
        if "--trust-request-mm-kwargs" in low:  # an attached server that keeps per-request media options off
            return EngineError("server_needs_mm_kwargs")
        if "maximum context length" in low or "max_model_len" in low or "too long" in low or (
                "context" in low and "token" in low):
            return EngineError("too_long", max_model_len=max_model_len)
        return EngineError("server_error", detail=_short(text))
    return EngineError("server_error", detail=_short(f"{type(exc).__name__}: {exc}"))


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stream_chat(client: openai.OpenAI, model: str, messages: list[dict], params: GenerationParams, *,
                max_model_len: int, request_timeout: float, media_io_kwargs: dict | None = None
                ) -> Iterator[str | AnswerStats]:
    """Yield each text delta as it arrives, then one :class:`AnswerStats`.

    ``media_io_kwargs`` is the app's own (video frame timing); nothing a user sends reaches ``extra_body``.
    """
    extra_body = {"top_k": params.top_k}
    if media_io_kwargs:
        extra_body["media_io_kwargs"] = media_io_kwargs
    start = time.perf_counter()
    first = None
    finish, usage = None, None
    try:
        stream = client.chat.completions.create(
            model=model, messages=messages, stream=True, stream_options={"include_usage": True},
            temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
            presence_penalty=params.presence_penalty, extra_body=extra_body,
        )
        with stream:  # leaving early (Stop, closed tab) closes the stream: vLLM aborts the request
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        if first is None:
                            first = time.perf_counter() - start
                        yield choice.delta.content
                    if choice.finish_reason:
                        finish = choice.finish_reason
    except (openai.OpenAIError, httpx.HTTPError) as exc:
        raise map_error(exc, max_model_len=max_model_len, request_timeout=request_timeout) from exc
    if finish is None:  # the connection closed without a finish reason: the server died mid-answer (seen)
        raise EngineError("server_lost")
    yield AnswerStats(finish, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0,
                      first, time.perf_counter() - start)
