"""Ring detection as a job on a store: one process at a time, remembered in the store.

Whoever detects rings (``graphfraud rings``, the web pages' first visit and their *detect* button, the
server's background refresher) goes through :func:`run_ring_detection`: it holds the store's detection
lock (a file lock beside an embedded store's file, in the temporary folder for a Neo4j store), detects
and syncs the registry (:func:`~graphfraud.rings.detect_rings`, :func:`~graphfraud.rings.sync_rings`) and
records when, and up to which sequence number, in the store's meta, so that :func:`refresh_rings` skips a
store that has not changed since and :func:`ensure_rings` detects only when no one has yet.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .output import open_private
from .progress import phase
from .storage import is_store_file

if TYPE_CHECKING:
    from .rings import Ring

log = logging.getLogger("graphfraud.webui")  # the name the server's log lines have always had

#: Meta keys: when rings were last detected (epoch ms) and the store's sequence number then.
DETECTED_AT, DETECTED_SEQ = "ui_rings_detected", "rings_detected_seq"


def lock_path(location: str) -> str:
    """The detection lock's file for the store at ``location``: beside an embedded store's file (it goes
    with the store), else (a Neo4j store) one per location in the temporary folder."""
    if is_store_file(location):
        return location + ".rings.lock"
    return os.path.join(tempfile.gettempdir(), "graphfraud-rings-" + hashlib.sha256(location.encode()).hexdigest()[:16]
                        + ".lock")


@contextmanager
def detection_lock(st: Any, wait: float = 0.0) -> Iterator[bool]:
    """Hold the store's ring-detection lock (one process detects at a time); yields ``False`` when another
    process still held it after ``wait`` seconds (``math.inf``: wait until it is free)."""
    deadline = time.monotonic() + wait
    with open_private(lock_path(str(getattr(st, "location", ""))), "a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.25)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def detect_and_record(st: Any, min_size: int | None = None) -> list[Ring]:
    """Detect rings, sync the registry and record the detection; the caller holds :func:`detection_lock`."""
    from .rings import detect_rings, sync_rings  # pandas and scipy: loaded when rings are first detected

    t = time.perf_counter()
    seq = st.last_seq()  # what the detection covers at least
    detected = detect_rings(st, min_size=min_size)
    with phase("updating the ring registry"):
        found = sync_rings(st, detected)
    st.set_meta(DETECTED_AT, str(int(time.time() * 1000)))
    st.set_meta(DETECTED_SEQ, str(seq))
    log.info("ring detection: %d rings in %.1f s", len(found), time.perf_counter() - t)
    return found


def run_ring_detection(st: Any, min_size: int | None = None, wait: float = float("inf")) -> list[Ring]:
    """Detect rings now, once any detection another process is running has finished (after ``wait``
    seconds, detect anyway, as a caller that asked explicitly expects); the rings, best first."""
    with detection_lock(st, wait):
        return detect_and_record(st, min_size)


def ensure_rings(st: Any, wait: float = 0.0) -> bool:
    """Detect rings once when the registry is empty (one process at a time); ``True`` when it has rings.

    ``wait`` is how long to wait for a detection another process is running.
    """
    if st.list_rings(None, 1):
        return True
    if st.get_meta(DETECTED_AT):
        return False
    with detection_lock(st, wait) as held:
        if not held or st.list_rings(None, 1) or st.get_meta(DETECTED_AT):
            return bool(st.list_rings(None, 1))
        if not st.info().get("transactions"):
            return False
        detect_and_record(st)
        return bool(st.list_rings(None, 1))


def ensure_rings_at(location: str | None) -> None:
    """:func:`ensure_rings` on the store at ``location`` (opened and closed here); a failure is logged, not
    raised: the pages still work, and ``/rings`` and the server's refresher try again."""
    from .storage import open_store

    try:
        st = open_store(location)
        try:
            ensure_rings(st)
        finally:
            st.close()
    except Exception:
        log.exception("automatic ring detection failed")


def refresh_rings(st: Any, min_age: float) -> bool:
    """Detect rings again when the store changed since the last detection and that one is at least
    ``min_age`` seconds old; one process at a time (others skip). ``True`` when it ran."""
    last = float(st.get_meta(DETECTED_AT) or 0) / 1000
    if time.time() - last < min_age or str(st.last_seq()) == (st.get_meta(DETECTED_SEQ) or ""):
        return False
    with detection_lock(st) as held:
        if not held:
            return False  # another process is detecting
        detect_and_record(st)
        return True


__all__ = ["detection_lock", "lock_path", "run_ring_detection", "ensure_rings", "ensure_rings_at", "refresh_rings",
           "detect_and_record"]
