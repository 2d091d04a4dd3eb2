"""Figure 2: concurrency. N simultaneous users, each sending requests back to back, through the app
(gradio_client, one client per user, as N browsers) and straight to the server (openai SDK, one client per
user): completed requests per second. Rounds alternate app and direct at each N.
"""

from __future__ import annotations

import threading
import time

from .common import Summary
from .streaming import GEN, completion_tokens

# The processes whose CPU the report shows (bench/__main__.py cpu_probe); other keys in an older results.json
# are left out.
CPU_PARTS = ("vllm", "app", "client")


def _direct_request(client, model: str, prompt: str, max_tokens: int) -> int:
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": prompt}], stream=True,
        stream_options={"include_usage": True}, max_tokens=max_tokens, temperature=GEN["temperature"],
        top_p=GEN["top_p"], presence_penalty=GEN["presence_penalty"], extra_body={"top_k": GEN["top_k"]})
    tokens = 0
    with stream:
        for chunk in stream:
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
    return tokens


def _app_request(client, prompt: str, max_tokens: int) -> int:
    job = client.submit(prompt, "", [], GEN["temperature"], GEN["top_p"], GEN["top_k"], max_tokens,
                        GEN["presence_penalty"], api_name="/chat")
    stats, *_ = job.result()  # the whole stream is received (the client applies every streamed diff)
    return completion_tokens(stats)


def one_round(path: str, clients: list, users: int, per_user: int, prompt: str, max_tokens: int,
              model: str = "") -> dict:
    """``users`` threads, each sending ``per_user`` requests back to back; returns the round's figures."""
    barrier = threading.Barrier(users + 1)
    done, tokens, errors = [0] * users, [0] * users, []
    ends = [0.0] * users

    def user(i: int):
        client = clients[i]
        barrier.wait()
        for _ in range(per_user):
            try:
                if path == "direct":
                    tokens[i] += _direct_request(client, model, prompt, max_tokens)
                else:
                    tokens[i] += _app_request(client, prompt, max_tokens)
                done[i] += 1
            except Exception as exc:  # counted, reported; a failed request is not a completed one
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
        ends[i] = time.perf_counter()

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = max(ends) - start
    return {"path": path, "users": users, "completed": sum(done), "tokens": sum(tokens), "wall_s": wall,
            "rps": sum(done) / wall if wall > 0 else 0.0, "errors": errors[:5], "n_errors": len(errors)}


def run(base_url: str, api_key: str, model: str, app_url: str, prompt: str, levels=(1, 4, 16), rounds: int = 3,
        per_user: int = 3, max_tokens: int = 256, log=print, cpu_probe=None) -> dict:
    """``cpu_probe()`` -> {component: cumulative CPU seconds}: each round records CPU per completed request."""
    import openai
    from gradio_client import Client

    top = max(levels)
    direct_clients = [openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=300)
                      for _ in range(top)]
    app_clients = [Client(app_url, verbose=False) for _ in range(top)]
    clients_of = {"app": app_clients, "direct": direct_clients}
    rows = []
    try:
        # warm-up at the top level: connections, threads, the app's thread pool
        for path, clients in clients_of.items():
            one_round(path, clients, top, 1, prompt, 16, model)
        for r in range(rounds):
            for users in levels:
                order = ["app", "direct"] if r % 2 == 0 else ["direct", "app"]
                for path in order:
                    before = cpu_probe() if cpu_probe else {}
                    row = one_round(path, clients_of[path], users, per_user, prompt, max_tokens, model)
                    after = cpu_probe() if cpu_probe else {}
                    row["cpu_s"] = {k: after[k] - before.get(k, 0.0) for k in after}
                    row["round"] = r
                    rows.append(row)
                    cpu = ", ".join(f"{k} {1000 * v / max(1, row['completed']):.0f}"
                                    for k, v in row["cpu_s"].items())
                    log(f"  concurrency round {r + 1}/{rounds}: {path:7} {users:2} users "
                        f"{row['rps']:.2f} req/s ({row['completed']} in {row['wall_s']:.1f} s"
                        + (f", {row['n_errors']} errors" if row["n_errors"] else "")
                        + (f"; CPU ms/request: {cpu}" if cpu else "") + ")")
    finally:
        for c in app_clients:
            try:
                c.close()
            except Exception:
                pass
        for c in direct_clients:
            c.close()
    return {"prompt": prompt, "max_tokens": max_tokens, "per_user": per_user, "levels": list(levels),
            "rounds": rows}


def summarise(result: dict) -> dict:
    out = {}
    for users in result["levels"]:
        app = [r for r in result["rounds"] if r["users"] == users and r["path"] == "app"]
        direct = [r for r in result["rounds"] if r["users"] == users and r["path"] == "direct"]
        # ratio per round (app and direct of the same round ran back to back)
        ratios = [a["rps"] / d["rps"] for a in app for d in direct if a["round"] == d["round"] and d["rps"] > 0]

        def cpu(rows):
            keys = sorted({k for r in rows for k in r.get("cpu_s", {}) if k in CPU_PARTS})
            return {k: Summary.of(r["cpu_s"][k] / max(1, r["completed"]) for r in rows if k in r.get("cpu_s", {}))
                    for k in keys}

        out[users] = {"app": Summary.of(r["rps"] for r in app), "direct": Summary.of(r["rps"] for r in direct),
                      "ratio": Summary.of(ratios), "cpu": {"app": cpu(app), "direct": cpu(direct)},
                      "errors": sum(r["n_errors"] for r in app + direct),
                      "tokens_per_request": Summary.of(r["tokens"] / max(1, r["completed"]) for r in app + direct)}
    return out
