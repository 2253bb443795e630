"""The product's one secret, kept out of the data, and the keys derived from it.

Investigator sessions are signed with it and engine snapshots are authenticated with a key derived from it
(anyone holding it could sign in as anyone, or make a worker load a pickle of their own), so it never sits
in the store: whoever can read the store, a backup or a copy of it learns nothing that lets them forge.

Where it comes from, first found wins:

1. the ``secret_key`` setting (``GRAPHFRAUD_SECRET_KEY``): set it, the same on every host, when several
   API hosts share a store, so that a session signed on one host is accepted by the others;
2. the key file (``key_file`` setting, ``GRAPHFRAUD_KEY_FILE``), by default ``<store file>.key`` beside an
   embedded store, or ``$XDG_CONFIG_HOME/graphfraud/<hash of the URL>.key`` for a Neo4j store; created
   owner-only (``0600``) with 256 random bits the first time it is needed.

Purposes get their own keys (:func:`derive`): a key for one use tells nothing about another.

Rotation: set a new ``GRAPHFRAUD_SECRET_KEY`` (or delete the key file) and restart every process. Every
investigator is signed out, each host rebuilds its engine snapshot once, and masked-identifier links in
old bookmarks stop resolving; nothing stored is lost. ``docs/reliability.md`` has the threat model.

Examples
--------
>>> import os, tempfile
>>> store = os.path.join(tempfile.mkdtemp(), "gf.db")
>>> s = master_secret(store, {"secret_key": ""})
>>> len(s) >= 43 and s == master_secret(store, {"secret_key": ""})
True
>>> oct(os.stat(store + ".key").st_mode & 0o777)
'0o600'
>>> derive(s, "session") != derive(s, "engine-snapshot")
True
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError, StorageError
from .output import FILE_MODE, private_dir, tighten
from .storage.roles import GraphStore, MetaStore

#: Meta keys where earlier versions kept secrets in the store; :func:`purge_legacy_secrets` removes them.
LEGACY_META_KEYS = ("secret_key", "engine_snapshot_key")
MIN_SECRET_LENGTH = 32


def key_file_path(location: str, overrides: Mapping[str, Any] | None = None) -> str:
    """Where the key file of the store at ``location`` is (the ``key_file`` setting, else the default)."""
    from . import settings

    given = str(settings.get("key_file", overrides) or "").strip()
    if given:
        return os.path.abspath(os.path.expanduser(given))
    loc = str(location)
    if "://" not in loc:
        return os.path.abspath(loc) + ".key"
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    folder = private_dir(os.path.join(base, "graphfraud"))
    return os.path.join(folder, hashlib.sha256(loc.encode()).hexdigest()[:24] + ".key")


def master_secret(location: str, overrides: Mapping[str, Any] | None = None) -> str:
    """The secret: the ``secret_key`` setting when set, else the key file's (created when missing).

    Raises :class:`~graphfraud.errors.ConfigError` for a configured secret shorter than
    :data:`MIN_SECRET_LENGTH` characters, and :class:`~graphfraud.errors.StorageError` when the key file
    can be neither read nor created.
    """
    from . import settings

    configured = str(settings.get("secret_key", overrides) or "")
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise ConfigError(f"The secret key (GRAPHFRAUD_SECRET_KEY) is {len(configured)} characters long; use at "
                              f"least {MIN_SECRET_LENGTH} random characters, for example the output of "
                              "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'.")
        return configured
    return _read_or_create(key_file_path(location, overrides))


def _read_or_create(path: str) -> str:
    for _ in range(3):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
            if not text:
                raise StorageError(f"The key file {path} is empty; delete it (a new one is made, which signs every "
                                   "investigator out) or set GRAPHFRAUD_SECRET_KEY.", code="invalid_key_file")
            tighten(path)
            return text
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError) as e:
            if isinstance(e, StorageError):
                raise
            raise StorageError(f"The key file {path} cannot be read ({e.__class__.__name__}); fix its permissions "
                               "or set GRAPHFRAUD_SECRET_KEY.", code="invalid_key_file") from None
        # create it whole under another name, then link it into place: a reader never sees a half-written
        # file, and when two processes race, the first link wins and both read the winner's
        tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        except OSError as e:
            raise StorageError(f"The key file {path} cannot be created ({e.strerror or e}); make its folder writable "
                               "or set GRAPHFRAUD_SECRET_KEY.", code="invalid_key_file") from None
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    raise StorageError(f"The key file {path} keeps disappearing; set GRAPHFRAUD_SECRET_KEY.", code="invalid_key_file")


def derive(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose`` (``"engine-snapshot"``, ``"mask-token"``, ...) from the secret."""
    return hmac.new(secret.encode("utf-8"), b"graphfraud/" + purpose.encode("ascii"), hashlib.sha256).digest()


def key_for(store: GraphStore, purpose: str, overrides: Mapping[str, Any] | None = None) -> bytes:
    """:func:`derive` of the secret of ``store`` (its ``location`` names the default key file)."""
    return derive(master_secret(str(store.location), overrides), purpose)


def purge_legacy_secrets(store: MetaStore) -> list[str]:
    """Delete secrets that earlier versions kept in the store's meta table; returns the keys deleted."""
    gone = [k for k in LEGACY_META_KEYS if store.get_meta(k) is not None]
    for k in gone:
        store.delete_meta(k)
    return gone
