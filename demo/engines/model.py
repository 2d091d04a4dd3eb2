"""Where the model comes from: a local folder, ModelScope (the seed's default), the Hugging Face hub, or one of the
tiny random-weight checkpoints built offline: ``tiny`` (Qwen3-VL), ``tiny-thinking`` (its Thinking edition),
``tiny-qwen3.5`` (Qwen3.5's hybrid architecture, thinking on request).

A download that fails ends the start with one paragraph that names the source, the error, and how to point
the app at a local copy instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..settings import Settings

REQUIRED_FILES = ("config.json",)
TINY_QWEN35 = "tiny-qwen3.5"  # built by demo/engines/tiny_qwen35.py (imported only when used: it needs torch)
TINY_MODELS = ("tiny", "tiny-thinking", TINY_QWEN35)


class ModelSourceError(RuntimeError):
    """The model could not be found or fetched; the message tells the user what to do."""


def check_model_dir(path: Path) -> None:
    """Fail with a sentence when ``path`` is not a usable checkpoint folder."""
    if not path.is_dir():
        raise ModelSourceError(f"The model folder {path} does not exist.")
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if not any(path.glob("*.safetensors")):
        missing.append("*.safetensors")
    if missing:
        raise ModelSourceError(
            f"The model folder {path} is incomplete: {', '.join(missing)} missing. "
            "Download it again, or pass --model with a complete copy.")


def _download_hint(settings: Settings) -> str:
    return (f"To use a copy you already have, pass --model /path/to/Qwen3-VL-4B-Instruct "
            f"(env QWEN_DEMO_MODEL); to try the other hub, pass --model-source "
            f"{'huggingface' if settings.model_source == 'modelscope' else 'modelscope'}; "
            "to try the app without weights, pass --model tiny.")


def download(settings: Settings) -> Path:
    """Fetch ``settings.model`` from the configured hub into ``settings.cache_dir``."""
    cache = os.path.join(os.path.expanduser(settings.cache_dir), "models")
    try:
        if settings.model_source == "modelscope":
            from modelscope import snapshot_download

            path = snapshot_download(settings.model, cache_dir=cache)
        else:
            from huggingface_hub import snapshot_download

            path = snapshot_download(settings.model, cache_dir=cache)
    except Exception as exc:  # any failure of the hub client: network, auth, missing repo
        raise ModelSourceError(
            f"Could not download {settings.model} from {settings.model_source}: "
            f"{type(exc).__name__}: {exc}. {_download_hint(settings)}") from exc
    return Path(path)


def resolve_model(settings: Settings) -> Path:
    """A local checkpoint folder for ``settings.model``, downloading or building it when needed."""
    if settings.model in ("tiny", "tiny-thinking"):
        from .tiny_checkpoint import ensure_tiny_checkpoint

        return ensure_tiny_checkpoint(settings.cache_dir, thinking=settings.model == "tiny-thinking")
    if settings.model == TINY_QWEN35:
        from .tiny_qwen35 import ensure_tiny_qwen35

        return ensure_tiny_qwen35(settings.cache_dir)
    local = Path(settings.model).expanduser()
    looks_local = local.is_absolute() or settings.model.startswith(".") or local.exists()
    path = local if looks_local else download(settings)
    check_model_dir(path)
    return path
