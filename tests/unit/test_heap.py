"""Freed memory goes back to the system (demo/heap.py), measured on this process's own resident size."""

from __future__ import annotations

import gc
import threading

import psutil

from demo.heap import exempt_from_collection, give_back_freed_memory, keep_giving_back


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def test_memory_freed_by_python_is_given_back():
    """Many 100 KB strings (as a parsed conversation document is), made in threads of their own as Gradio's
    workers make them, between small objects that stay (as a server's do): freed, their pages stay resident
    until the trim."""
    give_back_freed_memory()
    before = rss_mb()
    held, survivors = [], []

    def allocate():
        for i in range(1500):  # 150 MB in 100 KB strings, each followed by a small object that stays
            held.append("x" * 100_000 + str(i))
            survivors.append(b"s" * 600 + str(i).encode())  # beyond Python's small-object allocator: malloc's

    workers = [threading.Thread(target=allocate) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    held.clear()
    gc.collect()
    kept = rss_mb() - before
    assert give_back_freed_memory() is True  # glibc here (Debian)
    after = rss_mb() - before
    # A good part of the 150 MB freed stays resident (CI saw 94.6 and 121.6 MB; a fixed 100 MB floor failed once),
    # and the trim gives back half of it (a fixed 60 MB bound failed at 60.2 of 121.6); without the trim nearly all
    # of it stays.
    assert kept > 40 and after < kept / 2, (kept, after)


def test_the_trimming_thread_starts_once():
    keep_giving_back()
    keep_giving_back()
    assert sum(t.name == "heap-trim" for t in threading.enumerate()) == 1


def test_what_lives_at_start_up_is_left_out_of_full_collections():
    """After the page is built, a full collection walks only what came after: how long it takes follows the
    objects made since, not the hundreds of thousands of the imports (a collection stops every stream)."""
    kept = [[i] for i in range(200_000)]  # like the page's components and the imports: alive for good
    gc.collect()
    walked_before = len(gc.get_objects(generation=2))
    assert exempt_from_collection() >= len(kept)
    assert len(gc.get_objects(generation=2)) < walked_before - len(kept)
    gc.unfreeze()  # the other tests' objects are theirs
