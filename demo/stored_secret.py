"""Secrets kept between runs in the app's cache folder (the co-launched server's API key, the browser-state key):
shared by the engines and the page, so it belongs to neither."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def stored_secret(cache_dir: str | os.PathLike, name: str) -> str:
    """48 random hex digits, made once and kept as ``cache_dir/name`` (mode 0600); a new one if the file is not
    such a secret, and one for this run only where the folder cannot be written."""
    path = Path(os.path.expanduser(str(cache_dir))) / name
    try:
        key = path.read_text().strip()
        if len(key) == 48 and all(c in "0123456789abcdef" for c in key) and (path.stat().st_mode & 0o077) == 0:
            return key
    except OSError:
        pass
    key = secrets.token_hex(24)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        os.replace(tmp, path)  # two apps starting at once: each file is whole, the last one wins
        return path.read_text().strip()
    except OSError:
        return key  # a read-only home: a key for this run only
