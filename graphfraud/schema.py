"""The canonical transaction record and its validation: the only place rows are judged.

One set of rules, applied two ways: :func:`validate_record` checks one record (an API call; no DataFrame
is built) and :func:`validate_frame` checks a bulk chunk column by column. Both read the same constants and
helpers below, and a property test holds them to the same verdicts.

Canonical fields
----------------
required: ``transaction_id``, ``timestamp``, ``user_id``, ``amount``;
optional: ``card_id``, ``device_id``, ``ip``, ``merchant_id``, ``currency``, ``country``, ``is_fraud``,
``labelled_at``, ``fraud_type`` (who the fraud was done by and to: :data:`FRAUD_TYPES`), ``counterparty_id``
(the user or account receiving a transfer), ``auth_result`` (``approved`` or ``declined``) and
``decline_reason``; ``card_bin`` (the issuer's first digits of the card number: taken from a full card number
in ``card_id`` before it is hashed, or given as a column) and declared extra entity types (``email``,
``phone``, ...) are identifiers kept in ``extra``; anything else is an attribute.

Identifiers are strings compared exactly (``007`` is not ``7``); empty means absent; surrounding
whitespace is dropped; control characters and ids longer than ``max_id_length`` are refused. Emails are
lower-cased; IP addresses are normalised (``010.0.0.1`` is refused, ``::FFFF:1.2.3.4`` becomes
``::ffff:102:304``). Timestamps are ISO 8601 with or without a zone (naive means UTC) or
``YYYY-MM-DD HH:MM:SS``; they are stored as integer milliseconds since 1970 UTC.

Examples
--------
>>> tx = validate_record({"transaction_id": "t1", "timestamp": "2026-01-02 10:00:00",
...                       "user_id": "u1", "amount": 12.5, "email": " Ann@X.org "}, extra_types=("email",))
>>> tx.ts, tx.extra
(1767348000000, {'email': 'ann@x.org'})
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, cast

from .errors import ValidationError

REQUIRED = ("transaction_id", "timestamp", "user_id", "amount")
ENTITY_COLUMNS = {"card_id": "card", "device_id": "device", "ip": "ip", "merchant_id": "merchant"}
#: Optional fields that are neither identifiers nor labels' times, each a column of its own in the stores.
MORE_FIELDS = ("counterparty_id", "fraud_type", "auth_result", "decline_reason")
#: Free-text fields: card numbers in them are hashed at ingest, as in attributes (:func:`protect_card_numbers`).
FREE_TEXT_FIELDS = ("decline_reason",)
OPTIONAL = ("card_id", "device_id", "ip", "merchant_id", "currency", "country", "is_fraud", "labelled_at",
            *MORE_FIELDS)
_FIELDS_READ = ("card_id", "device_id", "ip", "merchant_id", "currency", "country", "counterparty_id", "auth_result")
#: An identifier type every record may carry in ``extra`` without declaring it: a context type (it never links).
BIN_TYPE = "card_bin"
CANONICAL = REQUIRED + OPTIONAL
BUILTIN_TYPES = ("user", "card", "device", "ip", "merchant", BIN_TYPE)
#: ``mule``: an account that receives stolen money and passes it on; with ``fraudster``, "known fraud".
USER_LABELS = ("fraudster", "mule", "victim", "legitimate")
#: Who a fraud label's fraud was done by and to. ``third_party``: stolen card details or a taken-over account
#: (the user and card are victims); ``first_party``: the user is the fraudster (rings, synthetic identities);
#: ``friendly``: a chargeback the cardholder should not have filed (the user, not the card, is at fault);
#: ``scam``: the user was tricked into paying (a victim; the fraud belongs to the receiver). No type: fraud
#: happened at these identifiers, and the user is a fraudster only by the rule in docs/features.md.
FRAUD_TYPES = ("third_party", "first_party", "friendly", "scam")
AUTH_RESULTS = ("approved", "declined")
MAX_REASON_LENGTH = 64
LABEL_SOURCES = ("file", "chargeback", "investigator")  # later in the tuple wins a disagreement

MIN_TS = 631152000000  # 1990-01-01
MAX_TS = 4102444800000  # 2100-01-01
MAX_AMOUNT = 1e12
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LINE_BREAKS_RE2 = r"[\t\n\x0b\f\r ]*[\t\n\x0b\f\r]+[\t\n\x0b\f\r ]*"  # one space in a postal address
_LINE_BREAKS = re.compile(_LINE_BREAKS_RE2)
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # free text may hold tabs and line breaks
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_AMOUNT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_NAN_INF_WORDS = ("nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")
_ISO_4217 = frozenset("""AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK
LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS
TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split())


#: The fields of :meth:`Transaction.content`, in its order.
_CONTENT_NAMES = ("timestamp", "user_id", "amount", "card_id", "device_id", "ip", "merchant_id", "currency", "country",
                  "extra identifiers", "attributes", "counterparty_id", "auth_result", "decline_reason")


@dataclass(slots=True)
class Transaction:
    """A validated canonical transaction. ``ts`` and ``labelled_at`` are epoch milliseconds (UTC)."""

    transaction_id: str
    ts: int
    user_id: str
    amount: float
    card_id: str | None = None
    device_id: str | None = None
    ip: str | None = None
    merchant_id: str | None = None
    currency: str | None = None
    country: str | None = None
    is_fraud: int | None = None
    labelled_at: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)
    counterparty_id: str | None = None
    fraud_type: str | None = None
    auth_result: str | None = None
    decline_reason: str | None = None

    def entities(self) -> list[tuple[str, str]]:
        """``(type, id)`` for every identifier the transaction carries, the user excluded."""
        out = []
        if self.card_id is not None:
            out.append(("card", self.card_id))
        if self.device_id is not None:
            out.append(("device", self.device_id))
        if self.ip is not None:
            out.append(("ip", self.ip))
        if self.merchant_id is not None:
            out.append(("merchant", self.merchant_id))
        if self.extra:
            out.extend(self.extra.items())
        return out

    def content(self) -> tuple[Any, ...]:
        """What makes two submissions of one id the same transaction (labels aside)."""
        return (self.ts, self.user_id, round(self.amount, 6), self.card_id, self.device_id, self.ip,
                self.merchant_id, self.currency, self.country, tuple(sorted(self.extra.items())),
                tuple(sorted(self.attrs.items())), self.counterparty_id, self.auth_result, self.decline_reason)

    def differs_from(self, other: "Transaction") -> list[str]:
        """The fields whose :meth:`content` differs between two submissions of one id (what a conflict names).

        >>> a = validate_record({"transaction_id": "t", "timestamp": "2026-01-01", "user_id": "u", "amount": 1})
        >>> b = validate_record({"transaction_id": "t", "timestamp": "2026-01-01", "user_id": "u", "amount": 2,
        ...                      "note": "x"}, keep_attributes=True)
        >>> a.differs_from(b)
        ['amount', 'attributes']
        """
        return [name for name, x, y in zip(_CONTENT_NAMES, self.content(), other.content()) if x != y]

    def present_fields(self) -> list[str]:
        """The optional input fields this transaction carries (identifiers, extra types, other fields), the
        ones a model's features can read; labels aside. What a model records it learnt from, and what a score
        reports missing.

        >>> validate_record({"transaction_id": "t", "timestamp": "2026-01-01", "user_id": "u", "amount": 1,
        ...                  "ip": "1.2.3.4", "country": "fr"}).present_fields()
        ['ip', 'country']
        """
        out = [c for c in _FIELDS_READ if getattr(self, c) is not None]
        if self.extra:
            out.extend(self.extra)
        return out

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("transaction_id", "user_id", "amount", "card_id", "device_id",
                                           "ip", "merchant_id", "currency", "country", "is_fraud", *MORE_FIELDS)}
        d["timestamp"] = format_ts(self.ts)
        d["labelled_at"] = format_ts(self.labelled_at) if self.labelled_at is not None else None
        d.update(self.extra)
        d["attributes"] = dict(self.attrs)
        return d


# ---------------------------------------------------------------- shared single-value rules
def format_ts(ms: int) -> str:
    """Epoch milliseconds to ISO 8601 UTC text (``2026-01-02T10:00:00Z``)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ms % 1000:03d}Z" if ms % 1000 else "Z")


def check_name(name: str, what: str = "entity type") -> str:
    """Extra entity types and attribute-like names are short lower-case words."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(f"{what.capitalize()} {name!r} is not a valid name; use lower-case letters, "
                              "digits and _ (at most 32, starting with a letter).", code="invalid_config")
    return name


def _number_hint(text: str) -> str:
    """What a timestamp that is a plain number needs (a count of seconds or steps since some origin).

    >>> _number_hint(" 86400 "), _number_hint("2026-01-01x")
    (' (a number: seconds or steps since an origin are read by a mapping, timestamp = {step = "COLUMN", origin = "2020-01-01T00:00:00Z", unit = "1s"})', '')
    """
    try:
        float(text)
    except (TypeError, ValueError):
        return ""
    return (' (a number: seconds or steps since an origin are read by a mapping, timestamp = {step = "COLUMN", '
            'origin = "2020-01-01T00:00:00Z", unit = "1s"})')


def parse_ts(value: Any, fieldname: str = "timestamp") -> int:
    """Parse one timestamp to epoch ms or raise ``ValueError`` with a reason naming the field."""
    if not isinstance(value, str):
        raise ValueError(f"{fieldname} must be an ISO 8601 text timestamp, not {type(value).__name__}")
    s = value.strip()
    if not _TS.match(s):
        raise ValueError(f"{fieldname} {_show(s)} is not an ISO 8601 timestamp" + _number_hint(s))
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
    except ValueError:
        raise ValueError(f"{fieldname} {_show(s)} is not a valid date and time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    whole = int(dt.replace(microsecond=0).timestamp())
    ms = whole * 1000 + (dt.microsecond + 500) // 1000  # half a millisecond rounds up, as in bulk
    if not MIN_TS <= ms < MAX_TS:
        raise ValueError(f"{fieldname} {_show(s)} is outside 1990-01-01..2100-01-01")
    return ms


def _show(s: str, n: int = 40) -> str:
    return repr(s if len(s) <= n else s[:n] + "...")


def clean_id(value: Any, fieldname: str, max_len: int, kind: str = "") -> str | None:
    """Check one identifier; return its canonical text, ``None`` when absent, or raise ``ValueError``."""
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, float) and math.isnan(value):
            return None
        raise ValueError(f"{fieldname} must be a string, not {type(value).__name__}")
    s = (_LINE_BREAKS.sub(" ", value) if kind == "address" else value).strip()  # an address on two lines
    if not s:
        return None
    if _CONTROL.search(s):
        raise ValueError(f"{fieldname} contains control characters")
    if len(s) > max_len:
        raise ValueError(f"{fieldname} is {len(s)} characters long; the limit is {max_len}")
    if kind == "email":
        s = s.lower()
    elif kind == "ip":
        try:
            s = str(ipaddress.ip_address(s))
        except ValueError:
            raise ValueError(f"{fieldname} {_show(s)} is not an IPv4 or IPv6 address") from None
    elif kind == "phone":
        digits = re.sub(r"[\s().-]", "", s)
        s = digits if re.fullmatch(r"\+?\d{3,20}", digits) else s
    return s


def parse_amount(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError("amount must be a number")
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _NAN_INF_WORDS:
            raise ValueError("amount must be a finite number (not NaN or Infinity)")
        if not _AMOUNT.match(text):  # plain ASCII decimal notation only, as in bulk files
            raise ValueError(f"amount {_show(value)} is not a number")
        value = float(text)
    if not isinstance(value, (int, float)):
        raise ValueError(f"amount must be a number, not {type(value).__name__}")
    if isinstance(value, int) and abs(value) > MAX_AMOUNT:  # checked before float(), which overflows past 1e308
        raise ValueError("amount is negative" if value < 0 else f"amount is above {MAX_AMOUNT:g}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError("amount must be a finite number (not NaN or Infinity)")
    if v < 0:
        raise ValueError(f"amount {v:g} is negative")
    if v > MAX_AMOUNT:
        raise ValueError(f"amount {v:g} is above {MAX_AMOUNT:g}")
    return v


def parse_flag(value: Any, fieldname: str = "is_fraud") -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()) or value != value:  # blank, or NaN
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "0.0", "1.0", "true", "false"):
        w = value.strip().lower()
        return 1 if w in ("1", "1.0", "true") else 0
    raise ValueError(f"{fieldname} must be 0 or 1, not {_show(str(value))}")


def check_currency(value: Any) -> str | None:
    s = clean_id(value, "currency", 3)
    if s is not None and (not re.fullmatch(r"[A-Za-z]{3}", s) or s.upper() not in _ISO_4217):
        raise ValueError(f"currency {_show(s if not re.fullmatch(r'[A-Za-z]{3}', s) else s.upper())} is not an "
                         "ISO 4217 code")
    return None if s is None else s.upper()


def check_country(value: Any) -> str | None:
    s = clean_id(value, "country", 2 + 8)  # ASCII letters only, checked before any case mapping
    if s is not None and (not re.fullmatch(r"[A-Za-z]{2}", s) or not _COUNTRY.match(s.upper())):
        raise ValueError(f"country {_show(s if not re.fullmatch(r'[A-Za-z]{2}', s) else s.upper())} is not an "
                         "ISO 3166 two-letter code")
    return None if s is None else s.upper()


def check_choice(value: Any, fieldname: str, choices: Sequence[str]) -> str | None:
    """One of ``choices`` (case and surrounding space ignored), ``None`` when blank, else ``ValueError``.

    >>> check_choice(" Declined ", "auth_result", AUTH_RESULTS), check_choice("", "auth_result", AUTH_RESULTS)
    ('declined', None)
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{fieldname} must be one of {', '.join(choices)}, not {type(value).__name__}")
    s = value.strip().lower()
    if not s:
        return None
    if s not in choices:
        raise ValueError(f"{fieldname} {_show(value)} is not one of {', '.join(choices)}")
    return s


_BIN = re.compile(r"^[0-9]{4,11}$")


def check_bin(value: Any) -> str | None:
    """A card BIN: 4 to 11 digits (the issuer's first digits of a card number), ``None`` when blank."""
    s = clean_id(value, BIN_TYPE, 11 + 8)
    if s is None:
        return None
    if not _BIN.match(s):
        raise ValueError(f"{BIN_TYPE} {_show(s)} is not 4 to 11 digits")
    return s


def card_bin_of(card: str | None) -> str | None:
    """The BIN (first 6 digits) of a full card number, before it is hashed; ``None`` for other card ids.

    >>> card_bin_of("4111 1111 1111 1111"), card_bin_of("C12")
    ('411111', None)
    """
    if card is None:
        return None
    digits = card_number(card)
    return digits[:6] if digits is not None else None


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _kind(name: str) -> str:
    return name if name in ("email", "ip", "phone", "address") else ""


# ---------------------------------------------------------------- privacy: keyed hashing at ingest
#: Identifier types replaced by a keyed hash when a ``pii_key`` is set.
PII_TYPES = ("email", "phone", "address")
#: Key used for card numbers when no ``pii_key`` is set. It is public (it is in this source), so it only keeps
#: numbers out of plain sight: anyone with the store can test guesses. Set ``pii_key`` for real protection.
FALLBACK_PII_KEY = "graphfraud-builtin-card-key-set-pii_key-for-real-protection"
_PROTECTED = re.compile(r"^h:[0-9a-f]{32}$")
_PAN_CHARS = re.compile(r"^[0-9][0-9 -]{11,}[0-9]$")
# a card number written in the usual groups with another separator (one kind per number; NBSP, narrow NBSP,
# dot, slash): 4-4-4-4 (plus 1-3 digits), 4-6-5, 4-6-4; not any run, so dates and versions stay
_PAN_GROUPED = ("[0-9]{4}(?P<s>[./\u00a0\u202f])(?:[0-9]{4}(?P=s)[0-9]{4}(?P=s)[0-9]{4}(?:(?P=s)[0-9]{1,3})?"
                "|[0-9]{6}(?P=s)[0-9]{4,5})")
_PAN_GROUPED_WHOLE = re.compile(_PAN_GROUPED + "$")
_PAN_CANDIDATE = "[0-9][0-9 ./\u00a0\u202f-]{11,}[0-9]"  # a superset of both shapes, for column filters


def luhn_ok(digits: str) -> bool:
    """``True`` when the digit string passes the Luhn check (the checksum of payment card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_number(value: str) -> str | None:
    """The digits of ``value`` when it looks like a full card number (13 to 19 digits once spaces and dashes
    are removed, or in the usual groups separated by dots, slashes or no-break spaces, passing the Luhn
    check), else ``None``.

    >>> card_number("4111 1111-1111 1111"), card_number("4111.1111.1111.1111"), card_number("C824333357352")
    ('4111111111111111', '4111111111111111', None)
    """
    if _PAN_CHARS.match(value):
        digits = value.replace(" ", "").replace("-", "")
    elif _PAN_GROUPED_WHOLE.match(value):
        digits = re.sub(r"[^0-9]", "", value)
    else:
        return None
    if not (13 <= len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        return None
    return digits if luhn_ok(digits) else None


def keyed_hash(value: str, key: str) -> str:
    """``"h:"`` + the first 32 hex digits of HMAC-SHA256(key, value)."""
    return "h:" + hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def protect_identifier(kind: str, value: str, key: str | None) -> str:
    """The stored form of one (already cleaned) identifier of type ``kind``.

    With a ``key``, identifiers of :data:`PII_TYPES` become :func:`keyed_hash` values. A ``card`` that looks
    like a full card number (:func:`card_number`) is always hashed: with ``key``, or with
    :data:`FALLBACK_PII_KEY` when none is set. Values that are hashes already are left as they are (loading
    exported data twice gives the same ids). Everything else is returned unchanged.

    >>> protect_identifier("email", "ann@x.org", "k")
    'h:012f8a460ffa72007f7ea4c016534dfb'
    >>> protect_identifier("card", "4111111111111111", None).startswith("h:")
    True
    >>> protect_identifier("device", "D1", "k")
    'D1'
    """
    if _PROTECTED.match(value):
        return value
    if kind == "card":
        digits = card_number(value)
        return keyed_hash(digits, key or FALLBACK_PII_KEY) if digits is not None else value
    if key and kind in PII_TYPES:
        return keyed_hash(value, key)
    return value


# a run of 13-19 digits (single spaces or dashes between) standing alone: not glued to letters or to more
# digits (a hash's hex digits, a prefixed id); the same boundaries as :func:`card_number` on a whole value
_CARD_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?<![0-9][ -])[0-9](?:[ -]?[0-9]){12,18}(?![ -]?[0-9])(?![A-Za-z])")
_CARD_GROUPED_IN_TEXT = re.compile("(?<![0-9A-Za-z])(?<![0-9][./\u00a0\u202f])" + _PAN_GROUPED
                                   + "(?![./\u00a0\u202f]?[0-9])(?![A-Za-z])")


def protect_card_numbers(text: str, key: str | None) -> str:
    """``text`` with every card number in it (:func:`card_number`: 13-19 digits, spaces and dashes allowed, or
    the usual groups separated by dots, slashes or no-break spaces, passing the Luhn check) replaced by its keyed hash, exactly as a ``card_id`` is protected, so an attribute
    holding the card of the transaction links by the same value. Attributes go through it at ingest; key
    fields (``transaction_id``, ``user_id``) do not (about one random 16-digit number in ten passes Luhn);
    free-text fields (:data:`FREE_TEXT_FIELDS`) do.

    >>> protect_card_numbers("4111 1111 1111 1111", None) == protect_identifier("card", "4111111111111111", None)
    True
    >>> protect_card_numbers("paid with 5500-0055-5555-5559 at 10:00", "k").startswith("paid with h:")
    True
    >>> protect_card_numbers("order 1234567890123456", "k")  # fails the Luhn check: not a card number
    'order 1234567890123456'
    >>> h = protect_card_numbers("4111111111111111", "k"); protect_card_numbers(h, "k") == h  # idempotent
    True
    """
    if len(text) < 13:
        return text

    def hide(m: re.Match[str]) -> str:
        digits = card_number(m.group(0))
        return keyed_hash(digits, key or FALLBACK_PII_KEY) if digits is not None else m.group(0)

    return _CARD_GROUPED_IN_TEXT.sub(hide, _CARD_IN_TEXT.sub(hide, text))


def _protect_card_column(a: Any, key: str) -> Any:
    """:func:`protect_card_numbers` over an Arrow text column, once per distinct value holding digits enough."""
    import pyarrow.compute as pc

    cand = pc.filter(a, pc.fill_null(pc.match_substring_regex(a, _PAN_CANDIDATE), False))
    return _replace_distinct(a, cand, lambda u: protect_card_numbers(u, key))


def _replace_distinct(a: Any, cand: Any, fn: Callable[[str], str]) -> Any:
    """Column ``a`` with each distinct value of ``cand`` (a subset of it) replaced by ``fn(value)``: ``fn``
    runs once per distinct candidate, the replacement is one Arrow ``index_in`` + ``take``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    changed = {}
    for u in pc.unique(cand).to_pylist():
        if u is not None:
            v = fn(u)
            if v != u:
                changed[u] = v
    if not changed:
        return a
    pos = pc.index_in(a, value_set=pa.array(list(changed), a.type))
    return pc.coalesce(pc.take(pa.array(list(changed.values()), a.type), pos), a)


def stored_identifier(kind: str, value: str, key: str | None) -> str:
    """How an identifier someone looks up is stored: cleaned as at ingest, then :func:`protect_identifier`.

    Lets a search or an address name an identifier the way people write it (``Ann@X.org``, a card
    number) while the store holds only its canonical, possibly hashed, form. Values that cannot be
    cleaned are returned as given (they match nothing).

    >>> stored_identifier("email", " Ann@X.org ", "k") == protect_identifier("email", "ann@x.org", "k")
    True
    >>> stored_identifier("ip", "010.1.1.1", None)
    '010.1.1.1'
    >>> stored_identifier("device", "D1", "k")
    'D1'
    """
    try:
        cleaned = clean_id(value, "id", max(len(value), 1), _kind(kind))
    except ValueError:
        return value
    return protect_identifier(kind, cleaned, key) if cleaned is not None else value


def redact(value: Any, keep: int = 2) -> str:
    """A short form of a value for messages and logs: its first and last ``keep`` characters and its length
    (``'an…rg' (9 chars)``); never the whole of an email, phone or card number.

    >>> redact("ann@example.org")
    "'an…rg' (15 chars)"
    """
    s = str(value)
    if len(s) <= 2 * keep + 1:
        return f"'{'*' * len(s)}' ({len(s)} chars)"
    return f"'{s[:keep]}…{s[-keep:]}' ({len(s)} chars)"


def _pii_key(key: str | None) -> str:
    if key is not None:
        return key
    from . import settings

    return str(settings.get("pii_key") or "")


def _protect(kind: str, value: str | None, key: str) -> str | None:
    return None if value is None else protect_identifier(kind, value, key)


# ---------------------------------------------------------------- one record
def validate_record(data: Mapping[str, Any], *, extra_types: Sequence[str] = (), max_id_length: int = 256,
                    keep_attributes: bool = True, pii_key: str | None = None) -> Transaction:
    """Validate one record (a dict from JSON or a CSV row) into a :class:`Transaction`.

    ``pii_key`` (default: the ``pii_key`` setting) keys the hash that replaces personal identifiers
    (:func:`protect_identifier`); full card numbers are hashed even without it.

    Raises :class:`~graphfraud.errors.ValidationError` listing every broken field at once.

    >>> validate_record({"transaction_id": "t", "timestamp": "2026-01-01", "user_id": "u", "amount": -1})
    Traceback (most recent call last):
    ...
    graphfraud.errors.ValidationError: The transaction is not valid: amount -1 is negative.
    """
    if not isinstance(data, Mapping):
        raise ValidationError("A transaction must be a JSON object.", ["body: expected an object"],
                              code="invalid_transaction")
    errors: list[str] = []
    out: dict[str, Any] = {}

    def run(name: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ValueError as e:
            errors.append(str(e))
            return None

    for name in REQUIRED:
        v = data.get(name)
        if v is None or (isinstance(v, str) and not v.strip()):
            errors.append(f"{name} is required")
    out["transaction_id"] = run("transaction_id", clean_id, data.get("transaction_id"), "transaction_id",
                                max_id_length)
    out["user_id"] = run("user_id", clean_id, data.get("user_id"), "user_id", max_id_length)
    if not _blank(data.get("timestamp")):
        out["ts"] = run("timestamp", parse_ts, data.get("timestamp"))
    if not _blank(data.get("amount")):
        out["amount"] = run("amount", parse_amount, data.get("amount"))
    key = _pii_key(pii_key)
    card_bin = None
    for col, typ in ENTITY_COLUMNS.items():
        cleaned = run(col, clean_id, data.get(col), col, max_id_length, _kind(typ))
        if col == "card_id":
            card_bin = card_bin_of(cleaned)
        out[col] = _protect(typ, cleaned, key)
    out["currency"] = run("currency", check_currency, data.get("currency"))
    out["country"] = run("country", check_country, data.get("country"))
    out["is_fraud"] = run("is_fraud", parse_flag, data.get("is_fraud"))
    la = data.get("labelled_at")
    blank = la is None or (isinstance(la, str) and not la.strip())
    out["labelled_at"] = None if blank else run("labelled_at", parse_ts, la, "labelled_at")
    if out["labelled_at"] is not None and out.get("ts") is not None and out["labelled_at"] < out["ts"]:
        errors.append("labelled_at is before the transaction's timestamp")
    out["counterparty_id"] = run("counterparty_id", clean_id, data.get("counterparty_id"), "counterparty_id",
                                 max_id_length)
    out["fraud_type"] = run("fraud_type", check_choice, data.get("fraud_type"), "fraud_type", FRAUD_TYPES)
    if out["fraud_type"] is not None and out["is_fraud"] != 1:
        errors.append("fraud_type is given but is_fraud is not 1")
    out["auth_result"] = run("auth_result", check_choice, data.get("auth_result"), "auth_result", AUTH_RESULTS)
    for name in FREE_TEXT_FIELDS:
        text = run(name, clean_id, data.get(name), name, MAX_REASON_LENGTH)
        out[name] = None if text is None else protect_card_numbers(text, key)
    extra: dict[str, str] = {}
    for t in extra_types:
        v = _protect(t, run(t, clean_id, data.get(t), t, max_id_length, _kind(t)), key)
        if v is not None:
            extra[t] = v
    if BIN_TYPE not in extra_types:
        given = run(BIN_TYPE, check_bin, data.get(BIN_TYPE))
        if given is not None or card_bin is not None:
            extra[BIN_TYPE] = given if given is not None else card_bin  # type: ignore[assignment]
    attrs: dict[str, str] = {}
    if keep_attributes:
        known = set(CANONICAL) | set(extra_types) | {BIN_TYPE}
        for k, v in data.items():
            if k in known or v is None or v == "":
                continue
            if not isinstance(k, str) or _CONTROL.search(k) or len(k) > 64:
                errors.append(f"attribute name {_show(str(k))} is not acceptable")
                continue
            if isinstance(v, (dict, list)):
                errors.append(f"attribute {k} must be a plain value, not a {type(v).__name__}")
                continue
            if isinstance(v, float) and not math.isfinite(v):
                errors.append(f"attribute {k} must be finite")
                continue
            sv = _attribute_text(v)
            if not sv:
                continue
            if _CONTROL_TEXT.search(sv):
                errors.append(f"attribute {k} contains control characters")
                continue
            if len(sv) > 4 * max_id_length:
                errors.append(f"attribute {k} is {len(sv)} characters long; the limit is {4 * max_id_length}")
                continue
            attrs[k] = protect_card_numbers(sv, key)
    if errors:
        # one message naming every field; duplicates (a required field also failing a rule) once
        seen = list(dict.fromkeys(errors))
        raise ValidationError("The transaction is not valid: " + "; ".join(seen) + ".", seen,
                              code="invalid_transaction")
    return Transaction(extra=extra, attrs=attrs, **out)


def _attribute_text(v: Any) -> str:
    """An attribute as stored: a number by its value (``1E2`` is ``100``), a boolean as JSON writes it.

    >>> [_attribute_text(v) for v in (100, 1e2, 2.5, True, " x ")]
    ['100', '100', '2.5', 'true', 'x']
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53 else str(v).strip()


# ---------------------------------------------------------------- a bulk chunk
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_NAN_INF = r"^[+-]?(nan|inf|infinity)$"
_PLAIN_IPV4 = r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$"
_CONTROL_RE2 = r"[\x00-\x1f\x7f]"
_CONTROL_TEXT_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def validate_frame(data: Any, *, extra_types: Sequence[str] = (), max_id_length: int = 256,
                   first_row: int = 1, pii_key: str | None = None) -> tuple[Any, list[tuple[int, str]]]:
    """Validate a chunk with the rules of :func:`validate_record`, column by column (Arrow compute).

    Identifiers are protected by :func:`protect_identifier` (once per distinct value), keyed by ``pii_key``
    (default: the ``pii_key`` setting), exactly as :func:`validate_record` does.

    ``data`` is a pyarrow Table or a pandas DataFrame whose columns are text. Returns ``(good, rejects)``:
    ``good`` is a pandas DataFrame with the canonical columns (``ts`` and ``labelled_at`` as int64
    milliseconds, ``amount`` float64, identifiers as text or ``None``, ``extra`` and ``attrs`` as dicts or
    ``None``) plus ``row``; ``rejects`` lists ``(row, reason)`` where ``row`` is the 1-based data row
    number (the header is not counted) and ``first_row`` is the number of the chunk's first row.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    key = _pii_key(pii_key)
    names = [str(c) for c in table.column_names]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ValidationError(f"Required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                              f"missing; the file has {', '.join(names) or 'no columns'}. "
                              "Rename the columns or map them in a mapping file.",
                              [f"{c}: column missing" for c in missing], code="missing_column")
    n = table.num_rows
    rows = np.arange(first_row, first_row + n)
    reasons: dict[int, list[str]] = {}
    bad = np.zeros(n, dtype=bool)

    def flag(mask: Any, msg: Any) -> None:
        m = mask.to_numpy(zero_copy_only=False) if hasattr(mask, "to_numpy") else np.asarray(mask)
        idx = np.flatnonzero(np.asarray(m, dtype=bool))
        if not len(idx):
            return
        bad[idx] = True
        for i in idx:
            reasons.setdefault(int(i), []).append(msg(int(i)) if callable(msg) else msg)

    def col(name: str) -> Any:
        """The column as trimmed text with empty strings as nulls."""
        if name not in names:
            return pa.nulls(n, pa.string())
        a = table.column(name)
        a = a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
        if not pa.types.is_string(a.type) and not pa.types.is_large_string(a.type):
            a = pc.cast(a, pa.string())
        a = pc.utf8_trim_whitespace(a)
        return pc.if_else(pc.equal(a, ""), pa.scalar(None, a.type), a)

    def present(a: Any) -> Any:
        return pc.is_valid(a).to_numpy(zero_copy_only=False)

    def ids(name: str, kind: str = "", kind_of_type: str = "") -> Any:
        a = col(name) if kind != "address" else pc.replace_substring_regex(col(name), _LINE_BREAKS_RE2, " ")
        if a.null_count == n:
            return a
        flag(pc.fill_null(pc.match_substring_regex(a, _CONTROL_RE2), False), f"{name} contains control characters")
        long = pc.fill_null(pc.greater(pc.utf8_length(a), max_id_length), False)
        flag(long, lambda i: f"{name} is {len(a[i].as_py())} characters long; the limit is {max_id_length}")
        if kind in ("ip", "phone", "email"):
            plain = pc.fill_null(pc.match_substring_regex(a, _PLAIN_IPV4), True) if kind == "ip" else None
            todo = a if plain is None else pc.if_else(plain, pa.scalar(None, a.type), a)
            uniq = pc.unique(todo).to_pylist()
            mapped: dict[str, Any] = {}
            errs: dict[str, str] = {}
            for u in uniq:
                if u is None:
                    continue
                try:
                    mapped[u] = clean_id(u, name, max_id_length, kind)
                except ValueError as e:
                    errs[u] = str(e)
            if errs:
                is_err = pc.is_in(a, value_set=pa.array(list(errs), a.type))
                flag(pc.fill_null(is_err, False), lambda i: errs[a[i].as_py()])
            if mapped:
                keys = pa.array(list(mapped), a.type)
                pos = pc.index_in(a, value_set=keys)
                vals = pa.array(list(mapped.values()), a.type)
                a = pc.coalesce(pc.take(vals, pos), pc.if_else(pc.is_in(a, value_set=pa.array(list(errs) or [""],
                                                                                                a.type)),
                                                               pa.scalar(None, a.type), a))
            elif errs:
                a = pc.if_else(pc.is_in(a, value_set=pa.array(list(errs), a.type)), pa.scalar(None, a.type), a)
        return _protect_column(a, kind_of_type, key)

    for c in REQUIRED:
        flag(~present(col(c)), f"{c} is required")
    cols: dict[str, Any] = {"transaction_id": ids("transaction_id"), "user_id": ids("user_id")}

    def times(name: str) -> tuple[Any, Any]:
        a = col(name)
        p = present(a)
        ms = np.zeros(n, dtype="int64")
        if p.any():
            shape = pc.fill_null(pc.match_substring_regex(a, _TS.pattern), False).to_numpy(zero_copy_only=False)
            flag(p & ~shape, lambda i: f"{name} {_show(a[i].as_py())} is not an ISO 8601 timestamp"
                 + _number_hint(a[i].as_py()))
            ok = p & shape
            # years outside the accepted range are refused before conversion (pandas' nanosecond range
            # would overflow on them); the single-record path refuses them by the same bounds
            year = pc.cast(pc.utf8_slice_codeunits(pc.if_else(pa.array(ok), a, pa.scalar("2000", a.type)), 0, 4),
                           pa.int32()).to_numpy(zero_copy_only=False)
            far = ok & ((year < 1989) | (year > 2100))
            flag(far, lambda i: f"{name} {_show(a[i].as_py())} is outside 1990-01-01..2100-01-01")
            ok = ok & ~far
            sv = pd.Series(a.to_numpy(zero_copy_only=False), dtype=object).where(ok, None)
            conv = pd.to_datetime(sv, utc=True, errors="coerce", format="ISO8601")
            val = conv.notna().to_numpy()
            flag(ok & ~val, lambda i: f"{name} {_show(a[i].as_py())} is not a valid date and time")
            ns = conv.to_numpy(dtype="datetime64[ns]").astype("int64")
            m = np.where(val, np.floor_divide(ns + 500_000, 1_000_000), 0)
            flag(val & ((m < MIN_TS) | (m >= MAX_TS)),
                 lambda i: f"{name} {_show(a[i].as_py())} is outside 1990-01-01..2100-01-01")
            ms = np.where(val, m, 0)
        return ms, p

    ts, ts_p = times("timestamp")
    cols["ts"] = ts
    am = col("amount")
    ap = present(am)
    low = pc.utf8_lower(am)
    num_shape = pc.fill_null(pc.match_substring_regex(am, _NUMBER), False).to_numpy(zero_copy_only=False)
    naninf = pc.fill_null(pc.match_substring_regex(low, _NAN_INF), False).to_numpy(zero_copy_only=False)
    flag(ap & ~num_shape & ~naninf, lambda i: f"amount {_show(am[i].as_py())} is not a number")
    flag(naninf, "amount must be a finite number (not NaN or Infinity)")
    num = pc.cast(pc.if_else(pa.array(num_shape), am, pa.scalar(None, am.type)), pa.float64())
    numv = num.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        flag(num_shape & ~np.isfinite(numv), "amount must be a finite number (not NaN or Infinity)")
        flag(num_shape & (numv < 0), lambda i: f"amount {numv[i]:g} is negative")
        flag(num_shape & np.isfinite(numv) & (numv > MAX_AMOUNT), lambda i: f"amount {numv[i]:g} is above "
             f"{MAX_AMOUNT:g}")
    cols["amount"] = np.where(num_shape & np.isfinite(numv), numv, 0.0)
    bins = _bin_column(col("card_id"))  # before the card number is hashed
    for c, typ in ENTITY_COLUMNS.items():
        cols[c] = ids(c, _kind(typ), typ)
    if BIN_TYPE in names and BIN_TYPE not in extra_types:
        given = col(BIN_TYPE)
        flag(pc.fill_null(pc.invert(pc.match_substring_regex(given, _BIN.pattern)), False),
             lambda i: f"{BIN_TYPE} {_show(given[i].as_py())} is not 4 to 11 digits")
        bins = pc.coalesce(given, bins)
    cols["counterparty_id"] = ids("counterparty_id")

    def choice(name: str, choices: Sequence[str]) -> Any:
        raw = col(name)
        low = pc.utf8_lower(raw)
        inside = pc.is_in(low, value_set=pa.array(list(choices))).to_numpy(zero_copy_only=False)
        flag(present(raw) & ~inside, lambda i: f"{name} {_show(str(raw[i].as_py()))} is not one of {', '.join(choices)}")
        return low

    cols["fraud_type"] = choice("fraud_type", FRAUD_TYPES)
    cols["auth_result"] = choice("auth_result", AUTH_RESULTS)
    for name in FREE_TEXT_FIELDS:
        text = col(name)
        flag(pc.fill_null(pc.match_substring_regex(text, _CONTROL_RE2), False), f"{name} contains control characters")
        flag(pc.fill_null(pc.greater(pc.utf8_length(text), MAX_REASON_LENGTH), False), lambda i, t=text, c=name:
             f"{c} is {len(t[i].as_py())} characters long; the limit is {MAX_REASON_LENGTH}")
        cols[name] = _protect_card_column(text, key)
    cur0 = col("currency")
    flag(pc.fill_null(pc.invert(pc.match_substring_regex(cur0, r"^[A-Za-z]{3}$")), False),
         lambda i: f"currency {_show(cur0[i].as_py())} is not an ISO 4217 code")
    cur = pc.utf8_upper(cur0)
    if cur.null_count < n:
        flag(present(cur) & ~pc.is_in(cur, value_set=pa.array(sorted(_ISO_4217))).to_numpy(zero_copy_only=False)
             & pc.fill_null(pc.match_substring_regex(cur0, r"^[A-Za-z]{3}$"), False).to_numpy(zero_copy_only=False),
             lambda i: f"currency {_show(cur[i].as_py())} is not an ISO 4217 code")
    cols["currency"] = cur
    co0 = col("country")
    flag(pc.fill_null(pc.invert(pc.match_substring_regex(co0, r"^[A-Za-z]{2}$")), False),
         lambda i: f"country {_show(co0[i].as_py())} is not an ISO 3166 two-letter code")
    co = pc.utf8_upper(co0)
    if co.null_count < n:
        flag(present(co) & ~pc.fill_null(pc.match_substring_regex(co, _COUNTRY.pattern), True).to_numpy(
            zero_copy_only=False) & pc.fill_null(pc.match_substring_regex(co0, r"^[A-Za-z]{2}$"), False).to_numpy(
            zero_copy_only=False), lambda i: f"country {_show(co[i].as_py())} is not an ISO 3166 two-letter code")
    cols["country"] = co
    fr = col("is_fraud")
    fl = np.full(n, -1, dtype="int8")
    if fr.null_count < n:
        frl = pc.utf8_lower(fr)
        one = pc.fill_null(pc.is_in(frl, value_set=pa.array(["1", "1.0", "true"])), False).to_numpy(
            zero_copy_only=False)
        zero = pc.fill_null(pc.is_in(frl, value_set=pa.array(["0", "0.0", "false"])), False).to_numpy(
            zero_copy_only=False)
        flag(present(fr) & ~one & ~zero, lambda i: f"is_fraud must be 0 or 1, not {_show(str(fr[i].as_py()))}")
        fl[one] = 1
        fl[zero] = 0
    la, la_p = times("labelled_at")
    flag(la_p & ts_p & (la < ts), "labelled_at is before the transaction's timestamp")
    flag(present(cols["fraud_type"]) & (fl != 1), "fraud_type is given but is_fraud is not 1")
    ex = {t: ids(t, _kind(t), t).to_pylist() for t in extra_types}
    if BIN_TYPE not in extra_types and bins.null_count < n:
        ex[BIN_TYPE] = bins.to_pylist()
    if ex:
        extra = [({t: v[i] for t, v in ex.items() if v[i] is not None} or None) for i in range(n)]
    else:
        extra = [None] * n
    known = set(CANONICAL) | set(extra_types) | {BIN_TYPE}
    other = [c for c in names if c not in known]
    if other:
        for c in other:
            av = col(c)
            if av.null_count == n:
                continue
            flag(pc.fill_null(pc.match_substring_regex(av, _CONTROL_TEXT_RE2), False),
                 f"attribute {c} contains control characters")
            flag(pc.fill_null(pc.greater(pc.utf8_length(av), 4 * max_id_length), False),
                 lambda i, av=av, c=c: f"attribute {c} is {len(av[i].as_py())} characters long; the limit is "
                 f"{4 * max_id_length}")
        ov = {c: _protect_card_column(col(c), key).to_pylist() for c in other}
        attrs = [({c: ov[c][i] for c in other if ov[c][i] is not None} or None) for i in range(n)]
    else:
        attrs = [None] * n
    keep = ~bad
    out = pd.DataFrame({
        "transaction_id": _obj(cols["transaction_id"], keep), "ts": cols["ts"][keep],
        "user_id": _obj(cols["user_id"], keep), "amount": cols["amount"][keep],
        **{c: _obj(cols[c], keep) for c in ENTITY_COLUMNS},
        "currency": _obj(cols["currency"], keep), "country": _obj(cols["country"], keep),
        "is_fraud": pd.array(np.where(fl >= 0, fl, 0)[keep], dtype="Int8"),
        "labelled_at": pd.array(la[keep], dtype="Int64"),
        "extra": [e for e, k in zip(extra, keep) if k], "attrs": [e for e, k in zip(attrs, keep) if k],
        **{c: _obj(cols[c], keep) for c in MORE_FIELDS},
        "row": rows[keep]})
    out.loc[fl[keep] < 0, "is_fraud"] = pd.NA
    out.loc[~la_p[keep], "labelled_at"] = pd.NA
    rejects = [(int(rows[i]), "; ".join(dict.fromkeys(reasons[i]))) for i in sorted(reasons)]
    return out, rejects


def _protect_column(a: Any, kind: str, key: str) -> Any:
    """:func:`protect_identifier` over an Arrow text column, once per distinct value that may change."""
    import pyarrow.compute as pc

    cand = a
    if kind == "card":  # only values shaped like a card number can change: found column-wise, checked one by one
        cand = pc.filter(a, pc.fill_null(pc.match_substring_regex(a, f"^{_PAN_CANDIDATE}$"), False))
    elif not (key and kind in PII_TYPES):
        return a
    return _replace_distinct(a, cand, lambda u: protect_identifier(kind, u, key))


def _bin_column(cards: Any) -> Any:
    """The BIN of each full card number in an Arrow text column of card ids (null for other ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cand = pc.filter(cards, pc.fill_null(pc.match_substring_regex(cards, f"^{_PAN_CANDIDATE}$"), False))
    found = {u: b for u in pc.unique(cand).to_pylist() if u is not None and (b := card_bin_of(u)) is not None}
    if not found:
        return pa.nulls(len(cards), pa.string())
    pos = pc.index_in(cards, value_set=pa.array(list(found), pa.string()))
    return pc.take(pa.array(list(found.values()), pa.string()), pos)


def _obj(a: Any, keep: Any) -> Any:
    """An Arrow text column, filtered, as a numpy object array with ``None`` for missing values."""
    import numpy as np
    import pyarrow as pa

    import pandas as pd

    arr = a.filter(pa.array(keep)).to_numpy(zero_copy_only=False).astype(object) if len(a) else np.array([], object)
    return pd.Series(arr, dtype=object)  # object dtype keeps None for absent values (pandas 3 would use NaN)


# ---------------------------------------------------------------- labels
@dataclass(slots=True)
class Label:
    """A label event: a transaction is fraud (1) or not (0), or a user is a fraudster, mule, victim or legitimate.

    ``known_at`` is when the label became known (epoch ms); ``None`` means "the transaction's time plus
    the label delay", resolved by whoever reads it. ``fraud_type`` (one of :data:`FRAUD_TYPES`, only with a
    fraud label) says who the fraud was done by and to.
    """

    subject: str  # "transaction" or "user"
    subject_id: str
    value: str  # "1"/"0" for transactions; a USER_LABELS word for users
    known_at: int | None
    source: str = "file"
    fraud_type: str | None = None


def validate_label(data: Mapping[str, Any], *, source: str = "file", max_id_length: int = 256) -> Label:
    """Validate one label record: ``transaction_id`` + ``is_fraud`` or ``user_id`` + ``user_label``."""
    if not isinstance(data, Mapping):
        raise ValidationError("A label must be a JSON object.", ["body: expected an object"], code="invalid_label")
    errors: list[str] = []
    if source not in LABEL_SOURCES:
        errors.append(f"source {_show(str(source))} is not one of {', '.join(LABEL_SOURCES)}")
    known_at = None
    if data.get("labelled_at") not in (None, ""):
        try:
            known_at = parse_ts(data.get("labelled_at"), "labelled_at")
        except ValueError as e:
            errors.append(str(e))
    has_tx = data.get("transaction_id") not in (None, "")  # a transaction's row may name its user too:
    has_user = data.get("user_id") not in (None, "") and (data.get("user_label") not in (None, "") or not has_tx)
    subject = value = sid = fraud_type = None
    if has_tx == has_user:
        errors.append("label a transaction (transaction_id, is_fraud) or a user (user_id, user_label), "
                      + ("not both" if has_tx else "one of them"))
    elif has_tx:
        subject = "transaction"
        try:
            sid = clean_id(data.get("transaction_id"), "transaction_id", max_id_length)
            f = parse_flag(data.get("is_fraud"))
            if f is None:
                errors.append("is_fraud is required with transaction_id")
            value = str(f)
        except ValueError as e:
            errors.append(str(e))
        try:
            fraud_type = check_choice(data.get("fraud_type"), "fraud_type", FRAUD_TYPES)
            if fraud_type is not None and value != "1":
                errors.append("fraud_type is given but is_fraud is not 1")
        except ValueError as e:
            errors.append(str(e))
    else:
        subject = "user"
        try:
            sid = clean_id(data.get("user_id"), "user_id", max_id_length)
        except ValueError as e:
            errors.append(str(e))
        ul = str(data.get("user_label")).strip().lower() if isinstance(data.get("user_label"), str) else None
        if (value := ul if ul in USER_LABELS else None) is None:
            errors.append(f"user_label must be one of {', '.join(USER_LABELS)}")
    if errors:
        raise ValidationError("The label is not valid: " + "; ".join(seen := list(dict.fromkeys(errors))) + ".", seen,
                              code="invalid_label")
    assert subject is not None and sid is not None and value is not None
    return Label(subject, sid, value, known_at, source, fraud_type)
