"""A tab's conversation kept in the visitor's browser, downloaded as a file, and loaded back.

The three are one document (:mod:`demo.inputs.conversation_file`): the turns with the images the model saw (and a
video's sampled frames) inside. The browser keeps it in ``localStorage`` (``gr.BrowserState``), so a reload or a
come-back finds the conversation and the server keeps nothing per visitor; "New conversation" clears it. Whatever
comes back from a browser or a file goes through the document's one gate (``conversation_file.load``), which
validates every field and writes images only into a folder of its own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ..errors import UserFacingError
from ..inputs import conversation_file
from ..inputs.conversation import UPLOAD_HOURS
from .texts import say, t, texts

# Imported images and downloadable files: a private folder of this app process (0700, a random name, so no other
# local user can read it or make it first), pruned as Gradio prunes uploads (a conversation re-reads its images)
# and removed when the app exits.
FILES_DIR = Path(tempfile.mkdtemp(prefix="qwen3-vl-demo-conversations-"))
atexit.register(shutil.rmtree, FILES_DIR, True)
KEEP_S = UPLOAD_HOURS * 3600
# localStorage holds about 5 million characters per site (Chrome, Firefox), shared by the three tabs, and Gradio
# stores the document AES-encrypted in base64 (x4/3); a write over the quota fails silently in the browser and
# leaves the older value. So each tab has a share of about 3.5 MB in all, and a conversation larger than its share
# is not kept there (the page says so, and it can still be downloaded).
BROWSER_BYTES = {"chat": 500_000, "image": 1_100_000, "video": 1_000_000}
IMPORT_MAX_BYTES = 64 * 1024 * 1024
STORAGE_KEY = "qwen3-vl-demo-{tab}"
# What "nothing kept" is stored as: Gradio's BrowserState writes only a truthy value (a None leaves the old one in
# localStorage, gradio/templates/frontend/assets/Index-*.js), and restore() reads an empty document as none.
EMPTY: dict = {}
TEXTS = texts({
    "kept.too_large": ("This conversation is too large to keep in your browser; it stays on this page until you "
                       "reload. Use Download to keep it.",
                       "这段对话太大，无法保存在浏览器里；在重新加载页面之前它会一直留在页面上。请用“下载对话”保存它。"),
    "kept.download": ("Download conversation", "下载对话"),
    "kept.load": ("Load conversation", "加载对话"),
})


@dataclass(frozen=True)
class OnLoad:
    """A tab's page-load step (restoring what the browser kept): page.py registers it with ``demo.load``."""

    fn: Callable
    inputs: list
    outputs: list


def conversation_files_row(prefix: str):
    """Download and Load buttons for a tab's conversation, and the line where the page says what it kept."""
    with gr.Row():
        download = gr.DownloadButton(t("kept.download"), value=None, interactive=False, size="sm",
                                     elem_id=f"{prefix}-download")
        upload = gr.UploadButton(t("kept.load"), file_types=[".json"], type="filepath", size="sm",
                                 elem_id=f"{prefix}-load")
    note = gr.Markdown(elem_id=f"{prefix}-kept-note")
    return download, upload, note


def _prune(folder: Path) -> None:
    now = time.time()
    for old in folder.iterdir() if folder.is_dir() else ():
        try:
            if now - old.stat().st_mtime > KEEP_S:
                shutil.rmtree(old, ignore_errors=True)  # an import's images sit folders deep
        except OSError:  # another request pruned it first
            pass


PRUNE_EVERY_S = 60.0  # a look at every folder (a stat each) per download was O(visitors) each: 5 % of the app's CPU
_pruned_at = 0.0  # with 256 visitors of the Chat tab (py-spy, issue 30); once a minute is as good for hour-old files


def new_folder() -> Path:
    """A fresh folder for one import's images or one download (older ones pruned, at most once a minute)."""
    global _pruned_at
    if time.monotonic() - _pruned_at >= PRUNE_EVERY_S:
        _pruned_at = time.monotonic()
        _prune(FILES_DIR)
    folder = FILES_DIR / uuid.uuid4().hex
    folder.mkdir(mode=0o700)
    return folder


def browser_state(tab: str, secret: str) -> gr.BrowserState:
    """The tab's slot in ``localStorage``. The secret is stable per cache folder, so a restarted app still reads
    what it stored (it is in the page's config, so it only keeps other sites' scripts from reading it)."""
    return gr.BrowserState(None, storage_key=STORAGE_KEY.format(tab=tab), secret=secret)


def to_keep(doc: dict | None, tab: str) -> tuple[dict | None, str | None]:
    """(what the browser keeps, a note): the document, or nothing and a note when it is over the tab's share (the
    browser then forgets the older conversation it kept, rather than bring it back at the next visit)."""
    if doc is None:
        return EMPTY, None
    if len(conversation_file.dumps(doc)) > BROWSER_BYTES[tab]:
        return EMPTY, say("kept.too_large")
    return doc, None


def open_document(raw) -> conversation_file.Loaded:
    """A document from outside through the gate, its images into a fresh folder of ours. The disk's failures
    (a full disk, a name the file system refuses) are a sentence too, without the server's paths (issue 26)."""
    try:
        return conversation_file.load(raw, folder=new_folder(), max_bytes=IMPORT_MAX_BYTES)
    except OSError as exc:
        raise conversation_file.ConversationFileError(
            "import_not_stored", reason=exc.strerror or type(exc).__name__) from None


def restore(kept, tab: str):
    """The conversation the browser kept for ``tab`` (a :class:`conversation_file.Loaded`), or None. A document
    that fails the gate (another version, edited by hand) is dropped with a sentence, never an error page."""
    if not kept:
        return None, None
    try:
        loaded = open_document(kept)
    except UserFacingError as exc:
        return None, str(exc)
    if loaded.tab != tab:
        return None, None
    return loaded, None


def import_file(path: str | None, tab: str):
    """A downloaded conversation loaded back (any tab's file into this tab: its text and images)."""
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            raw = f.read(IMPORT_MAX_BYTES + 1)
    except OSError as exc:
        raise conversation_file.ConversationFileError("import_unreadable") from exc
    return open_document(raw)


def download_file(doc: dict | None, tab: str) -> str | None:
    """The document as a file to download, named for the tab and the time."""
    if doc is None:
        return None
    folder = new_folder()
    path = folder / conversation_file.filename(tab)
    path.write_bytes(conversation_file.dumps(doc))
    os.chmod(path, 0o600)
    return str(path)
