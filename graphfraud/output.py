"""Files the product writes: created owner-only, and the one CSV writer.

Every file graphfraud creates (the store and its ``-wal``/``-shm``, engine snapshots, key files, rejects
files, score and ring CSVs, reports) can hold personal data or secrets, so it is created readable and
writable by its owner only (``0600``; folders ``0700``), whatever the process's umask. A file that exists
already and is open to others is tightened when the process owns it.

CSV files are written by :func:`csv_writer`, which neutralises spreadsheet formulas (OWASP's rule for CSV
injection): a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading ``'``, so a spreadsheet shows it as text instead of running it. Numbers (and text that is a plain
decimal number, such as ``-5``) are left alone. Outputs that programs read back (scores to join on
transaction ids) can be written with ``raw=True`` (``--raw`` on the commands).

Examples
--------
>>> safe_cell("=HYPERLINK(\\"http://x\\")"), safe_cell("+3+4"), safe_cell("-5"), safe_cell(12)
('\\'=HYPERLINK("http://x")', "'+3+4", '-5', 12)
"""
from __future__ import annotations

import contextlib
import csv
import os
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

#: Mode of every file the product creates (owner read and write).
FILE_MODE = 0o600
#: Mode of every folder the product creates.
DIR_MODE = 0o700

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# Unicode format characters (category Cf): bidi embeddings, overrides and isolates, zero-width characters,
# the BOM, soft hyphen, invisible operators, tags
_FORMAT_CHARS = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
                 "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
                 "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
_INVISIBLE = re.compile(f"[{_FORMAT_CHARS}]")
# and, on a terminal, control characters other than tab and line feed (escape sequences, a carriage return)
_INVISIBLE_ON_TERMINAL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT_CHARS}]")


def tighten(path: str | os.PathLike[str]) -> None:
    """Make an existing file owner-only when it is open to others and this process owns it (else leave it):
    the others' bits are taken away, the owner's left as they are (a store made read-only stays read-only).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "ro.db")
    >>> open(p, "w").close(); os.chmod(p, 0o444); tighten(p)
    >>> oct(os.stat(p).st_mode & 0o777)
    '0o400'
    """
    try:
        st = os.stat(path)
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():
            os.chmod(path, st.st_mode & 0o700)
    except OSError:
        pass


def create_private(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty and owner-only unless it exists; ``True`` when this call created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def open_private(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> IO[Any]:
    """:func:`open` for writing, the file created (or truncated) owner-only.

    ``mode`` is ``"w"``, ``"wb"``, ``"a"`` or ``"ab"``; ``kwargs`` go to :func:`open` (``encoding``,
    ``newline``).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with open_private(p) as fh:
    ...     _ = fh.write("x")
    >>> oct(os.stat(p).st_mode & 0o777)
    '0o600'
    """
    if mode.rstrip("b") not in ("w", "a"):
        raise ValueError(f"open_private writes files; mode {mode!r} is not w, wb, a or ab")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():  # an older file, open to others
            os.fchmod(fd, st.st_mode & 0o700)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def private_dir(path: str | os.PathLike[str]) -> str:
    """Create a folder (and its parents) owner-only when missing; returns ``path``."""
    os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    try:
        if os.stat(path).st_uid == os.geteuid():
            os.chmod(path, DIR_MODE)
    except OSError:
        pass
    return str(path)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files and folders created inside (by any library) are owner-only: the umask is ``077`` meanwhile.

    The umask belongs to the whole process: use it in commands, around writers that are not ours.
    """
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def visible(text: str, terminal: bool = False) -> str:
    """``text`` with invisible format characters shown as ``⟨U+XXXX⟩``, so an id cannot pose as another (every
    page of the web UI); with ``terminal``, control characters too (the command line's tables), but for tab
    and line feed. A page keeps a note's line breaks (``\\r\\n`` from a form).

    >>> visible("user\\u202egpj.exe"), visible("\\x1b[2J", terminal=True), visible("a\\r\\nb")
    ('user⟨U+202E⟩gpj.exe', '⟨U+001B⟩[2J', 'a\\r\\nb')
    """
    pattern = _INVISIBLE_ON_TERMINAL if terminal else _INVISIBLE
    if not pattern.search(text):
        return text
    return pattern.sub(lambda m: f"⟨U+{ord(m.group(0)):04X}⟩", text)


# ---------------------------------------------------------------- CSV
def safe_cell(value: Any) -> Any:
    """A cell as a spreadsheet may show it: text starting like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class CsvWriter:
    """:func:`csv.writer` with formula neutralisation (see :func:`safe_cell`) unless ``raw``."""

    def __init__(self, fh: IO[str], raw: bool = False, **kwargs: Any):
        self._w = csv.writer(fh, **kwargs)
        self.raw = raw

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._w.writerow(row if self.raw else [safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for r in rows:
            self.writerow(r)


def csv_writer(fh: IO[str], raw: bool = False, **kwargs: Any) -> CsvWriter:
    """The CSV writer every CSV output of graphfraud goes through.

    >>> import io
    >>> buf = io.StringIO()
    >>> _ = csv_writer(buf, lineterminator="\\n").writerow(["=cmd|' /C calc'!A0", "@SUM(9)", "ok", 3.5])
    >>> buf.getvalue()
    "'=cmd|' /C calc'!A0,'@SUM(9),ok,3.5\\n"
    """
    return CsvWriter(fh, raw=raw, **kwargs)


def one(template: str, **counts: float) -> str:
    """``template`` with the noun after each ``{name}`` whose count is 1 in the singular (placeholders stay
    for ``format``; identifiers filled in later are never touched).

    >>> one("received {n} transfers from {m} known fraud accounts", n=1, m=2)
    'received {n} transfer from {m} known fraud accounts'
    >>> one("{v} known fraud accounts", v=1)
    '{v} known fraud account'
    """
    for name, v in counts.items():
        if v == 1:
            template = re.sub(r"(\{%s\} (?:known fraud )?[a-z]+?)s\b" % re.escape(name), r"\1", template)
    return template
