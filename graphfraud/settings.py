"""One table of settings: name, default, type and help.

The table feeds the defaults of the library, the CLI's help and ``docs/settings.md`` (a test keeps the
docs in step). A setting named ``label_delay`` is read from ``GRAPHFRAUD_LABEL_DELAY`` in the environment
when the caller gives no explicit value.

Examples
--------
>>> get("max_batch_size")
1000
>>> parse_duration("1d12h")
129600.0
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str | float | int) -> float:
    """Read a duration such as ``7d``, ``12h``, ``30m``, ``1d12h`` or a number of seconds; return seconds.

    >>> parse_duration("30m")
    1800.0
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ConfigError(f"Duration {text!r} is negative; give a duration such as 1d or 12h.")
        return float(text)
    s = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ConfigError(f"Duration {text!r} is not understood; write it like 7d, 12h, 30m or 1d12h.")
    return total


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{v!r} is not a yes/no value; use true or false.")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    kind: Callable[[Any], Any] = str

    @property
    def env(self) -> str:
        return "GRAPHFRAUD_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("store", "./graphfraud.db", "Where the data lives: a file path for the embedded store, or a "
            "neo4j:// or bolt:// URL for Neo4j."),
    Setting("label_delay", "1d", "How long after its transaction a label without its own time becomes known "
            "(features never see a label before then).", parse_duration),
    Setting("max_id_length", 256, "Longest identifier accepted, in characters.", int),
    Setting("chunk_size", 100_000, "Rows per chunk when bulk loading; one chunk is one atomic write.", int),
    Setting("hub_limits", "card=20,device=20,ip=25,email=10,phone=10,address=15,default=20",
            "Per entity type: once an identifier is shared by more users than this, it is a hub: "
            "counted as a feature but no longer used to link users."),
    Setting("link_types", "card,device,ip,email,phone,address,account,bank_account",
            "Entity types that link users into clusters; every other type (merchant, country, ...) is "
            "context only."),
    Setting("snapshot_interval", "1d", "Event time between recomputations of PageRank, fraud proximity "
            "and the component rebuild; part of the point-in-time definition.", parse_duration),
    Setting("review_threshold", 0.5, "Scores at or above this are sent to review.", float),
    Setting("block_threshold", 0.85, "Scores at or above this are blocked.", float),
    Setting("weak_rule_multiple", 2.0, "A backtest flags a rule as weak when its precision on the test window "
            "is below this multiple of the test window's fraud rate.", float),
    Setting("max_body_bytes", 1_048_576, "Largest request body the API accepts, in bytes.", int),
    Setting("max_batch_size", 1000, "Most transactions in one POST /score/batch.", int),
    Setting("max_neighbourhood", 500, "Most nodes returned for one neighbourhood or ring view.", int),
    Setting("rate_limit", 5000, "Requests per second allowed per API key (0 turns the limit off).", float),
    Setting("rates", "", "Currency conversion rates to the base currency, as CUR=rate pairs "
            "(EUR=1.08,GBP=1.27); amounts in other currencies are compared as they are."),
    Setting("base_currency", "USD", "Currency that amounts are converted to when a rates table is given."),
    Setting("pii_key", "", "Key for the keyed hash (HMAC-SHA256) that replaces personal identifiers at "
            "ingest; empty keeps identifiers in clear, except full card numbers, which are always hashed."),
    Setting("secret_key", "", "The secret that signs investigator sessions and engine snapshots (at least 32 "
            "characters; the same on every host sharing a store). Empty: kept in the key file, never in the store."),
    Setting("key_file", "", "Owner-only file holding the secret when secret_key is empty, created on first "
            "use; empty: the store file's name + .key beside an embedded store, a file under "
            "$XDG_CONFIG_HOME/graphfraud for Neo4j."),
    Setting("ring_min_size", 3, "Fewest users for a cluster to count as a ring.", int),
    Setting("catch_up_interval", 0.0, "Seconds a serving process may go without reading other "
            "processes' writes (0: before every score).", float),
    Setting("durability", "process", "When a write is acknowledged: 'process' (committed to the store file's "
            "log: survives kill -9 of any process; a power loss may lose the last moments) or 'full' (synced "
            "to disk before every answer: survives power loss, costs an fsync per write)."),
    Setting("mask_identifiers", False, "Mask identifiers of the mask_types for analysts (an admin can change "
            "it on the dashboard).", _bool),
    Setting("mask_types", "card,email,phone,address,bank_account", "Identifier types masked for analysts when "
            "masking is on, wherever they appear: pages, reasons, case titles, audit, exports, JSON (user ids, "
            "counterparties included, are never masked)."),
    Setting("session_max_age", "12h", "An investigator session ends this long after sign-in, however active.",
            parse_duration),
    Setting("session_idle", "1h", "An investigator session ends after this long without a request.",
            parse_duration),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """Return a setting: an explicit override, else ``GRAPHFRAUD_<NAME>`` from the environment, else the default."""
    try:
        s = _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"There is no setting named {name!r}.") from None
    if overrides is not None and overrides.get(name) is not None:
        v = overrides[name]
    else:
        v = os.environ.get(s.env, s.default)
    try:
        return s.kind(v)
    except ConfigError:
        raise
    except (TypeError, ValueError):
        raise ConfigError(f"Setting {name} ({s.env}) has the value {v!r}, which is not a "
                          f"{getattr(s.kind, '__name__', 'value')}.") from None


def parse_pairs(text: str) -> dict[str, str]:
    """Read ``a=1,b=2`` into a dict of strings."""
    out: dict[str, str] = {}
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ConfigError(f"{part!r} should be NAME=VALUE.")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out
