"""The cyclic garbage collector and the millions of long-lived objects a graph engine is made of.

Loading a history or replaying it builds millions of objects (transactions, sets, lists) that live until
the process ends. Python's cyclic collector walks every tracked object on its full collections, which come
more often the more objects are created: on the 1,000,000-transaction history, reading it took 8.6 s with
the collector on and 5.1 s with it off (same run). Reference counting still frees everything that is not
in a cycle; the objects built inside :func:`long_lived` are then frozen, so later collections skip them.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived() -> Iterator[None]:
    """Pause the cyclic collector while building long-lived objects, then freeze what was built.

    Garbage cycles made inside the block are not collected (frozen with the rest); the code run inside
    makes none worth counting (no exceptions kept, no self-referencing records).

    >>> with long_lived():
    ...     kept = [[i] for i in range(1000)]
    >>> gc.isenabled()
    True
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def give_back() -> None:
    """Return the memory of objects just dropped to the system: collect every generation (frozen objects
    included, so a dropped engine built inside :func:`long_lived` goes too), then ask the C allocator to
    release its free pages (glibc's ``malloc_trim``; a no-op elsewhere).

    Measured after a replay of 986,031 transactions: the allocator kept 110 MB of 1,035 MB free but
    mapped until asked.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()  # what is left is long-lived again
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _malloc_trim() -> "ctypes._NamedFuncPointer | None":
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim")  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None
