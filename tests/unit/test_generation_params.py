"""One set of sampling settings on both video paths: the worker builds vLLM's SamplingParams from it, the server's
request carries the same values (demo/engines/params.py)."""

from __future__ import annotations

import dataclasses

from vllm.sampling_params import SamplingParams

from demo.engines.client import request_kwargs
from demo.engines.params import GenerationParams

SET = GenerationParams(temperature=0.3, top_p=0.9, top_k=5, max_tokens=77, presence_penalty=0.4)


def test_the_workers_sampling_params_carry_every_setting():
    made = SamplingParams(**SET.vllm_kwargs())
    assert (made.temperature, made.top_p, made.top_k, made.max_tokens, made.presence_penalty, made.ignore_eos) == (
        0.3, 0.9, 5, 77, 0.4, False)
    assert SamplingParams(**dataclasses.replace(SET, ignore_eos=True).vllm_kwargs()).ignore_eos is True


def test_the_servers_request_carries_the_same_settings():
    sent = request_kwargs("m", [], SET)
    assert (sent["temperature"], sent["top_p"], sent["extra_body"]["top_k"], sent["max_tokens"],
            sent["presence_penalty"]) == (0.3, 0.9, 5, 77, 0.4)
    assert "ignore_eos" not in sent["extra_body"]  # the page never asks for it
    assert request_kwargs("m", [], dataclasses.replace(SET, ignore_eos=True))["extra_body"]["ignore_eos"] is True


def test_greedy_keeps_all_but_temperature_and_penalty():
    assert SET.greedy() == dataclasses.replace(SET, temperature=0.0, presence_penalty=0.0)
