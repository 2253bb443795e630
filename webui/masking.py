"""Masking for analysts, applied at one place on the way out, and safe display of identifiers for everyone.

When an admin turns masking on, an analyst sees identifiers of the masked types (the ``mask_types``
setting: card, email, phone, address, bank account by default) only as ``••••`` and their last characters,
wherever they appear: in fields, in free text that names them (ring and rule reasons such as ``card
CFORM1 is shared by 3 users``, case titles, audit details, attributes), in the JSON the pages fetch, and
so in the exports built from it. How it holds:

1. **Learn the identifiers from the data.** For a masking request, the pages read the store through
   :class:`RecordingStore`, which notes every identifier in what the store returns, by its type: a
   transaction's identifier columns (any column of ``ENTITY_COLUMNS``, present or future) and extra
   types, links and members (``type`` + ``id``), case references (``type:id``), and attribute values that
   look personal (a card number, an email address, or an attribute named after a masked type). Keyed
   hashes (``h:`` + 32 hex digits, a protected card number or personal identifier) are masked wherever they
   appear; case titles, typed by people, are read for the identifiers they name (:meth:`Masker.note_named`).
2. **Mask on the way out.** Every value a template prints passes through :func:`finalize` (the Jinja
   environment's ``finalize``), every ``tojson`` and every ``/ui/`` JSON body through :meth:`Masker.out`.
   A noted identifier, on its own or inside text, comes out masked; ``type:id`` text of a masked type does
   too, noted or not. Nothing depends on a page remembering to mask: a new page, field or identifier type
   is covered as long as its data comes from the store.
3. **Links keep working.** A masked identifier is addressed by an opaque token (``~`` + a deterministic,
   authenticated encryption of type and value under a key derived from the app's secret), so an analyst
   can open it, and only the server can read it back (:meth:`Masker.untoken`).

Display safety, for every user: bidirectional controls (U+202E and the like) and other invisible format
characters in displayed text are shown as visible markers (``⟨U+202E⟩``), so an id cannot pose as another.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from flask import current_app, g, has_request_context
from markupsafe import Markup

from graphfraud.keys import derive
from graphfraud.output import visible
from graphfraud.schema import ENTITY_COLUMNS, PII_TYPES, protect_card_numbers
from graphfraud.storage.roles import GraphStore, MetaStore

MASK_META_KEY = "mask_identifiers"
# a token of free text: identifiers are compared whole, so text is cut at spaces and punctuation that
# ids seldom hold (ids that do hold them are looked for whole instead)
_TOKEN = re.compile(r"[^\s,;()\[\]{}\"'<>|/?&=]+")
_TYPED = re.compile(r"([a-z][a-z0-9_]{0,31}):(.+)", re.S)
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# a keyed hash of an identifier (graphfraud.schema.keyed_hash): a card number, or an email, phone or address
_HASHED = re.compile(r"(?<![0-9A-Za-z])h:[0-9a-f]{32}(?![0-9A-Za-z])")
_HASHED_TYPES = frozenset(("card", *PII_TYPES))
#: JSON fields that carry addresses and keys the pages' scripts send back: masked, never rewritten for display
NAV_FIELDS = frozenset(("id", "key", "url", "via", "focus", "from", "to", "ring_id", "transaction_id", "user_id"))


def mask_text(node_type: str, value: Any) -> Any:
    """What an analyst sees of a masked identifier: at most its last 2-4 characters (an email's domain).

    >>> mask_text("card", "C406180761490"), mask_text("email", "ann@example.org"), mask_text("phone", "12")
    ('••••1490', '•••@example.org', '••••')
    """
    if value is None or value == "":
        return value
    s = str(value)
    if node_type == "email" and "@" in s:
        return "•••@" + s.rsplit("@", 1)[1][-12:]
    tail = s[-4:] if len(s) >= 10 else s[-2:] if len(s) >= 6 else ""
    return "••••" + tail


def mask_types() -> frozenset[str]:
    """The masked identifier types (the ``mask_types`` setting). ``user`` is never one: analysts investigate
    users, so user ids, and the fields of type user such as a transfer's ``counterparty_id``, stay readable."""
    return frozenset(t.strip() for t in str(current_app.config.get("MASK_TYPES") or "").split(",")
                     if t.strip() and t.strip() != "user")


def masking_on(store: GraphStore) -> bool:
    """Whether masking for analysts is on: the admin's choice in the store, else the ``mask_identifiers`` setting."""
    v = store.get_meta(MASK_META_KEY)
    if v is None:
        return bool(current_app.config.get("MASK_IDENTIFIERS"))
    return v == "1"


class Masker:
    """One request's masking: the identifiers seen in its data, their display and their tokens."""

    def __init__(self, types: Iterable[str], secret: str, active: bool):
        self.types = frozenset(types)
        self.active = active
        self._mac = derive(secret, "mask-token-mac")
        self._enc = derive(secret, "mask-token-enc")
        self.seen: dict[str, str] = {}  # identifier -> its type
        self._whole: dict[str, str] = {}  # identifiers that free text cannot cut out as one token
        self._personal_names = tuple(self.types)
        self._hashes = active and bool(self.types & _HASHED_TYPES)  # hashed values are masked like card ids

    # ------------------------------------------------------------ learning what to mask
    def note(self, node_type: str, value: Any) -> None:
        if not self.active or node_type not in self.types or not isinstance(value, str) or not value:
            return
        if value not in self.seen:
            self.seen[value] = node_type
            if _TOKEN.fullmatch(value) is None:
                self._whole[value] = node_type

    def note_named(self, store: GraphStore, texts: Iterable[Any]) -> None:
        """Note the identifiers of masked types that free text typed by people names (case titles): words
        shaped like an email or a card number, and words holding a digit that the store knows as an
        identifier of a masked type, so the text is masked on every page that shows it."""
        if not self.active:
            return
        words = {w.rstrip(".:!?") for t in texts if isinstance(t, str) for w in _TOKEN.findall(t)}
        for w in sorted(words)[:2000]:
            if len(w) < 3 or w in self.seen or _TYPED.fullmatch(w) or _HASHED.fullmatch(w):
                continue
            if "email" in self.types and _EMAIL.fullmatch(w):
                self.note("email", w)
            elif "card" in self.types and protect_card_numbers(w, None) != w:
                self.note("card", w)
            elif any(c.isdigit() for c in w):  # identifiers worth masking hold digits; spare the store the rest
                found = next((t for t in sorted(self.types) if store.count_links(t, w)), None)
                if found is not None:
                    self.note(found, w)

    def collect(self, obj: Any) -> None:
        """Note every identifier of a masked type in something the store returned."""
        if not self.active:
            return
        if isinstance(obj, dict):
            t = obj.get("type")
            if isinstance(t, str) and t in self.types:
                for k in ("id", "entity_id", "key"):
                    self.note(t, obj.get(k))
            for col, typ in ENTITY_COLUMNS.items():
                self.note(typ, obj.get(col))
            for typ in self.types:
                self.note(typ, obj.get(typ))
            for k, v in obj.items():
                if isinstance(v, str):
                    m = _TYPED.fullmatch(v)
                    if m and m.group(1) in self.types:
                        self.note(m.group(1), m.group(2))
                elif isinstance(v, dict) and k in ("attributes", "attrs"):
                    self._attributes(v)
                elif isinstance(v, (dict, list, tuple)):
                    self.collect(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                if isinstance(v, (dict, list, tuple)):
                    self.collect(v)

    def _attributes(self, attrs: dict[str, Any]) -> None:
        """Free attributes have no type: mask those named after a masked type and those that look personal."""
        for name, v in attrs.items():
            if not isinstance(v, str) or not v:
                continue
            named = next((t for t in self._personal_names if t in str(name).lower()), None)
            if named:
                self.note(named, v)
            elif "card" in self.types and protect_card_numbers(v, None) != v:  # holds a card number
                self.note("card", v)
            elif "email" in self.types and _EMAIL.search(v):
                self.note("email", v)

    # ------------------------------------------------------------ the way out
    def masks(self, node_type: str) -> bool:
        return self.active and node_type in self.types

    def shown(self, node_type: str, value: str) -> str:
        """How an identifier is displayed to this request's user."""
        return str(mask_text(node_type, value)) if self.masks(node_type) else value

    def key(self, node_type: str, value: str) -> str:
        """How an identifier is addressed in links: its token when masked, else itself."""
        return self.token(node_type, value) if self.masks(node_type) else value

    def text(self, s: str) -> str:
        """``s`` with every noted identifier, and every ``type:id`` of a masked type, masked."""
        if not self.active or not s:
            return s
        t = self.seen.get(s)
        if t is not None:
            return str(mask_text(t, s))
        m = _TYPED.fullmatch(s)
        if m and m.group(1) in self.types:
            return f"{m.group(1)}:{mask_text(m.group(1), m.group(2))}"
        if self._hashes and "h:" in s:
            s = _HASHED.sub(lambda h: str(mask_text("card", h.group(0))), s)
        if not self.seen:
            return s
        for v, typ in self._whole.items():
            if v in s:
                s = s.replace(v, str(mask_text(typ, v)))
        return _TOKEN.sub(self._token_repl, s)

    def _token_repl(self, m: re.Match[str]) -> str:
        tok = m.group(0)
        trimmed = tok.rstrip(".:!?")  # sentence punctuation after an id
        if tok in self.seen:
            return str(mask_text(self.seen[tok], tok))
        if trimmed in self.seen:
            return str(mask_text(self.seen[trimmed], trimmed)) + tok[len(trimmed):]
        if "%" in tok and unquote(tok) in self.seen:  # an id inside an address, percent-encoded
            return str(mask_text(self.seen[unquote(tok)], unquote(tok)))
        typed = _TYPED.fullmatch(tok)
        if typed and typed.group(1) in self.types:
            return f"{typed.group(1)}:{mask_text(typed.group(1), typed.group(2))}"
        return tok

    def out(self, obj: Any, field: str | None = None) -> Any:
        """A JSON-ready object as it may leave: masked for this request, format characters made visible in
        displayed text (not in the addresses and keys of :data:`NAV_FIELDS`)."""
        if isinstance(obj, str):
            s = self.text(obj)
            return s if field in NAV_FIELDS else visible(s)
        if isinstance(obj, dict):
            return {k: self.out(v, k if isinstance(k, str) else None) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.out(v, field) for v in obj]
        return obj

    # ------------------------------------------------------------ tokens
    def token(self, node_type: str, value: str) -> str:
        """``~`` + base64url(synthetic IV + value encrypted): deterministic, authenticated, opaque."""
        data = value.encode("utf-8", "surrogatepass")
        iv = hmac.new(self._mac, node_type.encode() + b"\x00" + data, hashlib.sha256).digest()[:16]
        body = _xor(data, _keystream(self._enc, iv, len(data)))
        return "~" + base64.urlsafe_b64encode(iv + body).rstrip(b"=").decode("ascii")

    def untoken(self, node_type: str, token: str) -> str | None:
        """The identifier behind a token of ``node_type``; ``None`` for anything that is not one."""
        if not token.startswith("~") or len(token) > 2048:
            return None
        try:
            raw = base64.urlsafe_b64decode(token[1:] + "=" * (-len(token[1:]) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) < 17:
            return None
        iv, body = raw[:16], raw[16:]
        data = _xor(body, _keystream(self._enc, iv, len(body)))
        want = hmac.new(self._mac, node_type.encode() + b"\x00" + data, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(iv, want):
            return None
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return None


def _keystream(key: bytes, iv: bytes, n: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hmac.new(key, iv + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:n])


def _xor(a: bytes, b: bytes) -> bytes:
    if not a:
        return b""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


class RecordingStore:
    """The store as the pages see it during a masking request: every result is shown to the masker."""

    def __init__(self, store: GraphStore, masker: Masker):
        self._store = store
        self._masker = masker

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            self._masker.collect(result)
            return result

        return call


# ---------------------------------------------------------------- per request
def masker() -> Masker:
    """This request's masker (active for analysts while masking is on)."""
    m = g.get("ui_masker")
    if m is None:
        from .uiauth import current_user, store

        user = current_user()
        active = bool(user and user["role"] != "admin" and masking_on(store()))
        m = g.ui_masker = Masker(mask_types(), str(current_app.secret_key or ""), active)
    return m  # type: ignore[no-any-return]


def view(store: GraphStore) -> Any:
    """``store`` as a masking request must read it (recording), or as it is."""
    m = masker()
    return RecordingStore(store, m) if m.active else store


def finalize(value: Any) -> Any:
    """The Jinja environment's ``finalize``: every value a template prints leaves through here."""
    if isinstance(value, Markup) or value is None or isinstance(value, (bool, int, float)):
        return value
    if not has_request_context():
        return visible(value) if isinstance(value, str) else value
    m = masker()
    if isinstance(value, str):
        return visible(m.text(value))
    if isinstance(value, (dict, list, tuple)):
        return m.out(value)
    return value


def install(app: Any) -> None:
    """Route every template output and ``tojson`` of ``app`` through the masker."""
    env = app.jinja_env
    env.finalize = finalize
    tojson = env.filters["tojson"]

    def masked_tojson(obj: Any, *args: Any, **kwargs: Any) -> Any:
        return tojson(masker().out(obj) if has_request_context() else obj, *args, **kwargs)

    if getattr(tojson, "jinja_pass_arg", None) is not None:  # Jinja's own filter takes the evaluation context
        from jinja2 import pass_eval_context

        def masked_tojson_ctx(ctx: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
            return tojson(ctx, masker().out(obj) if has_request_context() else obj, *args, **kwargs)

        env.filters["tojson"] = pass_eval_context(masked_tojson_ctx)
    else:
        env.filters["tojson"] = masked_tojson
