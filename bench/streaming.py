"""Figure 1: streaming overhead. The same requests through the app (gradio_client, streaming, the public API)
and straight to the same vLLM server (openai SDK), plus Gradio's floor (a no-op streaming endpoint), interleaved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .common import ROOT, Summary

TEXT_PROMPTS = (
    "Write a poem about the sea.",
    "Reverse every character of 'I love Qwen3-VL'.",
    "Tell me a long story about a robot.",
    "Hello",
    "Explain in three sentences what a vision-language model is.",
    "Write a haiku about a robot looking at the sea.",
    "What is the capital of France?",
    "List ten colours.",
)
IMAGE = ROOT / "assets" / "coffee.jpg"
IMAGE_QUESTION = "What is in the cup?"
# temperature 0 (greedy), no top-p/top-k/presence penalty: both paths send exactly the same request.
GEN = dict(temperature=0.0, top_p=1.0, top_k=-1, presence_penalty=0.0)


@dataclass
class Trial:
    path: str  # "app", "direct", "floor"
    kind: str  # "text", "image", "floor"
    ttft: float | None  # seconds to the first non-empty text
    total: float  # seconds to the end of the stream
    updates: int  # streamed outputs that carried new text (app, floor) / non-empty content deltas (direct)
    tokens: int  # completion tokens (usage)
    finish: str | None = None
    first_chunk: int | None = None  # direct only: how many chunks came before the first non-empty text


@dataclass
class Clients:
    """One long-lived client per path, as a real user keeps its connection (both sides reuse connections)."""

    base_url: str
    api_key: str
    model: str
    app_url: str
    floor_url: str
    image_part: dict = field(default_factory=dict)

    def __post_init__(self):
        import openai
        from gradio_client import Client

        self.openai = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=0, timeout=120)
        self.app = Client(self.app_url, verbose=False)
        self.floor = Client(self.floor_url, verbose=False)
        from demo.inputs.images import image_part

        self.image_part = image_part(str(IMAGE))  # what the app sends for this file (computed once)

    def close(self):
        for c in (self.app, self.floor):
            try:
                c.close()
            except Exception:
                pass
        self.openai.close()


def direct(cl: Clients, prompt: str, max_tokens: int, image: bool = False) -> Trial:
    content = [cl.image_part, {"type": "text", "text": prompt}] if image else prompt
    start = time.perf_counter()
    first, updates, usage, finish, chunks, first_chunk = None, 0, None, None, 0, None
    stream = cl.openai.chat.completions.create(
        model=cl.model, messages=[{"role": "user", "content": content}], stream=True,
        stream_options={"include_usage": True}, max_tokens=max_tokens, temperature=GEN["temperature"],
        top_p=GEN["top_p"], presence_penalty=GEN["presence_penalty"], extra_body={"top_k": GEN["top_k"]})
    with stream:
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta and choice.delta.content:
                    if first is None:
                        first = time.perf_counter() - start
                        first_chunk = chunks
                    updates += 1
                if choice.finish_reason:
                    finish = choice.finish_reason
                chunks += 1
    total = time.perf_counter() - start
    return Trial("direct", "image" if image else "text", first, total, updates,
                 usage.completion_tokens if usage else 0, finish, first_chunk)


def _drive(job, start: float) -> tuple[float | None, int, tuple]:
    """Iterate a gradio_client job: (seconds to first non-empty answer, updates that grew the answer, last)."""
    first, updates, previous, last = None, 0, "", ("", "")
    for out in job:
        answer = out[1] or ""
        if answer != previous:
            if first is None:
                first = time.perf_counter() - start
            updates += 1
            previous = answer
        last = out
    final = job.result()
    return first, updates, final or last


def completion_tokens(stats: str) -> int:
    """'... 27 prompt + 256 completion tokens ...' -> 256 (0 when absent)."""
    try:
        return int(stats.split(" completion tokens")[0].rsplit(" ", 1)[1])
    except (IndexError, ValueError):
        return 0


def prompt_tokens(stats: str) -> int:
    try:
        return int(stats.split(" prompt + ")[0].rsplit(" ", 1)[1])
    except (IndexError, ValueError):
        return 0


def app(cl: Clients, prompt: str, max_tokens: int, image: bool = False) -> Trial:
    from gradio_client import handle_file

    start = time.perf_counter()
    gen = (GEN["temperature"], GEN["top_p"], GEN["top_k"], max_tokens, GEN["presence_penalty"])
    if image:
        job = cl.app.submit(handle_file(str(IMAGE)), prompt, *gen, api_name="/describe_image")
    else:
        job = cl.app.submit(prompt, "", [], *gen, api_name="/chat")
    first, updates, (stats, *_) = _drive(job, start)
    total = time.perf_counter() - start
    finish = stats.rsplit("finish: ", 1)[-1] if "finish: " in stats else None
    return Trial("app", "image" if image else "text", first, total, updates, completion_tokens(stats), finish)


def floor(cl: Clients, n: int) -> Trial:
    start = time.perf_counter()
    job = cl.floor.submit("x", n, api_name="/stream")
    first, updates, _ = _drive(job, start)
    return Trial("floor", "floor", first, time.perf_counter() - start, updates, n)


def pick_prompt(cl: Clients, max_tokens: int) -> str:
    """A prompt whose greedy answer runs the whole ``max_tokens`` (random weights may stop early; the app does
    not forward ``ignore_eos``) and starts with text at once: random weights can open with a long run of byte
    tokens that are no whole character, which the server streams as empty deltas, and then "the first token"
    would measure the detokenizer rather than the path. Checked directly, twice per prompt."""
    best, best_first = TEXT_PROMPTS[0], None
    for prompt in TEXT_PROMPTS:
        runs = [direct(cl, prompt, max_tokens) for _ in range(2)]
        if any(t.tokens != max_tokens or t.first_chunk is None for t in runs):
            continue
        first = max(t.first_chunk for t in runs)
        if first <= 2:
            return prompt
        if best_first is None or first < best_first:
            best, best_first = prompt, first
    return best


def run(cl: Clients, trials: int, max_tokens: int, floor_n: int, log=print) -> dict:
    """Interleaved rounds of app, direct, floor (text), app, direct (image), ``trials`` times, the
    order rotating from round to round."""
    prompt = pick_prompt(cl, max_tokens)
    # warm-up: first requests pay for connections, the page's first upload, caches
    app(cl, prompt, 8), direct(cl, prompt, 8), floor(cl, 4), app(cl, IMAGE_QUESTION, 8, image=True)
    steps = [lambda: app(cl, prompt, max_tokens), lambda: direct(cl, prompt, max_tokens),
             lambda: floor(cl, floor_n), lambda: app(cl, IMAGE_QUESTION, max_tokens, image=True),
             lambda: direct(cl, IMAGE_QUESTION, max_tokens, image=True)]
    rows: list[Trial] = []
    for i in range(trials):
        first = len(rows)
        k = i % len(steps)  # the order rotates each round: no path always runs first, or after the same one
        for step in steps[k:] + steps[:k]:
            rows.append(step())
        if i == 0 or (i + 1) % 5 == 0:
            log(f"  streaming round {i + 1}/{trials}: " + ", ".join(
                f"{r.path}/{r.kind} {1000 * (r.ttft or 0):.0f}/{1000 * r.total:.0f} ms" for r in rows[first:]))
    return {"prompt": prompt, "max_tokens": max_tokens, "floor_n": floor_n, "trials": [t.__dict__ for t in rows]}


def summarise(result: dict) -> dict:
    """Per (path, kind): ttft, total, updates, tokens as Summaries, and the goal checks."""
    from collections import defaultdict

    groups = defaultdict(list)
    for t in result["trials"]:
        groups[(t["path"], t["kind"])].append(t)
    out = {}
    for key, ts in groups.items():
        out[key] = {name: Summary.of(t[name] for t in ts) for name in ("ttft", "total", "updates", "tokens")}
    return out
