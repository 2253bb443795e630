"""One table of settings: name, default, type, help and scope. Every setting of graphfraud is here.

The table feeds the defaults of the library, of the web app (:func:`webui.create_app` takes every setting
as an upper-cased config key: ``max_body_bytes`` is ``MAX_BODY_BYTES``), the CLI's help and
``docs/settings.md``, which :func:`render_docs` writes (``python -m graphfraud.settings > docs/settings.md``;
a test fails when the two differ). A setting named ``label_delay`` is read from ``GRAPHFRAUD_LABEL_DELAY``
in the environment when the caller gives no explicit value.

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


def _optional_bool(v: Any) -> bool | None:
    return None if v is None else _bool(v)


def _as_given(v: Any) -> Any:
    """Kept as given: a value that is not text, e.g. a callable from the app's config."""
    return v


#: How each kind of value reads in the docs.
KIND_NAMES: dict[Callable[[Any], Any], str] = {str: "text", int: "integer", float: "number",
                                               parse_duration: "duration", _bool: "yes/no",
                                               _optional_bool: "yes/no or unset", _as_given: "as given"}
#: Where a setting acts: the library and CLI, the web app (API, workers), or the investigator pages.
SCOPES = {"core": "Library, CLI and scoring", "web": "Web app: API and workers",
          "ui": "Investigator pages"}


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    kind: Callable[[Any], Any] = str
    scope: str = "core"

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
    Setting("neo4j_retry", 5.0, "Seconds a Neo4j store keeps retrying a read or write (and waits for a "
            "connection) when its server cannot be reached, before it answers that the store is unavailable "
            "(the API's 503); the driver's own 30 s held a payment that long. Raise it for bulk jobs against a "
            "cluster whose leader may move.", float),
    Setting("catch_up_interval", 0.0, "Seconds a serving process may go without reading other "
            "processes' writes (0: before every score).", float),
    Setting("client_timeout", 5.0, "Seconds `serve` gives a client to send its whole request, from its first "
            "byte (and, for each write, to take its answer) before closing the connection; a connection that "
            "has sent nothing yet is not handed to a worker for about that long. Each waiting client holds a "
            "worker (or a thread, with --threads): put a buffering proxy (nginx) in front of clients that are "
            "slow or far away.", float),
    Setting("engine_refresh_every", 30.0, "Seconds between catch-ups of the engine `serve` keeps for the "
            "workers it starts in place of dead ones (at low priority, off the request path), so one replays "
            "at most this long's traffic before it answers; 0: never (it replays all since the server started).",
            float),
    Setting("durability", "process", "When a write is acknowledged: 'process' (committed to the store file's "
            "log: survives kill -9 of any process; a power loss may lose the last moments) or 'full' (synced "
            "to disk before every answer: survives power loss, costs an fsync per write)."),
    Setting("mask_identifiers", False, "Mask identifiers of the mask_types for analysts (an admin can change "
            "it on the dashboard).", _bool),
    Setting("mask_types", "card,email,phone,address,bank_account,account", "Identifier types masked for analysts when "
            "masking is on, wherever they appear: pages, reasons, case titles, audit, exports, JSON (user ids, "
            "counterparties included, are never masked)."),
    Setting("session_max_age", "12h", "An investigator session ends this long after sign-in, however active.",
            parse_duration),
    Setting("session_idle", "1h", "An investigator session ends after this long without a request.",
            parse_duration),
    Setting("rules", "", "Path of the rules file (TOML) the scorer uses; empty: the rules shipped with "
            "graphfraud."),
    Setting("train_threads", 1, "OpenMP threads per classifier fit; one by default, as spinning threads slow "
            "fits badly on a machine shared with serving workers and loaders.", int),
    Setting("train_max_rows", 2_000_000, "Most labelled rows a training or backtest fit reads: past it, "
            "legitimate rows are drawn at the rate that fits (every fraud row is kept) and weighed back up for "
            "calibration and metrics, so a fit's memory stops growing with history.", int),
    Setting("extra_types", None, "Extra entity columns (comma-separated) that the engine gives features of "
            "their own and the API accepts; unset: the engine has none and the API accepts the link_types "
            "beyond the built-in ones.", _as_given),
    Setting("feature_attributes", None, "Attributes (comma-separated names) whose numeric values the model learns "
            "from as they are, each the feature attr_<name> (empty or not a number: missing): for data whose "
            "signal is in columns that name no one (balances, anonymised components, another system's scores). "
            "Set it alike for train, backtest and serve.", _as_given),
    # the web app (webui.create_app)
    Setting("api_key_cache_seconds", 5.0, "API keys are looked up again after this many seconds: a revoked "
            "key stops working within it.", float, "web"),
    Setting("max_future", "1d", "How far ahead of the server's clock the API takes a transaction's time; a "
            "later one is refused. One transaction dated years ahead would move the engine's clock there and "
            "stop its daily recomputations for every later score. 0 turns the check off.", parse_duration, "web"),
    Setting("scorer_startup_wait", 60.0, "Seconds a request waits for the scoring engine of a starting "
            "worker before answering that it is not ready.", float, "web"),
    Setting("scorer_factory", None, "What builds each worker's scorer: a callable(store) or "
            "'package.module:attr'; unset: graphfraud.scoring.Scorer.", _as_given, "web"),
    Setting("scorer_eager", False, "Build the scorer inside create_app instead of in a background thread "
            "(tests).", _bool, "web"),
    Setting("workers", 1, "Worker processes sharing the per-key rate limit (set by `graphfraud serve`).",
            int, "web"),
    Setting("metrics_dir", None, "Folder where workers share their metrics snapshots (set by `graphfraud "
            "serve`); unset: each worker reports its own.", _as_given, "web"),
    Setting("proxy_hops", 0, "Reverse proxies in front of the app whose X-Forwarded-For and X-Forwarded-Proto "
            "are trusted (1 behind one nginx); 0: forwarding headers are ignored and the connecting address is "
            "the client's (sign-in throttling and audit use it). Never more than the proxies really there: a "
            "client could name any address.", int, "web"),
    Setting("rings_every", 300.0, "Seconds between refreshes of the ring registry (/rings, the rings queue) by "
            "a low-priority process of `graphfraud serve`, when the store changed; 0: only `graphfraud rings` "
            "refreshes it.", float, "web"),
    Setting("metrics_flush_seconds", 5.0, "How often a worker shares its metrics snapshot: how stale "
            "another worker's scrape can be, in seconds.", float, "web"),
    # the investigator pages (webui.pages, webui.money, webui.uiauth)
    Setting("ui_hub_limit", 50, "In the network views, an identifier with more users than this is folded "
            "into one hub node.", int, "ui"),
    Setting("ui_login_attempts", 5, "Failed sign-ins allowed per account and address in ui_login_window "
            "before sign-in is refused for a while.", int, "ui"),
    Setting("ui_login_window", 300.0, "The window, in seconds, over which failed sign-ins are counted.",
            float, "ui"),
    Setting("ui_auto_rings", None, "Detect rings once when the ring registry is empty (under `graphfraud "
            "serve`, its ring refresher does it at the start; with rings_every 0, a worker); unset: on, unless "
            "the app is testing.", _optional_bool, "ui"),
    Setting("ui_label_tx_limit", 5000, "Most transactions per user labelled by one case decision.", int, "ui"),
    Setting("ui_flow_limit", 500, "Most transfers among a ring's members read for its money flow (page and "
            "network).", int, "ui"),
    Setting("ui_suspects_page", 50, "Accounts per page of the suspects queue.", int, "ui"),
    Setting("ui_suspects_limit", 1000, "Accounts kept (with reasons) in a worker's ranking: the suspects "
            "queue holds the best this many, and the best this many not known as fraud.", int, "ui"),
    Setting("ui_suspects_refresh", 60.0, "Seconds a ranking is shown before a changed store makes it "
            "recompute.", float, "ui"),
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
        kind = getattr(s.kind, "__name__", "value")
        raise ConfigError(f"Setting {name} ({s.env}) has the value {v!r}, which is not "
                          f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}.") from None


def extra_link_types(link_types: Any = None) -> tuple[str, ...]:
    """The identifier types beyond the built-in fields that link users: ``link_types`` (the setting when not
    given) less card, device, ip, ... A file loaded without a mapping takes its columns of these names as
    identifiers (``email``, ``phone``, ``address``, ...), as the API takes them in a request.

    >>> extra_link_types("card, device,email,phone")
    ('email', 'phone')
    """
    from .schema import BUILTIN_TYPES

    value = get("link_types") if link_types is None else link_types
    return tuple(t for t in (x.strip() for x in str(value).split(",")) if t and t not in BUILTIN_TYPES)


def render_docs() -> str:
    """The text of ``docs/settings.md``: every setting of the table, by scope, with its default and type."""

    def cell(v: Any) -> str:
        return "(unset)" if v is None else "(empty)" if v == "" else f"`{v}`"

    out = ["# Settings", "",
           "Every setting has a default and can be set in the environment as `GRAPHFRAUD_<NAME>`; the web app "
           "also reads it from its instance config as `<NAME>` (upper case). Core functions take explicit "
           "arguments; these are the defaults they fall back to. This page is generated from the table in "
           "`graphfraud/settings.py` (`python -m graphfraud.settings > docs/settings.md`); `tests/test_docs.py` "
           "fails when the two differ.", ""]
    for scope, title in SCOPES.items():
        out += [f"## {title}", "", "| setting | environment | default | type | meaning |", "|---|---|---|---|---|"]
        out += [f"| `{s.name}` | `{s.env}` | {cell(s.default)} | {KIND_NAMES[s.kind]} | {s.help} |"
                for s in SETTINGS if s.scope == scope]
        out.append("")
    out.append("Durations read like `7d`, `12h`, `30m`, `1d12h` or a number of seconds; yes/no values like "
               "`true`/`false`, `yes`/`no`, `1`/`0`.")
    return "\n".join(out) + "\n"


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


if __name__ == "__main__":  # pragma: no cover - python -m graphfraud.settings > docs/settings.md
    print(render_docs(), end="")
