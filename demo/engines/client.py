"""Streaming chat (and image) answers from an OpenAI-compatible vLLM server through the async ``openai`` SDK.

One async generator per request (FastChat's ``model_worker_stream_iter`` idea, on one event loop as vLLM's own
API server does): it yields text as the server makes it and, last, an :class:`AnswerStats`. Reading and
yielding happen in the caller's own task, with no reader running ahead: cancelling that task (Stop, a closed
tab) interrupts the pending read at once and closes the HTTP stream, which makes vLLM abort the request,
during prefill too (shared/TESTBED.md; a reader thread that ran ahead once let a whole answer finish before
Stop arrived). Text is coalesced (:func:`coalesce`): a page needs about 25 updates a second, not one per token.
SDK errors become :class:`EngineError` sentences.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, cast

import openai

from ..errors import EngineError
from .params import GenerationParams


@dataclass(frozen=True)
class Progress:
    """Tokens made so far, while the answer streams no text (prefill's end, a token that completes no character,
    a model's hidden part). Passing it on keeps the consumer's generator yielding: Gradio notices a closed tab,
    and closes an abandoned run, only at a yield (seen: a random-weight answer silent for thousands of tokens
    ran to its end after its tab was closed)."""

    completion_tokens: int


@dataclass(frozen=True)
class Thinking:
    """Reasoning of a thinking model, apart from its answer: the server's reasoning parser (``--reasoning-parser``)
    sends it as ``delta.reasoning`` (``reasoning_content`` on vLLM before 0.10: an attached server)."""

    text: str


def reasoning_of(delta: dict | None) -> str | None:
    """The reasoning text of a streamed delta (vLLM's ``reasoning``, or the older ``reasoning_content``), if any."""
    if not delta:
        return None
    return delta.get("reasoning") or delta.get("reasoning_content")


async def open_chunks(client: openai.AsyncOpenAI, sent: dict) -> openai.AsyncStream:
    """The chat completion stream of ``sent`` (:func:`request_kwargs`), each chunk as the server's JSON object.

    The SDK's own ``chat.completions.create`` builds a pydantic object per chunk (``construct_type``): 9 % of the
    app's CPU with 256 answers streaming (py-spy, issue 30), for fields read once. Its documented way to a route
    with a body of one's own (``client.post``) with ``cast_to=object`` keeps everything else of the SDK (the
    transport and its timeouts, HTTP errors as ``openai`` exceptions, an ``error`` event mid-stream raised, the
    stream closed when left) and hands each chunk over as parsed."""
    body = {key: value for key, value in sent.items() if key != "extra_body"}
    body.update(sent.get("extra_body") or {})
    return await client.post("/chat/completions", body=body, cast_to=object, stream=True,
                             stream_cls=openai.AsyncStream[object])


@dataclass(frozen=True)
class AnswerStats:
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None  # time to the first text (reasoning or answer)
    total_s: float
    reasoning_tokens: int = 0  # of the completion tokens, those the model thought in (vLLM counts them)
    thinking_s: float | None = None  # from the first reasoning to the answer's start (or the end)
    # what was sent (request_kwargs), for "Show request"; data URLs in it are large: not in repr or ==
    request: dict | None = field(default=None, repr=False, compare=False)
    # of the prompt tokens, those vLLM's prefix cache already held (the server's --enable-prompt-tokens-details);
    # None: the server did not say
    cached_tokens: int | None = None

    @property
    def tokens_per_s(self) -> float:
        """Decode speed: completion tokens after the first, over the time after the first."""
        if self.ttft_s is None or self.completion_tokens < 2 or self.total_s <= self.ttft_s:
            return 0.0
        return (self.completion_tokens - 1) / (self.total_s - self.ttft_s)

    def describe(self) -> str:
        ttft = f"{self.ttft_s:.2f} s" if self.ttft_s is not None else "-"
        thought = f" ({self.reasoning_tokens} thinking)" if self.reasoning_tokens else ""
        return (f"first token {ttft} · {self.tokens_per_s:.1f} tokens/s · "
                f"{self.prompt_tokens} prompt + {self.completion_tokens} completion tokens{thought}"
                f"{cached_part(self.cached_tokens)} · "
                f"finish: {self.finish_reason}")


def cached_part(cached: int | None) -> str:
    """" · N prompt tokens cached" after the token counts when vLLM's prefix cache served some of the prompt: a
    follow-up about the same image or video reuses its vision tokens. Said only when the engine counts them and
    some were; after the counts, so "N prompt + M completion tokens" reads as it always did."""
    return f" · {cached} prompt tokens cached" if cached else ""


CONNECT_TIMEOUT_S = 30.0  # a local server on a saturated machine can take seconds to accept (a 5 s limit failed one
# of 48 requests at 16 users in bench/RESULTS.md's figure 2 run of 2026-12-03); a dead remote one still fails soon


def make_client(base_url: str, api_key: str, request_timeout: float) -> openai.AsyncOpenAI:
    """An async SDK client whose read timeout bounds the wait for each streamed chunk; no silent retries.

    The timeout is the SDK's own ``openai.Timeout``: the SDK's HTTP transport is httpx up to openai 2.x and its fork
    httpx2 from 3.x, which refuses an ``httpx.Timeout`` (every answer failed so on 2026-12-06, issue 25)."""
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0,
                              timeout=openai.Timeout(request_timeout, connect=min(request_timeout, CONNECT_TIMEOUT_S)))


def _transport_error(exc: BaseException | None, name: str) -> bool:
    """Whether ``exc`` is the SDK transport's error ``name`` (or a subclass), told by the class names that httpx and
    its fork httpx2 share rather than by importing either: the installed SDK decides which one it speaks."""
    return any(k.__name__ == name and k.__module__.split(".")[0] in ("httpx", "httpx2") for k in type(exc).__mro__)


def map_error(exc: Exception, *, max_model_len: int, request_timeout: float) -> EngineError:
    """One sentence for any failure of a request to the server."""
    if isinstance(exc, openai.APITimeoutError):
        if _transport_error(exc.__cause__, "ConnectTimeout"):  # not the answer's wait: say which limit it was
            return EngineError("server_busy", seconds=min(request_timeout, CONNECT_TIMEOUT_S))
        return EngineError("server_timeout", seconds=request_timeout)
    if isinstance(exc, openai.APIConnectionError):
        return EngineError("server_unavailable", detail="connection failed")
    if isinstance(exc, openai.APIStatusError):
        text = str(getattr(exc, "message", "") or exc)
        low = text.lower()
        if "--trust-request-mm-kwargs" in low:  # an attached server that keeps per-request media options off
            return EngineError("server_needs_mm_kwargs")
        if overflows_context(text):
            return EngineError("too_long", max_model_len=max_model_len)
        return EngineError("server_error", detail=_short(text))
    return EngineError("server_error", detail=_short(f"{type(exc).__name__}: {exc}"))


def overflows_context(message: str) -> bool:
    """Whether vLLM's error says the prompt does not fit the context (its server and its engine word it
    differently: "This model's maximum context length is 8192 tokens. However, your prompt contains at least
    8193 input tokens", "The decoder prompt (length ...) is longer than the maximum model length")."""
    low = message.lower()
    return ("maximum context length" in low or "maximum model length" in low or "max_model_len" in low
            or "too long" in low or ("context" in low and "token" in low))


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def stream_chat(client: openai.AsyncOpenAI, model: str, messages: list[dict], params: GenerationParams, *,
                      max_model_len: int, request_timeout: float, media_io_kwargs: dict | None = None,
                      json_schema: dict | None = None, interval: float | Callable[[], float] = 0.0,
                      chunk_tokens: int = 1) -> AsyncGenerator[str | Thinking | Progress | AnswerStats, None]:
    """Yield the answer's text as it arrives (coalesced to one piece per ``interval`` seconds), a thinking model's
    reasoning as :class:`Thinking` (coalesced the same way, before the answer), a :class:`Progress` for an
    interval in which tokens but no text came, then one :class:`AnswerStats`.

    ``media_io_kwargs`` (video frame timing), ``json_schema`` and ``chunk_tokens`` (vLLM's per-request
    ``stream_interval``: tokens per streamed chunk, 1 leaves it out) are the app's own; nothing a user sends
    reaches ``extra_body``.
    """
    deltas = _deltas(client, model, messages, params, max_model_len=max_model_len,
                     request_timeout=request_timeout, media_io_kwargs=media_io_kwargs, json_schema=json_schema,
                     chunk_tokens=chunk_tokens)
    async with aclosing(coalesce(deltas, interval)) as items:
        async for item in items:
            yield item


def request_kwargs(model: str, messages: list[dict], params: GenerationParams, *,
                   media_io_kwargs: dict | None = None, json_schema: dict | None = None, chunk_tokens: int = 1) -> dict:
    """The arguments of a ``client.chat.completions.create`` call, whose body the app sends (:func:`open_chunks`):
    one place, so that "Show request" (demo/outputs/request_snippet.py) prints exactly what was sent."""
    extra_body: dict[str, Any] = {"top_k": params.top_k}
    if params.ignore_eos:
        extra_body["ignore_eos"] = True
    if media_io_kwargs:
        extra_body["media_io_kwargs"] = media_io_kwargs
    if json_schema is not None:  # vLLM's structured outputs (compact: the server's --structured-outputs-config)
        extra_body["structured_outputs"] = {"json": json_schema}
    if chunk_tokens > 1:  # vLLM's per-request stream_interval: first and last chunks still go at once
        extra_body["stream_interval"] = chunk_tokens
    if params.template_kwargs():  # thinking on or off for this question (Qwen3.5's switch)
        extra_body["chat_template_kwargs"] = params.template_kwargs()
    return dict(
        model=model, messages=messages, stream=True,
        # the running token count on every chunk (vLLM sends one per step, text or not)
        stream_options={"include_usage": True, "continuous_usage_stats": True},
        temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
        presence_penalty=params.presence_penalty, extra_body=extra_body,
    )


async def _deltas(client: openai.AsyncOpenAI, model: str, messages: list[dict], params: GenerationParams, *,
                  max_model_len: int, request_timeout: float, media_io_kwargs: dict | None,
                  json_schema: dict | None = None, chunk_tokens: int = 1
                  ) -> AsyncGenerator[str | Thinking | Progress | AnswerStats, None]:
    """Each text delta as the server sends it (reasoning as :class:`Thinking`, a :class:`Progress` for a token
    without text), then the :class:`AnswerStats`."""
    start = time.perf_counter()
    first = thought_at = answer_at = None
    finish, usage = None, None
    try:
        sent = request_kwargs(model, messages, params, media_io_kwargs=media_io_kwargs, json_schema=json_schema,
                              chunk_tokens=chunk_tokens)
        stream = await open_chunks(client, sent)
        steps = 0
        async with stream:  # leaving early (Stop, closed tab, cancel) closes the stream: vLLM aborts the request
            async for chunk in stream:
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or ():
                    steps += 1
                    delta = choice.get("delta") or {}
                    reasoning = reasoning_of(delta)
                    if reasoning:
                        if thought_at is None:
                            thought_at = time.perf_counter() - start
                            first = thought_at if first is None else first
                        yield Thinking(reasoning)
                    if delta.get("content"):
                        if answer_at is None:
                            answer_at = time.perf_counter() - start
                            first = answer_at if first is None else first
                        yield delta["content"]
                    elif not choice.get("finish_reason") and not reasoning:  # no text (the first names the role)
                        made = chunk["usage"].get("completion_tokens", 0) if chunk.get("usage") else steps - 1
                        if made > 0:
                            yield Progress(made)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
    except Exception as exc:
        # the SDK wraps what fails before the stream; a stream that breaks mid-answer raises the transport's own
        # error unwrapped
        if not (isinstance(exc, openai.OpenAIError) or _transport_error(exc, "HTTPError")):
            raise
        raise map_error(exc, max_model_len=max_model_len, request_timeout=request_timeout) from exc
    if finish is None:  # the connection closed without a finish reason: the server died mid-answer (seen)
        raise EngineError("server_lost")
    total = time.perf_counter() - start
    usage = usage or {}
    details = usage.get("completion_tokens_details") or {}
    prompt_details = usage.get("prompt_tokens_details") or {}
    thinking_s = None if thought_at is None else (answer_at if answer_at is not None else total) - thought_at
    yield AnswerStats(finish, usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0,
                      first, total, details.get("reasoning_tokens") or 0, thinking_s, sent,
                      prompt_details.get("cached_tokens"))


async def coalesce(source: AsyncGenerator, interval: float | Callable[[], float]) -> AsyncGenerator:
    """Merge the text items of ``source`` so that at most one flush happens per ``interval`` seconds (a number, or
    a function read at every step: the app's pacing, demo/engines/pacing.py, stretches it under load).

    The first text goes out at once; after that, text waits until ``interval`` has passed since the last
    flush and then goes out whole, also when the source is silent meanwhile (a timer, not the next delta,
    flushes it). Reasoning (:class:`Thinking`) is merged the same way, apart from the answer's text: a flush
    sends the reasoning first, then the text (a thinking model's reasoning comes before its answer). A
    :class:`Progress` goes out the same way, in an interval without text (the latest one; text says the answer is
    alive anyway). Anything else (the stats) flushes first and passes through. No text is dropped or reordered.
    At most one read of ``source`` is pending (a child task, awaited beside the timer): a cancel, or closing this
    generator, cancels that read and closes ``source``; no reader runs ahead of the consumer.
    """
    now_interval = interval if callable(interval) else (lambda: interval)
    if now_interval() <= 0:
        async with aclosing(source):
            async for item in source:
                yield item
        return
    loop = asyncio.get_running_loop()
    pending, thought, progress, last, reading = "", "", None, None, None

    def flush() -> list:
        nonlocal pending, thought, progress, last
        out = ([Thinking(thought)] if thought else []) + ([pending] if pending else [])
        if not out and progress is not None:
            out = [progress]
        pending, thought, progress, last = "", "", None, loop.time()
        return out

    try:
        while True:
            if reading is None:
                reading = asyncio.ensure_future(anext(source))
            waiting = pending or thought or progress is not None
            # something waits only after a first flush, which set last
            wait = None if not waiting else max(0.0, cast(float, last) + now_interval() - loop.time())
            done, _ = await asyncio.wait({reading}, timeout=wait)
            if not done:  # the interval is over and something is waiting: send it
                for out in flush():
                    yield out
                continue
            try:
                item = reading.result()
            except StopAsyncIteration:
                break
            finally:
                reading = None
            if isinstance(item, (str, Thinking, Progress)):
                if isinstance(item, str):
                    pending += item
                elif isinstance(item, Thinking):
                    if pending:  # reasoning after answer text (no parser does this): keep the order
                        for out in flush():
                            yield out
                    thought += item.text
                else:
                    progress = item
                if last is None or loop.time() - last >= now_interval():
                    for out in flush():
                        yield out
                continue
            for out in flush():
                if not isinstance(out, Progress):
                    yield out
            yield item
        for out in flush():
            if not isinstance(out, Progress):
                yield out
    finally:
        if reading is not None:  # cancelled (or failed) while a read was pending: end it before closing
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        await source.aclose()
