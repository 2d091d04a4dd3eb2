"""Conversations as ``{"role", "content"}`` items, and the two views of them: OpenAI messages and the chat box.

A turn's content is a string, or a list of parts ``{"type": "text", "text": ...}`` and
``{"type": "image", "path": ...}``. :func:`to_openai` is the one place where a conversation becomes what the
server receives (images read, upright, downscaled, as data URLs: cached per file, since every turn resends
the conversation); :func:`to_chatbot` is what the page shows. No Gradio import: the shapes are plain dicts.
"""

from __future__ import annotations

import functools
import os

from .images import image_part


def user_turn(text: str, image_paths: list[str] | tuple[str, ...] = ()) -> dict:
    if not image_paths:
        return {"role": "user", "content": text}
    parts = [{"type": "image", "path": p} for p in image_paths]
    return {"role": "user", "content": parts + [{"type": "text", "text": text}]}


def assistant_turn(text: str) -> dict:
    return {"role": "assistant", "content": text}


def turn_text(turn: dict) -> str:
    content = turn["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def turn_images(turn: dict) -> list[str]:
    content = turn["content"]
    return [] if isinstance(content, str) else [p["path"] for p in content if p.get("type") == "image"]


@functools.lru_cache(maxsize=64)
def _cached_image_part(path: str, mtime: float) -> dict:
    return image_part(path)


def _image_part(path: str) -> dict:
    return _cached_image_part(path, os.path.getmtime(path))


def to_openai(history: list[dict], system_prompt: str = "") -> list[dict]:
    """OpenAI chat messages for a conversation (a blank system prompt is left out)."""
    messages: list[dict] = []
    if system_prompt and system_prompt.strip():
        messages.append({"role": "system", "content": system_prompt.strip()})
    for turn in history:
        images = turn_images(turn)
        text = turn_text(turn)
        if turn["role"] == "user" and images:
            messages.append({"role": "user", "content": [_image_part(p) for p in images]
                             + [{"type": "text", "text": text}]})
        else:
            messages.append({"role": turn["role"], "content": text})
    return messages


def to_chatbot(history: list[dict]) -> list[dict]:
    """Messages for ``gr.Chatbot``: images as file entries, then the text."""
    out = []
    for turn in history:
        images = turn_images(turn)
        if images:
            out.append({"role": turn["role"], "content": [{"path": p} for p in images] + [turn_text(turn)]})
        else:
            out.append({"role": turn["role"], "content": turn_text(turn)})
    return out
