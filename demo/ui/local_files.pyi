"""The page's file components, refusing remote files.

Gradio lets any caller put an ``http(s)`` URL where a file is expected (``{"path": "https://..."}`` in a raw
request, or ``handle_file(url)`` in ``gradio_client``) and downloads it on the server before the handler runs:
private addresses are refused by Gradio's own check, public ones are not, and ``max_file_size`` bounds uploads
only. So a visitor could make the Space fetch a file of any size from anywhere. Every file input of this app
is one of the classes below, which refuse such a URL with a sentence before anything is fetched
(docs/SECURITY.md). The class names are Gradio's own, so the page uses Gradio's own front-end components.
"""

from __future__ import annotations

import gradio as gr
from gradio_client import utils as client_utils

from ..errors import MESSAGES


class LocalFilesOnly:
    """Mixin for a Gradio component: a file given as a URL is refused, uploads and local files are kept.

    Gradio passes every input file through the component's ``async_move_resource_to_block_cache`` (blocks.py;
    processing_utils.async_move_files_to_cache), which is where it would download a URL.
    """

    async def async_move_resource_to_block_cache(self, url_or_file_path):
        if url_or_file_path is not None and client_utils.is_http_url_like(str(url_or_file_path)):
            raise gr.Error(MESSAGES["remote_file"], print_exception=False)
        return await super().async_move_resource_to_block_cache(url_or_file_path)  # type: ignore[misc]

from gradio.events import Dependency

class Video(LocalFilesOnly, gr.Video):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class File(LocalFilesOnly, gr.File):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class Gallery(LocalFilesOnly, gr.Gallery):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


class Chatbot(LocalFilesOnly, gr.Chatbot):
    pass
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component