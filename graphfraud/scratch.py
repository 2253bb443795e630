"""Scratch files of long commands, named by the process that made them, so none outlives a killed command.

A load spills link totals to disk, a backtest replays into a store of its own, a training run keeps its
feature rows in a file, a server's workers share their metrics in a folder. They hold customers'
identifiers (the metrics, counts) and are removed when the command ends, even by an error; a ``kill -9`` or the kernel's out-of-memory killer leaves them behind. Their names carry the host and
the process group (``graphfraud-<kind>-<host>-<group>-...``: the command's, shared by the children it forks
and, in a script without job control, by the whole script), and the next command that makes one removes
those of this host whose group has no process left. The check is per host name: a temporary folder shared
between hosts or containers with their own process ids (and host names) is safe; one shared by containers
under one host name is not supported.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> left = os.path.join(d, f"graphfraud-links-{HOST}-999999999-x")  # a group id that no process has
>>> os.mkdir(left)
>>> mine = make_dir("links", root=d)
>>> os.path.basename(mine).startswith(f"graphfraud-links-{HOST}-{os.getpgid(0)}-"), os.path.exists(left)
(True, False)
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile

#: this host's name, as it may appear in a file name
HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep(kind: str, root: str | None = None) -> list[str]:
    """Remove the ``kind`` scratch files and folders of this host's process groups that are gone; returns
    them."""
    root = root or tempfile.gettempdir()
    mark = re.compile(rf"graphfraud-{re.escape(kind)}-{re.escape(HOST)}-(\d+)-")
    gone: list[str] = []
    try:
        names = os.listdir(root)
    except OSError:
        return gone
    for name in names:
        m = mark.match(name)
        if m is None or _alive(int(m.group(1))):
            continue
        path = os.path.join(root, name)
        try:
            if os.stat(path, follow_symlinks=False).st_uid != os.getuid():
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError:  # removed meanwhile, or not ours to remove
            continue
        gone.append(path)
    return gone


def _prefix(kind: str) -> str:
    return f"graphfraud-{kind}-{HOST}-{os.getpgid(0)}-"


def make_dir(kind: str, root: str | None = None) -> str:
    """A new private folder (mode 0700) for ``kind`` scratch files, after removing dead groups' ones."""
    sweep(kind, root)
    return tempfile.mkdtemp(prefix=_prefix(kind), dir=root)


def make_file(kind: str, suffix: str = "", root: str | None = None) -> str:
    """A new private file (mode 0600) for ``kind`` scratch data, after removing dead groups' ones."""
    sweep(kind, root)
    fd, path = tempfile.mkstemp(prefix=_prefix(kind), suffix=suffix, dir=root)
    os.close(fd)
    return path
