"""Process-group helpers: every engine runs in its own group so that stopping it stops all of its children.

vLLM's API server and ``vllm.LLM`` start EngineCore and worker processes of their own. Signalling only the
process we started would orphan those (shared/TESTBED.md), so we signal the whole group and wait until the
group is empty.
"""

from __future__ import annotations

import os
import signal
import time


def group_alive(pgid: int) -> bool:
    """True while any process of the group exists (zombies of our own children count until reaped)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal still exists
        return True
    return True


def stop_group(pgid: int, reap=None, grace: float = 15.0) -> None:
    """SIGTERM the group, wait up to ``grace`` seconds, then SIGKILL it; ``reap`` collects our own child."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if reap is not None:
                reap()
            if not group_alive(pgid):
                return
            time.sleep(0.1)


def tail(path: str | os.PathLike, lines: int = 20, max_bytes: int = 64 * 1024) -> list[str]:
    """The last ``lines`` non-empty lines of a log file (empty when it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    # Progress bars rewrite lines with carriage returns: keep what a terminal would show last.
    out = [ln.rsplit("\r", 1)[-1].rstrip() for ln in data.splitlines()]
    return [ln for ln in out if ln.strip()][-lines:]
