"""Engine snapshots on disk, so a serving process starts in seconds instead of replaying all history.

A snapshot is the engine's state after store sequence number N, written beside the store
(``<store file>.engine``; for a Neo4j store, under ``$XDG_CACHE_HOME/graphfraud``). A process loads it,
then applies what the store holds after N (:meth:`graphfraud.scoring.Scorer.catch_up`), so a stale
snapshot is still correct, only slower to catch up.

The file is Python's pickle format, which can run code when loaded; so it is only ever read after its
HMAC-SHA256 has been checked in constant time. The key is derived from the product's secret
(:mod:`graphfraud.keys`: ``GRAPHFRAUD_SECRET_KEY`` or the owner-only key file), never kept in the store, so
reading the store is not enough to forge a snapshot. A file that was not written by a process holding the
secret, or was changed since, is ignored (and the engine is rebuilt from the store). The file is written
owner-only. A snapshot written with other engine settings (link policy, snapshot
interval, label delay, currency rates) is ignored too, and so is one written by other engine code (an
upgrade): its fingerprint carries a hash of the modules whose classes the pickle holds.
"""
from __future__ import annotations

import functools
import gc
import hashlib
import hmac
import json
import mmap
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from ..output import private_dir
from ..storage import is_store_file
from ..storage.roles import GraphStore
from .engine import GraphEngine

MAGIC = b"GFENGINE1\n"
MAC_LEN = 64  # HMAC-SHA256 in hex
MAX_HEAD = 1 << 20  # the settings line after it
HEADER_MAX = len(MAGIC) + MAC_LEN + 1 + MAX_HEAD


def _header(start: bytes) -> tuple[bytes, bytes] | None:
    """The signature and the settings line (with its newline) of a snapshot file, from its first
    :data:`HEADER_MAX` bytes; ``None`` when it is not one."""
    at = len(MAGIC) + MAC_LEN + 1
    end = start.find(b"\n", at, at + MAX_HEAD)
    if not start.startswith(MAGIC) or end < 0:
        return None
    return start[len(MAGIC):len(MAGIC) + MAC_LEN], start[at:end + 1]
#: An engine this process built before forking its serving workers, per store: each worker takes it once
#: (:func:`inherited_engine`) and shares its memory pages with the others until it writes to them.
_FOR_WORKERS: dict[str, tuple[str, GraphEngine]] = {}
#: Snapshot files this process read with their signature checked, or wrote: path -> (seq, fingerprint).
_VERIFIED: dict[str, tuple[int, str]] = {}


def snapshot_path(store: GraphStore) -> str:
    """Where the engine snapshot of ``store`` lives."""
    loc = str(store.location)
    if is_store_file(loc):
        return loc + ".engine"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = private_dir(os.path.join(base, "graphfraud"))
    return os.path.join(folder, hashlib.sha256(loc.encode()).hexdigest()[:24] + ".engine")


def forget_engine(store: GraphStore) -> None:
    """Remove the engine snapshot of ``store``, if there is one (after an erasure it holds old identifiers).

    Raises :class:`OSError` when the file exists but cannot be removed."""
    try:
        os.unlink(snapshot_path(store))
    except FileNotFoundError:
        pass


def _key(store: GraphStore) -> bytes:
    from ..keys import key_for

    return key_for(store, "engine-snapshot")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the engine's code: a pickle of other code may lack attributes this code needs."""
    from .. import labels
    from .. import pagerank as ranking
    from . import activity, components, engine, flows, policy, snapshot, txlog

    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("graphfraud")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        release = "source"
    h = hashlib.sha256(release.encode())
    for mod in (engine, components, policy, snapshot, activity, flows, txlog, labels, ranking):
        # the source file, also of a module running compiled (its __file__ is then the extension beside it)
        path = Path(getattr(mod, "__file__", None) or "")
        try:
            h.update(path.with_name(mod.__name__.rsplit(".", 1)[-1] + ".py").read_bytes())
        except (OSError, ValueError):  # installed without sources (or no file): the release number stands for the code
            pass
    return h.hexdigest()[:16]


def fingerprint(engine: GraphEngine) -> str:
    """The settings and the code a snapshot depends on."""
    p = engine.policy
    return json.dumps({"code": code_version(), "link": sorted(p.link_types), "hub": dict(sorted(p.hub_limits.items())),
                       "snap": engine.snapshot_interval_ms, "delay": engine.label_delay_ms,
                       "rates": sorted(engine.rates.items()), "base": engine.base_currency,
                       "extra": list(engine.extra_types)}, sort_keys=True)


def save_engine(store: GraphStore, engine: GraphEngine) -> str:
    """Write the engine's snapshot atomically (owner-only); returns its path.

    Raises :class:`OSError` (a :class:`~graphfraud.errors.StorageError` when the key file cannot be made)
    when it cannot be written."""
    from ..keys import purge_legacy_secrets

    purge_legacy_secrets(store)  # a store from an earlier version held the key in clear
    path = snapshot_path(store)
    head = json.dumps({"seq": engine.seq, "fingerprint": fingerprint(engine)}).encode() + b"\n"
    mac = hmac.new(_key(store), head, hashlib.sha256)
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".engine-")
    try:
        with os.fdopen(fd, "wb") as fh:
            # the pickle streams to the file through the signature (no copy of it in memory: gigabytes at
            # ten million transactions); the signature's place is written first and filled in at the end
            fh.write(MAGIC + b"0" * MAC_LEN + b"\n" + head)
            pickle.dump(engine, _Signing(fh, mac), protocol=pickle.HIGHEST_PROTOCOL)
            fh.seek(len(MAGIC))
            fh.write(mac.hexdigest().encode())
        os.replace(tmp, path)
        _VERIFIED[path] = (engine.seq, fingerprint(engine))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class _Signing:
    """A file to write to that signs what passes through it."""

    def __init__(self, fh: BinaryIO, mac: hmac.HMAC):
        self.fh, self.mac = fh, mac

    def write(self, data: Any) -> int:
        self.mac.update(data)
        return self.fh.write(data)


def behind_by(store: GraphStore, engine: GraphEngine) -> int | None:
    """How many sequence numbers the snapshot file is behind ``engine``, when this process read it (its
    signature checked) or wrote it, it has ``engine``'s settings and nobody replaced it since; ``None``
    otherwise (then only writing it makes it known good)."""
    path = snapshot_path(store)
    known = _VERIFIED.get(path)
    if known is None or known[1] != fingerprint(engine):
        return None
    try:
        with open(path, "rb") as fh:
            got = _header(fh.read(HEADER_MAX))
        meta = json.loads(got[1]) if got is not None else {}
    except (OSError, ValueError):
        return None
    if meta.get("seq") != known[0] or meta.get("fingerprint") != known[1]:
        return None
    return engine.seq - known[0]


def keep_for_workers(store: GraphStore, engine: GraphEngine) -> None:
    """Hand ``engine`` to the processes this one forks next (``graphfraud serve`` calls it before starting
    its workers): they start from it without reading the snapshot file, and its pages stay shared between
    them (copy-on-write) except those a worker changes. This process changes it afterwards only through
    :func:`graphfraud.scoring.refresh_kept_engine`, with forks held off meanwhile."""
    _FOR_WORKERS[str(store.location)] = (fingerprint(engine), engine)


def kept_engine(store: GraphStore) -> GraphEngine | None:
    """The engine :func:`keep_for_workers` holds for ``store`` in this process, if any (left in place)."""
    got = _FOR_WORKERS.get(str(store.location))
    return got[1] if got is not None else None


def drop_kept(store: GraphStore) -> None:
    """Forget the engine kept for ``store``: the processes forked next load or build their own."""
    _FOR_WORKERS.pop(str(store.location), None)


def inherited_engine(store: GraphStore, expected: GraphEngine) -> GraphEngine | None:
    """The engine kept by :func:`keep_for_workers` for this store, once per process (a second scorer in the
    same process must not share it), if its settings match ``expected`` and it is not ahead of the store."""
    got = _FOR_WORKERS.pop(str(store.location), None)
    if got is None or got[0] != fingerprint(expected) or got[1].seq > store.last_seq():
        return None
    return got[1]


def load_engine(store: GraphStore, expected: GraphEngine) -> GraphEngine | None:
    """The snapshot's engine when its signature and settings check out and it is not ahead of the store;
    ``None`` otherwise (the caller rebuilds). ``expected`` is a fresh engine with the current settings."""
    path = snapshot_path(store)
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size <= len(MAGIC) + MAC_LEN + 1:
                return None
            # mapped, not read: the file's pages are the page cache's, and nothing is copied before unpickling
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError:
        return None
    _VERIFIED.pop(path, None)
    with data, memoryview(data) as view:
        engine = _check_and_load(store, expected, view)
    if engine is not None:
        _VERIFIED[path] = (engine.seq, fingerprint(engine))
    return engine


def _check_and_load(store: GraphStore, expected: GraphEngine, view: memoryview) -> GraphEngine | None:
    got = _header(bytes(view[:HEADER_MAX]))
    if got is None:
        return None
    try:
        key = _key(store)
    except OSError:  # no secret to check it with (an unwritable folder): rebuild instead
        return None
    mac, head = got
    body = view[len(MAGIC) + MAC_LEN + 1 + len(head):]
    want = hmac.new(key, head, hashlib.sha256)
    want.update(body)
    if not hmac.compare_digest(mac, want.hexdigest().encode()):
        return None
    meta = json.loads(head)
    if meta.get("fingerprint") != fingerprint(expected) or int(meta.get("seq", 0)) > store.last_seq():
        return None
    # the engine is millions of objects that live as long as the process: the cyclic collector is kept out
    # of the unpickling (at ten million transactions, 15 million objects: 37 s without it, 62 s with it) and
    # the objects are frozen (never walked by a collection) once made
    was = gc.isenabled()
    gc.disable()
    try:
        engine = pickle.loads(body)  # noqa: S301 - authenticated above with the store's secret
    finally:
        if was:
            gc.enable()
    gc.freeze()
    return engine if isinstance(engine, GraphEngine) else None
