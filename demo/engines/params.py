"""The sampling settings of one answer, on every path: the page's sliders, the API's arguments, a chat request to
the server, a video job to the worker (which builds vLLM's ``SamplingParams`` from them). A light module: the
worker's process and the page import it without the OpenAI SDK."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings shared by the tabs; defaults are Qwen3-VL-Instruct's recommended ones for vision."""

    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    max_tokens: int = 1024
    presence_penalty: float = 1.5
    # vLLM's own parameter, for benchmarks and tests that need an answer of exactly max_tokens (random weights
    # may end one at any token); the page never sets it
    ignore_eos: bool = False
    # Think before answering, for models whose chat template has the switch (Qwen3.5: ``enable_thinking``); None:
    # the model's own default. Sent as the template's argument (the server's ``chat_template_kwargs``, the
    # worker's ``apply_chat_template``); for a model without the switch it is dropped (Engines.switchable).
    thinking: bool | None = None

    def clamped(self, max_tokens_limit: int) -> GenerationParams:
        """The same settings forced into the ranges the server accepts (callers of the API can send anything)."""
        d = GenerationParams()
        return replace(
            self,
            temperature=min(2.0, max(0.0, finite_or(self.temperature, d.temperature))),
            top_p=min(1.0, max(0.01, finite_or(self.top_p, d.top_p))),
            top_k=-1 if int(self.top_k) <= 0 else min(1000, int(self.top_k)),
            max_tokens=min(max_tokens_limit, max(1, int(self.max_tokens))),
            presence_penalty=min(2.0, max(-2.0, finite_or(self.presence_penalty, d.presence_penalty))),
        )

    @classmethod
    def recommended(cls, sampling: dict | None) -> GenerationParams:
        """The defaults with what the model's ``generation_config.json`` recommends (model_card.ModelCard.sampling:
        temperature, top_p, top_k, presence_penalty) in place of Qwen3-VL-Instruct's."""
        names = ("temperature", "top_p", "top_k", "presence_penalty")
        known = {k: v for k, v in (sampling or {}).items() if k in names}
        if "top_k" in known:
            known["top_k"] = int(known["top_k"])
        return replace(cls(), **known)

    def greedy(self) -> GenerationParams:
        """For an answer held to a JSON schema: the schema decides the shape, greedy picks the likeliest values,
        and no presence penalty pushes a digit away from those already written."""
        return replace(self, temperature=0.0, presence_penalty=0.0)

    def template_kwargs(self) -> dict:
        """The chat template's own arguments for these settings (empty: the template's defaults)."""
        return {} if self.thinking is None else {"enable_thinking": self.thinking}

    def vllm_kwargs(self) -> dict:
        """The keyword arguments of vLLM's ``SamplingParams`` (the worker's path) for these settings."""
        return dict(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, max_tokens=self.max_tokens,
                    presence_penalty=self.presence_penalty, ignore_eos=self.ignore_eos)


def finite_or(value, default: float) -> float:
    """``value`` as a float; NaN (which every comparison lets through, and JSON can carry) is the default."""
    number = float(value)
    return default if math.isnan(number) else number


@dataclass(frozen=True)
class VideoSampling:
    """The page's sampling controls, before the token budget is applied."""

    fps: float = 2.0
    max_frames: int = 64
    max_pixels: int = 640 * 360
    start: float = 0.0
    end: float | None = None
