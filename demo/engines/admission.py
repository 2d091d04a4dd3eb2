"""How many chat and image answers may be generated at once: what vLLM can batch and the app can stream (issue 30).

A fixed limit is wrong both ways: on a GPU vLLM batches far more than 32 answers (its ``max_num_seqs``, up to 1,024
on an H100, and its KV cache), while on a small machine fewer run well. So the limit follows two live signals,
read every ``TICK_S``:

- the server's own queue: vLLM's ``vllm:num_requests_waiting`` (``/metrics``) is above 0 when its batch is full
  (sequences or KV cache); then answers admitted on top would only wait inside vLLM instead of in the page's
  queue, where a visitor sees their place;
- the app's own load: while every answer's updates are at their longest interval and the app's loop is still
  over its budget (demo/engines/pacing.py), one more answer slows all the others.

While neither says "full", the limit is what runs now plus ``STEP`` (a crowd arriving at once is let in ``STEP``
a tick), never below ``--concurrency-limit`` (always admitted) nor above ``--max-concurrency``. This module knows
nothing of Gradio: demo/ui/admission.py applies the limit to the page's queue.
"""

from __future__ import annotations

import re
import urllib.request

from .server import ServerEndpoint

TICK_S = 0.5
STEP = 16
_WAITING = re.compile(r"^vllm:num_requests_waiting(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$", re.M)


def next_limit(running: int, floor: int, ceiling: int, server_waiting: int | None, app_full: bool) -> int:
    """The limit for the next tick: hold at what runs while the server or the app is full, else admit ``STEP``
    more than runs; always within [``floor``, ``ceiling``]."""
    ceiling = max(floor, ceiling)
    if (server_waiting or 0) > 0 or app_full:
        return max(floor, min(running, ceiling))
    return max(floor, min(ceiling, running + STEP))


def server_waiting(endpoint: ServerEndpoint, timeout: float = 2.0) -> int | None:
    """Requests waiting in vLLM's own queue now (every engine of the server summed), or None when the server does
    not publish it (another OpenAI-compatible server, or no answer)."""
    request = urllib.request.Request(f"{endpoint.root}/metrics",
                                     headers={"Authorization": f"Bearer {endpoint.api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            text = resp.read(4_000_000).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
    found = _WAITING.findall(text)
    if not found:
        return None
    try:
        return int(sum(float(v) for v in found))
    except ValueError:
        return None
