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
import functools
import gc
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

T = TypeVar("T")


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
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim(0)


def run_apart(work: Callable[[Callable[[str], None]], T], what: str,
              log: Callable[[str], None] = lambda s: None) -> T:
    """``work(log)`` in a forked process, its result handed back by a pipe (pickled): everything the work
    built goes back to the system when that process ends, however scattered it was (:func:`give_back` cannot
    return memory spread over millions of small objects). Where processes cannot be forked, it runs here.

    The child sees this process's memory as it was at the fork, copy-on-write; what it must hand back beside
    its result it writes into shared memory made before (``training.feature_matrix(shared=True)``). Its
    progress phases and the lines it gives ``log`` come back by the same pipe and show here, as this
    process's own. It runs its OpenMP fits with one thread (a forked child must not use a thread pool its
    parent may have started). An error in the work is raised here; a child that dies without a result
    (killed, say, for lack of memory) raises a :class:`~graphfraud.errors.GraphFraudError` naming ``what``
    it was doing and how it ended.
    """
    import multiprocessing as mp

    from . import progress

    if "fork" not in mp.get_all_start_methods():
        return work(log)
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    mirror = progress.Mirror()
    _libc()  # found here, inherited by the child
    proc = ctx.Process(target=_apart_child, args=(send, work, os.getpid()), daemon=True, name="graphfraud-apart")
    status, value = "lost", cast(Any, None)
    try:
        gc.freeze()  # the child's collections then leave the parent's objects (and their pages) alone
        try:
            proc.start()
        finally:
            gc.unfreeze()
        send.close()
        while True:
            try:
                kind, value = receive.recv()
            except (EOFError, OSError):
                break  # the child ended without a result
            if kind == "progress":
                mirror(value)
            elif kind == "log":
                log(value)
            else:
                status = kind
                break
    except BaseException:  # interrupted here (Ctrl-C), even as it started: the child's work is of no use
        if proc.pid is not None:
            proc.kill()
        raise
    finally:
        send.close()
        receive.close()
        mirror.close()
        if proc.pid is not None:
            proc.join()
    if status == "ok":
        return cast(T, value)
    if status == "error":
        raise cast(BaseException, value)
    from .errors import GraphFraudError

    code = proc.exitcode
    how = f"exit code {code}" if code is None or code >= 0 else f"killed by {signal.Signals(-code).name}"
    hint = " (most often the system running out of memory)" if code == -signal.SIGKILL else ""
    raise GraphFraudError(f"The process {what} ended without a result: {how}{hint}.", code="process_died")


def _apart_child(send: Any, work: Callable[[Callable[[str], None]], Any], parent: int) -> None:
    from . import progress

    # Ctrl-C reaches the parent, which ends this process; so does the parent's death, however it comes
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)

    def log(text: str) -> None:
        send.send(("log", text))

    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="openmp"), \
                progress.forwarding(lambda event: send.send(("progress", event))):
            out: Any = ("ok", work(log))
    except BaseException as e:  # noqa: BLE001 - handed to the parent, which raises it
        out = ("error", e)
    try:
        try:
            send.send(out)
        except OSError:
            return  # the parent is gone: nothing to hand back
        except Exception as e:  # noqa: BLE001 - a result or error that cannot be pickled: its text goes instead
            send.send(("error", RuntimeError(f"{type(e).__name__}: {e}")))
    except OSError:
        pass
    finally:
        send.close()


def _die_with_parent(parent: int) -> None:
    """Have the kernel end this process when its parent ends (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing),
    so a parent killed without a chance to clean up leaves no replay running on its own."""
    prctl = _libc_function("prctl")
    if prctl is not None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:  # the parent ended before the call
        os._exit(1)


@functools.lru_cache(maxsize=None)
def _libc() -> ctypes.CDLL | None:
    """The C library, or ``None`` where it cannot be found. Found once per process (``find_library`` runs
    ``ldconfig``); :func:`run_apart` finds it before it forks, so its child does not."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def _libc_function(name: str) -> "ctypes._NamedFuncPointer | None":
    """A function of the C library (``malloc_trim``, ``prctl``), or ``None`` where there is none."""
    lib = _libc()
    try:
        return getattr(lib, name) if lib is not None else None
    except AttributeError:
        return None
