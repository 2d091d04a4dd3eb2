"""Memory the app has freed goes back to the system.

Python frees a large request's objects (a 32 MB conversation document parsed into 34 MB of strings) as soon as it
is done, but glibc's allocator keeps the freed pages in its arenas (one per thread that allocated: Gradio's
worker threads each have their own) for the next allocation. So the app's resident memory stays at the high
water mark of its busiest moment: 4 callers at once with 32 MB documents left it at 972 MB from 250 MB, the same
after 20, 40 and 60 of them; ``malloc_trim(0)`` brought it to 417 MB (measured in-process, issue 26). A thread
asks glibc to give such pages back every ``INTERVAL_S``, which costs milliseconds; elsewhere (musl, macOS) it
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import threading
import time

INTERVAL_S = 30.0

_started = threading.Lock()
_thread: threading.Thread | None = None


@functools.cache
def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def exempt_from_collection() -> int:
    """Every object alive now (the imports, the page's components, the engines' handles) is left out of the
    garbage collector's full passes; how many. A full pass walks every tracked object: 240,000 after the app's
    imports alone, 0.1 s on a 2-core machine, and more once the page is built. Under a crowd each such pass stops
    the event loop, and with it every answer's stream: a 270 ms stop at 64 visitors on an H100 was most likely one
    (py-spy, bench/RESULTS-crowd.md; not shown apart). What is built once and kept for the app's life never
    becomes garbage, so walking it finds nothing (``gc.freeze``)."""
    gc.collect()  # what is garbage already goes now, not frozen for good
    gc.freeze()
    return gc.get_freeze_count()


def give_back_freed_memory() -> bool:
    """Return the allocator's free pages to the system now; False where the allocator cannot (not glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)  # a ctypes call: the GIL is released while glibc walks its arenas
    return True


def keep_giving_back(interval_s: float = INTERVAL_S) -> None:
    """Start, once per process, a daemon thread that gives freed memory back every ``interval_s`` seconds."""
    global _thread
    with _started:
        if _thread is not None or _malloc_trim() is None:
            return

        def loop():
            while True:
                time.sleep(interval_s)
                give_back_freed_memory()

        _thread = threading.Thread(target=loop, name="heap-trim", daemon=True)
        _thread.start()
