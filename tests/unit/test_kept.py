"""demo/ui/kept.py: what the browser keeps (within its share), and the app's folder of imported images pruned."""

from __future__ import annotations

import os
import time

from demo.inputs import conversation_file
from demo.inputs.conversation import assistant_turn, user_turn
from demo.ui import kept


def test_the_folder_is_private_and_old_imports_are_pruned_whole(monkeypatch):
    assert kept.FILES_DIR.stat().st_mode & 0o077 == 0
    monkeypatch.setattr(kept, "_pruned_at", 0.0)
    old = kept.new_folder()
    deep = old / "imported-x" / "01"
    deep.mkdir(parents=True)
    (deep / "cat.jpg").write_bytes(b"x")
    past = time.time() - kept.KEEP_S - 60
    os.utime(old, (past, past))
    soon = kept.new_folder()  # pruned a moment ago: not again so soon
    assert old.exists()
    monkeypatch.setattr(kept, "_pruned_at", time.monotonic() - kept.PRUNE_EVERY_S)
    fresh = kept.new_folder()  # a minute later, a new folder prunes the old ones
    assert not old.exists() and fresh.is_dir() and soon.is_dir()


def test_a_conversation_over_the_tabs_share_is_not_kept_and_the_page_says_so():
    small = conversation_file.export("chat", [user_turn("hi"), assistant_turn("hello")], model="m")
    assert kept.to_keep(small, "chat") == (small, None)
    big = conversation_file.export("chat", [user_turn("x" * kept.BROWSER_BYTES["chat"])], model="m")
    # the older copy is forgotten too; the note in the page's language (English outside a page's request)
    assert kept.to_keep(big, "chat") == (kept.EMPTY, kept.TEXTS["kept.too_large"][0])
    assert kept.to_keep(None, "chat") == (kept.EMPTY, None)
    # the shares, stored encrypted in base64 (x4/3), fit the 5 million characters of a site's localStorage
    assert sum(kept.BROWSER_BYTES.values()) * 4 / 3 < 5_000_000


def test_what_the_browser_sends_back_goes_through_the_gate():
    assert kept.restore(None, "chat") == (None, None) and kept.restore(kept.EMPTY, "chat") == (None, None)
    loaded, problem = kept.restore({"format": "something else"}, "chat")
    assert loaded is None and problem  # a sentence, never an error page
    doc = conversation_file.export("chat", [user_turn("hi"), assistant_turn("hello")], model="m")
    loaded, problem = kept.restore(doc, "chat")
    assert problem is None and loaded.history == [user_turn("hi"), assistant_turn("hello")]
    assert kept.restore(doc, "image") == (None, None)  # another tab's document is not this tab's
