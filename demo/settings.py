"""The app's one settings object; its command-line flags and environment variables are generated from it.

Each setting is declared once, as a typed dataclass field with a one-line help text (the pattern of vLLM's
``cli_args.py``). Every field gets a flag (``--max-model-len``) and an environment variable
(``QWEN_DEMO_MAX_MODEL_LEN``) for Spaces, where there is no command line. Precedence: flag > environment >
default. Flags that mirror the seed's vLLM command keep vLLM's names and the seed's values.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args, get_origin, get_type_hints

ENV_PREFIX = "QWEN_DEMO_"


def platform_defaults(env) -> dict[str, Any]:
    """Defaults a hosting platform implies, below flags and variables: a Space listens on 0.0.0.0:7860 and
    downloads the model from the hub that hosts it (Hugging Face sets ``SPACE_ID``; a ModelScope studio sets
    ``MODELSCOPE_ENVIRONMENT=studio``)."""
    if env.get("SPACE_ID"):
        return {"host": "0.0.0.0", "app_port": 7860, "model_source": "huggingface"}
    if env.get("MODELSCOPE_ENVIRONMENT") == "studio":
        return {"host": "0.0.0.0", "app_port": 7860, "model_source": "modelscope"}
    return {}
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "qwen3-vl-demo")


def _opt(default: Any, help: str, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class Settings:
    # --- mirrors of the seed's vLLM flags (vLLM's names and the seed's values) ---
    model: str = _opt("Qwen/Qwen3-VL-4B-Instruct",
                      "Model: a hub id, a local directory, or 'tiny' ('tiny-thinking') for a tiny random checkpoint "
                      "(of a thinking model) built offline.")
    served_model_name: str = _opt("Qwen3-VL-4B-Instruct", "Name the vLLM server serves the model under.")
    max_model_len: int = _opt(8192, "Context length (prompt + answer) of both engines, in tokens.")
    tensor_parallel_size: int = _opt(1, "Tensor parallelism of the co-launched vLLM server.")
    port: int = _opt(8085, "Port of the co-launched vLLM server (bound to 127.0.0.1; a free one if taken).")
    gpu_memory_utilization: float = _opt(0.9, "Fraction of its GPU the vLLM server may use.")
    trust_remote_code: bool = _opt(True, "Pass --trust-remote-code to vLLM (the seed does).")
    # --- the app ---
    host: str = _opt("127.0.0.1", "Address the web page listens on (0.0.0.0 to share on a network; Spaces set it).",
                     env="GRADIO_SERVER_NAME")
    app_port: int = _opt(7860, "Port of the web page.", env="GRADIO_SERVER_PORT")
    share: bool = _opt(False, "Open a public gradio.live link (off by default: the page runs a GPU).")
    api_base: str | None = _opt(None, "Attach to an existing OpenAI-compatible server at this URL; launch none.")
    api_key: str | None = _opt(None, "API key for --api-base (a random one is made for a co-launched server).")
    model_source: Literal["modelscope", "huggingface"] = _opt(
        "modelscope", "Hub to download --model from when it is not a local directory.")
    cache_dir: str = _opt(DEFAULT_CACHE_DIR, "Folder for downloaded models, the tiny checkpoint and logs.")
    reasoning_parser: str = _opt(
        "auto", "vLLM reasoning parser of the co-launched server, which streams a thinking model's reasoning apart "
                "from its answer: auto (qwen3 for a Thinking model, by its name or chat template), none, or a "
                "parser's name.")
    video_via: Literal["auto", "worker", "server"] = _opt(
        "auto", "Where video questions run: the offline worker, the server (video_url), or decided by the plan.")
    video_gpu_memory_utilization: float = _opt(0.99, "Fraction of its GPU(s) the video worker may use.")
    video_max_tokens: int = _opt(1024, "Longest video answer, in tokens.")
    cpu_kv_cache_gib: int = _opt(4, "KV-cache size of each engine on a machine without a GPU (VLLM_CPU_KVCACHE_SPACE).")
    enforce_eager: bool | None = _opt(
        None, "Skip torch.compile and graph capture in both engines. Unset: on with vLLM's CPU build (it compiles "
              "again at every start there), off on GPUs (the seed's enforce_eager=False).")
    engine_start: Literal["auto", "together", "server-first"] = _opt(
        "auto", "Order of the engines' starts: together, or the worker once the server is ready (server-first). "
                "auto: server-first without a GPU (two starts on a few cores slow each other; chat answers "
                "sooner), together on GPUs unless a shared card needs one after the other.")
    startup_timeout: float = _opt(1800.0, "Seconds an engine may take to become ready before start-up fails.")
    request_timeout: float = _opt(300.0, "Seconds a chat/image request may go without a token before it fails; "
                                          "a server silent for that long is restarted.")
    video_timeout: float = _opt(900.0, "Seconds a video job may take in the worker before it fails.")
    video_read_timeout: float = _opt(120.0, "Seconds reading and sampling one video may take before it is stopped.")
    stream_interval: float = _opt(0.04, "Shortest seconds between two updates of a streaming answer; text that "
                                        "arrives meanwhile goes out together (0: one update per token). Stretched "
                                        "up to 1 s while the app is busier than --pace-budget.")
    pace_budget: float = _opt(0.7, "Share of one CPU core the app's event loop may be busy before answers update "
                                   "less often (each update then carries more text; 0: never stretch).")
    light_stream: Literal["auto", "on", "off"] = _opt(
        "auto", "How the page's chat and image answers reach the browser after their first words: on the app's light "
                "stream (one small message per update, beside Gradio's queue: a crowd costs the app far less; the "
                "text is plain until the answer ends), as Gradio updates (off: Markdown rendered as it streams), or "
                "auto: Gradio updates while the app is within --pace-budget, the light stream for answers that "
                "start while it is busier.")
    app_processes: int = _opt(0, "App processes serving the page behind its one address, each with its own event "
                                 "loop (a visitor's session stays in one; the engines are started once and shared): "
                                 "more cores for a crowd. 0: one without a GPU or with --share, else one per 4 CPU "
                                 "cores, at most 4.")
    concurrency_limit: int = _opt(32, "Chat and image answers generated at once (vLLM batches them): always "
                                      "admitted; more up to --max-concurrency while the server and the app keep up.")
    max_concurrency: int = _opt(256, "Most chat and image answers generated at once: beyond --concurrency-limit, "
                                     "admitted while vLLM queues nothing and the app's updates are not at their "
                                     "slowest (a number at or below --concurrency-limit: a fixed limit).")
    video_concurrency: int = _opt(4, "Video jobs the worker runs at once (vLLM batches them); the page lets in twice "
                                     "as many, to read their clips meanwhile, and queues the rest.")
    # 64 turned 16 of 128 API callers and 32 of 128 Chat-tab visitors away when they arrived within half a second
    # (H200 crowd, bench/RESULTS-crowd.md): a visitor's question is two events (Send, then the answer)
    max_queue_size: int = _opt(256, "Requests that may wait in the page's queue; more are turned away.")
    max_file_size_mb: int = _opt(200, "Largest upload, in MB; larger files are refused before they are read.")
    session_capacity: int = _opt(1000, "Sessions (visitors and API callers) whose state the page keeps in memory; "
                                       "beyond that the oldest are forgotten (Gradio's state_session_capacity).")
    state_ttl: float = _opt(3600.0, "Seconds a video conversation's frames stay in memory after its last change "
                                    "(Gradio frees a closed tab's state too); the browser's own copy brings it back.")
    closed_state_ttl: float = _opt(60.0, "Seconds a closed tab's state (its conversations, a video's frames) stays "
                                         "in memory in case the tab reconnects (Gradio's own: an hour); a reload "
                                         "brings a conversation back from the browser's copy.")
    max_restarts: int = _opt(5, "Times a dead engine is restarted before the app reports an error and stops trying.")

    @classmethod
    def from_args(cls, argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Flags (``argv``) over environment variables (``env``, default ``os.environ``) over the platform's
        defaults (:func:`platform_defaults`) over the fields' defaults."""
        env = os.environ if env is None else env
        parser = build_parser()
        ns = parser.parse_args(argv)
        values: dict[str, Any] = dict(platform_defaults(env))
        for f in dataclasses.fields(cls):
            cli = getattr(ns, f.name)
            if cli is not None:
                values[f.name] = cli
                continue
            raw = env.get(env_name(f))
            if raw is not None and raw != "":
                try:
                    values[f.name] = _convert(f.name, raw)
                except (ValueError, argparse.ArgumentTypeError) as exc:
                    parser.error(f"environment variable {env_name(f)}={raw!r}: {exc}")
        settings = cls(**values)
        problems = settings.problems()
        if problems:
            parser.error("; ".join(problems))
        return settings

    def problems(self) -> list[str]:
        """Values that cannot work, as sentences (empty when all is well)."""
        out = []
        for name in ("gpu_memory_utilization", "video_gpu_memory_utilization"):
            if not 0.0 < getattr(self, name) <= 1.0:
                out.append(f"--{_flag(name)} must be in (0, 1]")
        for name in ("max_model_len", "tensor_parallel_size", "video_max_tokens", "cpu_kv_cache_gib",
                     "concurrency_limit", "video_concurrency", "max_queue_size", "max_file_size_mb",
                     "session_capacity"):
            if getattr(self, name) < 1:
                out.append(f"--{_flag(name)} must be at least 1")
        if not 0 <= self.app_processes <= 64:
            out.append("--app-processes must be between 0 (decided by the machine) and 64")
        if self.share and self.app_processes > 1:  # the gradio.live tunnel is one launched page's
            out.append("--share opens its link to one app process: leave --app-processes at 0 or set it to 1")
        if self.video_max_tokens >= self.max_model_len:
            out.append("--video-max-tokens must be smaller than --max-model-len")
        if not self.state_ttl > 0:
            out.append("--state-ttl must be more than 0 seconds")
        if not 0.0 <= self.stream_interval <= 1.0:
            out.append("--stream-interval must be between 0 and 1 second")
        if self.closed_state_ttl < 0:
            out.append("--closed-state-ttl must be 0 or more seconds")
        if not 0.0 <= self.pace_budget <= 1.0:
            out.append("--pace-budget must be between 0 and 1 (a share of one core)")
        for name in ("port", "app_port"):
            if not 0 <= getattr(self, name) <= 65535:
                out.append(f"--{_flag(name)} must be a port number (0 picks a free one)")
        return out

    def describe(self) -> str:
        """Every setting on its own line, the API key hidden; printed at start."""
        lines = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key" and value:
                value = "(set)"
            lines.append(f"  {f.name:30} {value}")
        return "Settings:\n" + "\n".join(lines)


def markdown_table() -> str:
    """docs/settings.md's table of settings, generated from the fields (a test keeps the page in step)."""
    rows = ["| flag | environment variable | default | what |", "|---|---|---|---|"]
    for f in dataclasses.fields(Settings):
        default = {"cache_dir": "~/.cache/qwen3-vl-demo", "enforce_eager": "auto"}.get(f.name, f.default)
        rows.append(f"| `--{_flag(f.name)}` | `{env_name(f)}` | `{default}` | {f.metadata['help']} |")
    return "\n".join(rows)


def _flag(name: str) -> str:
    return name.replace("_", "-")


def env_name(f: dataclasses.Field) -> str:
    return f.metadata.get("env") or ENV_PREFIX + f.name.upper()


def _bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {raw!r}")


def _field_type(name: str) -> Any:
    return get_type_hints(Settings)[name]


def _convert(name: str, raw: str) -> Any:
    tp = _field_type(name)
    if get_origin(tp) is Literal:
        if raw not in get_args(tp):
            raise ValueError(f"expected one of {', '.join(get_args(tp))}")
        return raw
    converters: dict[Any, Callable[[str], Any]] = {bool: _bool, int: int, float: float}
    return converters.get(_base(tp), str)(raw)


def _base(tp: Any) -> Any:
    """``bool`` for ``bool | None`` and so on: the type a value is converted to."""
    return [a for a in get_args(tp) if a is not type(None)][0] if get_args(tp) else tp


def build_parser() -> argparse.ArgumentParser:
    """An argparse parser with one flag per field; defaults are None so the environment can fill in."""
    parser = argparse.ArgumentParser(
        prog="app.py", description="Qwen3-VL demo: Gradio page + vLLM server + video worker.")
    for f in dataclasses.fields(Settings):
        tp = _field_type(f.name)
        help_text = f"{f.metadata['help']} [env {env_name(f)}; default {f.default}]"
        flag = "--" + _flag(f.name)
        if _base(tp) is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        elif get_origin(tp) is Literal:
            parser.add_argument(flag, dest=f.name, choices=get_args(tp), default=None, help=help_text)
        else:
            # a cast: mypy infers no type for a lambda of two parameters where argparse's takes one
            convert = cast("Callable[[str], Any]", lambda raw, n=f.name: _convert(n, raw))
            parser.add_argument(flag, dest=f.name, type=convert, default=None, help=help_text)
    parser.set_defaults(**{f.name: None for f in dataclasses.fields(Settings)})
    return parser
