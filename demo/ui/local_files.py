"""Components that refuse remote files.

Gradio lets any caller put an ``http(s)`` URL where a file is expected (``{"path": "https://..."}`` in a raw
request, or ``handle_file(url)`` in ``gradio_client``) and downloads it on the server before the handler runs:
private addresses are refused by Gradio's own check, public ones are not, and ``max_file_size`` bounds uploads
only. So a visitor could make the Space fetch a file of any size from anywhere. Gradio looks for such file objects
(``{"path": ..., "meta": {"_type": "gradio.FileData"}}``) in every value it receives, at any depth, not only in
file inputs: a ``gr.JSON`` history or a ``gr.BrowserState`` copy can hide one under any key (issue 26). So every
component of the page goes through :func:`local_only` (:func:`local_only_everywhere`, once, in ``build_demo``),
which refuses such a URL with a sentence before anything is fetched (docs/SECURITY.md).
"""

from __future__ import annotations

import types

import gradio as gr
from gradio_client import utils as client_utils

from .common import error


def local_only(component):
    """``component`` (a Gradio file input) with URLs refused; uploads and local files are kept as they are.

    Gradio passes every input file through the component's ``async_move_resource_to_block_cache`` (blocks.py,
    via processing_utils.async_move_files_to_cache), which is where it would download a URL. The check is set
    on the instance, not in a subclass: Gradio's component metaclass writes a ``.pyi`` stub beside the module of
    every subclass, at import time, into the source tree. The one limit of an instance: an update of such a
    component's properties (``gr.update(interactive=...)``) makes Gradio build a fresh one for that session
    from the class (blocks.py, postprocess), without the check; the app only ever sets their values.
    """
    move = component.async_move_resource_to_block_cache

    async def refusing_urls(self, url_or_file_path):
        if url_or_file_path is not None and client_utils.is_http_url_like(str(url_or_file_path)):
            raise error("remote_file")
        return await move(url_or_file_path)

    component.async_move_resource_to_block_cache = types.MethodType(refusing_urls, component)
    return component


def local_only_everywhere(demo: gr.Blocks) -> None:
    """Every component of ``demo`` refuses remote files, whatever its kind: one place for every input and output."""
    for block in demo.blocks.values():
        if isinstance(block, gr.components.Component):
            local_only(block)
