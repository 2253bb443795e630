"""Ring detection as a job on a store: one process at a time, remembered in the store.

Whoever detects rings (``graphfraud rings``, the web pages' first visit and their *detect* button, the
server's background refresher) goes through :func:`run_ring_detection`: it holds the store's detection
lock (a file lock beside an embedded store's file, in the temporary folder for a Neo4j store), detects
and syncs the registry (:func:`~graphfraud.rings.detect_rings`, :func:`~graphfraud.rings.plan_registry`) and
records when, and up to which sequence number, in the store's meta, so that :func:`refresh_rings` skips a
store that has not changed since and :func:`ensure_rings` detects only when no one has yet.

The server's refresher detects with ``idle=True`` (:func:`detect_when_idle`): the detection, seconds of CPU
that only read the store, runs in a thread that gets a core only when no request wants it; the writes (the
link fold before it, the registry after it) stay at the refresher's own priority, so the writers' lock is
never held by a thread that cannot run.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .output import open_private
from .progress import phase
from .storage import is_store_file, open_store

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


def lowest_priority() -> None:
    """Make the calling thread run only when no other thread of the machine wants the CPU (Linux's
    ``SCHED_IDLE``; elsewhere, niceness 19). A thread at niceness 10 still takes a share of a core from the
    API workers on a 2-core machine (docs/scale.md, "Serving").
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: the calling thread
    except (AttributeError, OSError):  # not Linux
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except OSError:  # pragma: no cover - not allowed here
            pass


def detect_when_idle(st: Any, min_size: int | None = None) -> tuple[list[Ring], tuple[list[Any], list[Any]]]:
    """:func:`~graphfraud.rings.detect_rings` and :func:`~graphfraud.rings.plan_registry` in a thread at
    :func:`lowest_priority`, reading through a read-only handle of an embedded store: the rings and what to
    save. The links are folded first, here, at the caller's priority."""
    # the link fold is a write, and opening a store queues on the writers' lock: both here, never in the idle
    # thread, which could be preempted holding the lock every score waits for
    st.refresh_links()
    location = str(getattr(st, "location", ""))
    reader = open_store(location, read_only=True) if is_store_file(location) else st
    out: dict[str, Any] = {}

    def run() -> None:
        lowest_priority()
        try:
            from .rings import detect_rings, plan_registry  # pandas and scipy: seconds of CPU, imported here

            rings = detect_rings(reader, min_size=min_size)
            out["done"] = rings, plan_registry(reader, rings)
        except BaseException as e:  # raised again in the caller's thread
            out["error"] = e
        finally:
            if reader is not st:
                reader.close()  # this thread's connection

    worker = threading.Thread(target=run, name="graphfraud-ring-detection")
    worker.start()
    worker.join()
    if reader is not st:
        reader.close()
    if "error" in out:
        raise out["error"]
    return out["done"]  # type: ignore[no-any-return]


def detect_and_record(st: Any, min_size: int | None = None, idle: bool = False) -> list[Ring]:
    """Detect rings, sync the registry and record the detection; the caller holds :func:`detection_lock`.
    ``idle``: detect and plan through :func:`detect_when_idle`, then save here."""
    t = time.perf_counter()
    seq = st.last_seq()  # what the detection covers at least
    if idle:
        found, planned = detect_when_idle(st, min_size)
    else:
        from .rings import detect_rings, plan_registry  # pandas and scipy: loaded when rings are first detected

        found = detect_rings(st, min_size=min_size)
        planned = plan_registry(st, found)
    saving = time.perf_counter()
    with phase("updating the ring registry"):
        st.save_rings(*planned)
    st.set_meta(DETECTED_AT, str(int(time.time() * 1000)))
    st.set_meta(DETECTED_SEQ, str(seq))
    done = time.perf_counter()
    log.info("ring detection: %d rings in %.1f s (registry saved in %.2f s)", len(found), done - t, done - saving)
    return found


def run_ring_detection(st: Any, min_size: int | None = None, wait: float = float("inf"), idle: bool = False
                       ) -> list[Ring]:
    """Detect rings now, once any detection another process is running has finished (after ``wait``
    seconds, detect anyway, as a caller that asked explicitly expects); the rings, best first. ``idle`` as
    in :func:`detect_and_record`."""
    with detection_lock(st, wait):
        return detect_and_record(st, min_size, idle)


def ensure_rings(st: Any, wait: float = 0.0, idle: bool = False) -> bool:
    """Detect rings once when the registry is empty (one process at a time); ``True`` when it has rings.

    ``wait`` is how long to wait for a detection another process is running; ``idle`` as in
    :func:`detect_and_record`.
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
        detect_and_record(st, idle=idle)
        return bool(st.list_rings(None, 1))


def open_beside_server(location: str | None) -> Any:
    """The store at ``location``, opened to detect rings beside a server's workers: its write-ahead log is
    copied into the store by a thread of its own (:meth:`checkpoint_in_background`, as in the workers),
    never by its commits. SQLite copies it in the commit that finds it past 1,000 pages, holding the
    writers' lock every score waits for: at 300 scores/s the log grows by thousands of pages a second,
    so nearly every registry write did, and held the lock 10-22 ms instead of 2-5 ms."""
    st = open_store(location)
    st.checkpoint_in_background()
    return st


def ensure_rings_at(location: str | None, idle: bool = False) -> None:
    """:func:`ensure_rings` on the store at ``location`` (opened, beside a server, and closed here); a failure
    is logged, not raised: the pages still work, and ``/rings`` and the server's refresher try again."""
    try:
        st = open_beside_server(location)
        try:
            ensure_rings(st, idle=idle)
        finally:
            st.close()
    except Exception:
        log.exception("automatic ring detection failed")


def refresh_rings(st: Any, min_age: float, idle: bool = False) -> bool:
    """Detect rings again when the store changed since the last detection and that one is at least
    ``min_age`` seconds old; one process at a time (others skip). ``True`` when it ran. ``idle`` as in
    :func:`detect_and_record`."""
    last = float(st.get_meta(DETECTED_AT) or 0) / 1000
    if time.time() - last < min_age or str(st.last_seq()) == (st.get_meta(DETECTED_SEQ) or ""):
        return False
    with detection_lock(st) as held:
        if not held:
            return False  # another process is detecting
        detect_and_record(st, idle=idle)
        return True


__all__ = ["detection_lock", "lock_path", "run_ring_detection", "ensure_rings", "ensure_rings_at", "refresh_rings",
           "open_beside_server",
           "detect_and_record", "detect_when_idle", "lowest_priority"]
