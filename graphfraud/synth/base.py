"""Shared parts of the synthetic worlds: constants, identifier pools, amounts, timing, the table and its writer.

Every world is planned on integer handles (``Pool``); the id strings (users, cards, devices, IPs,
merchants) are drawn only once the plan is complete, from one generator per kind, so an id carries no
order and says nothing about who holds it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .. import progress
from ..errors import ValidationError

COLUMNS = ("transaction_id", "timestamp", "user_id", "amount", "currency", "card_id", "device_id", "ip",
           "merchant_id", "country", "is_fraud")
SHAPES = ("device_farm", "chain", "card_pool", "sleeper")
DEFAULT_DEVICE_IDS = ("00000000", "unknown-device")
DAY, HOUR = 86400.0, 3600.0

# Home countries (with their share of users), then travel-only destinations (share 0).
COUNTRY = np.array(["US", "GB", "DE", "FR", "ES", "IT", "NL", "IE", "CA", "MX", "JP", "BR", "TH", "AE"])
CURRENCY = np.array(["USD", "GBP", "EUR", "EUR", "EUR", "EUR", "EUR", "EUR", "CAD", "MXN", "JPY", "BRL",
                      "THB", "AED"])
HOME_P = np.array([.795, .06, .03, .03, .015, .015, .01, .005, .03, .01, 0, 0, 0, 0])
TZ = np.array([-5, 0, 1, 1, 1, 1, 1, 0, -5, -6, 9, -3, 7, 4])
# Local-hour shape of consumer spending: quiet at night, peaks at lunch and early evening.
DIURNAL = np.array([.15, .08, .05, .04, .04, .08, .2, .45, .7, .85, .95, 1.05, 1.2, 1.15, 1.0, .95, 1.0, 1.1,
                     1.25, 1.3, 1.2, .95, .6, .3])
DIURNAL = DIURNAL / DIURNAL.sum()
# Merchant categories: share of merchants, log-normal median amount and sigma.
CATS = ("grocery", "restaurant", "fuel", "retail", "online", "electronics", "gift_cards", "travel",
         "entertainment", "utilities")
CAT_P = np.array([.2, .22, .06, .18, .12, .05, .03, .04, .07, .03])
CAT_MU = np.log([45, 28, 40, 60, 50, 150, 50, 300, 30, 90])
CAT_SIG = np.array([.6, .6, .4, .9, 1.0, 1.0, .7, .9, .7, .5])
ELEC, GIFT, ONLINE, RETAIL, TRAVEL = 5, 6, 4, 3, 7


class Pool:
    """Integer handles for one kind of identifier; the id strings are drawn once the plan is complete."""

    def __init__(self, n_reserved: int = 0) -> None:
        self.n = n_reserved

    def new(self, k: int = 1) -> np.ndarray:
        out = np.arange(self.n, self.n + k, dtype=np.int64)
        self.n += k
        return out


def zipf(n: int, a: float, rng: np.random.Generator) -> np.ndarray:
    """Power-law weights over ``n`` items in random order (so popularity is not tied to the handle)."""
    w = 1.0 / np.arange(1, n + 1) ** a
    return rng.permutation(w / w.sum())


def digit_ids(rng: np.random.Generator, prefix: str, n: int, digits: int) -> np.ndarray:
    """``n`` distinct ids: ``prefix`` and ``digits`` random digits (no leading zero)."""
    return digit_strings(prefix, digit_numbers(rng, n, digits))


def digit_numbers(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
    """The numbers of :func:`digit_ids` (the same draws), to be made strings later by :func:`digit_strings`."""
    lo = 10 ** (digits - 1)
    return np.asarray(rng.choice(9 * lo, size=n, replace=False) + lo)


def digit_strings(prefix: str, nums: np.ndarray) -> np.ndarray:
    return np.array([prefix + s for s in nums.astype(str)], dtype=object)


def ip_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    # Public-looking unicast addresses: first octet 11-223 without 127, last octet 1-254.
    x = rng.choice(212 * 65536 * 254, size=n, replace=False)
    d, rest = 1 + x % 254, x // 254
    a = 11 + (rest >> 16)
    a = a + (a >= 127)
    parts = [pd.Series(p).astype(str) for p in (a, (rest >> 8) & 255, rest & 255, d)]
    return np.asarray((parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3]).to_numpy(dtype=object))


def amounts(rng: np.random.Generator, cats: np.ndarray, boost: float = 0.0,
             p_large: float = 0.006) -> np.ndarray:
    """Log-normal amounts per category; a few large purchases; gift cards in round denominations."""
    a = rng.lognormal(CAT_MU[cats] + boost, CAT_SIG[cats])
    large = rng.random(len(cats)) < p_large
    a[large] *= rng.lognormal(1.6, 0.5, int(large.sum()))
    gift = cats == GIFT
    a[gift] = np.maximum(25.0, np.round(a[gift] / 25.0) * 25.0)
    over = a > 20000.0  # redraw the extreme tail rather than pile it up on a cap
    a[over] = rng.uniform(5000.0, 20000.0, int(over.sum()))
    return np.asarray(np.round(np.maximum(a, 0.5), 2))


def diurnal(rng: np.random.Generator, t: np.ndarray, tz: np.ndarray, lo: np.ndarray,
             hi: np.ndarray) -> np.ndarray:
    """Move each time to a local hour drawn from the diurnal curve on the same local day, within [lo, hi)."""
    off = tz * HOUR
    day = np.floor((t + off) / DAY)
    hour = rng.choice(24, size=len(t), p=DIURNAL)
    out = day * DAY + hour * HOUR + rng.random(len(t)) * HOUR - off
    ok = (out >= lo) & (out < hi)
    return np.where(ok, out, t)


def pick(rng: np.random.Generator, options: np.ndarray, k: int) -> np.ndarray:
    """``k`` draws from ``options`` where every option is used at least once (when ``k`` allows)."""
    head = rng.permutation(options)[:k]
    return np.concatenate([head, rng.choice(options, size=max(0, k - len(head)))])


class Plan:
    """The mutable per-user tables and the transaction chunks collected while planting populations."""

    def __init__(self, rng: np.random.Generator, n: int, horizon: float) -> None:
        self.rng, self.n, self.horizon = rng, n, horizon
        self.cards, self.devices, self.ips = Pool(), Pool(len(DEFAULT_DEVICE_IDS)), Pool()
        self.chunks: list[dict[str, np.ndarray]] = []
        n_m = max(60, n // 25)
        self.mcat = rng.choice(len(CATS), size=n_m, p=CAT_P)
        self.mcat[:3], self.mcat[3:5] = ELEC, GIFT  # small worlds still need somewhere to cash out
        self.pop = zipf(n_m, 1.05, rng)  # merchant popularity
        self.big_ticket = np.flatnonzero(np.isin(self.mcat, (ELEC, GIFT, ONLINE, RETAIL, TRAVEL)))
        self.big_ticket_p = self.pop[self.big_ticket] / self.pop[self.big_ticket].sum()

    def add(self, t: np.ndarray, u: np.ndarray, amount: np.ndarray, country: np.ndarray | int, card: np.ndarray,
            dev: np.ndarray, ip: np.ndarray, merch: np.ndarray, fraud: np.ndarray | int,
            **extra: np.ndarray | int) -> None:
        """Add ``len(t)`` transactions; scalars broadcast, ``extra`` adds columns every chunk must carry."""
        k = len(t)
        chunk = {"t": np.clip(t, 0, self.horizon - 1), "u": np.broadcast_to(u, k),
                 "amount": amount, "country": np.broadcast_to(country, k),
                 "card": card, "dev": dev, "ip": ip, "merch": merch,
                 "fraud": np.broadcast_to(np.asarray(fraud, dtype=np.int8), k)}
        for key, val in extra.items():
            chunk[key] = np.broadcast_to(np.asarray(val, dtype=np.int64), k)
        self.chunks.append(chunk)


def cashout(plan: Plan, k: int, targets: np.ndarray, boost: float) -> tuple[np.ndarray, np.ndarray]:
    """Merchants and amounts for fraud or big-ticket spending: mostly ``targets``, some elsewhere."""
    rng = plan.rng
    other = rng.choice(plan.big_ticket, size=k, p=plan.big_ticket_p)
    m = np.where(rng.random(k) < 0.75, rng.choice(targets, size=k), other)
    return m, amounts(rng, plan.mcat[m], boost=boost, p_large=0.02)


def check_args(n_users: int, days: int, start: str) -> pd.Timestamp:
    """Refuse impossible world sizes; return ``start`` as a UTC timestamp."""
    if int(n_users) < 50:
        raise ValidationError(f"n_users must be at least 50, not {n_users}; ask for more users.",
                              ["n_users: at least 50"])
    if int(days) < 7:
        raise ValidationError(f"days must be at least 7, not {days}; ask for a longer period.",
                              ["days: at least 7"])
    try:
        t0 = pd.Timestamp(start)
    except ValueError as exc:
        raise ValidationError(f"start {start!r} is not a date; give it as YYYY-MM-DD.",
                              ["start: not a date"]) from exc
    return t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")


def iso(t0: pd.Timestamp, t: float) -> str:
    return str((t0 + pd.Timedelta(seconds=int(t))).strftime("%Y-%m-%dT%H:%M:%SZ"))


def stamps(t0: pd.Timestamp, t: np.ndarray) -> np.ndarray:
    """Offsets in seconds from ``t0`` as ISO-8601 UTC strings, to the second."""
    secs = t0.value // 10**9 + np.floor(t).astype(np.int64)
    return np.asarray(np.datetime_as_string(secs.astype("datetime64[s]"), unit="s", timezone="UTC").astype(object))


def assemble(plan: Plan, n_users: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Concatenate the plan's chunks in time order (emptying ``plan.chunks``) and draw every id string.

    Returns the columns (handles, sorted by time; ties in the same second in random order) and the id
    tables ``user``, ``card``, ``device``, ``ip``, ``merchant``; the card, device and IP tables end with
    ``""`` so handle ``-1`` reads as absent.
    """
    rng = plan.rng
    # The chunks are consumed and the columns reordered one at a time, so that at 10 million rows memory holds
    # about one copy of the columns rather than three.
    chunks, plan.chunks = plan.chunks, []
    cols = {key: np.concatenate([np.asarray(ch.pop(key)) for ch in chunks]) for key in list(chunks[0])}
    del chunks
    perm = rng.permutation(len(cols["t"]))  # so ties in time do not reveal which population wrote a row
    perm = perm[np.argsort(np.floor(cols["t"][perm]), kind="stable")]
    for key in cols:
        cols[key] = cols[key][perm]
    ids = {"user": digit_ids(rng, "U", n_users, 8),
           "card": np.append(digit_ids(rng, "C", plan.cards.n, 12), ""),
           "device": np.append(np.concatenate([np.array(DEFAULT_DEVICE_IDS, dtype=object),
                                               digit_ids(rng, "D", plan.devices.n - 2, 10)]), ""),
           "ip": np.append(ip_ids(rng, plan.ips.n), ""),
           "merchant": digit_ids(rng, "M", len(plan.mcat), 7)}
    return cols, ids


#: Rows written per block: the strings of one block are in memory at a time, with progress between blocks.
BLOCK_ROWS = 200_000
Column = Callable[[slice], Any]  # the values of one column for the rows of a block


class Table:
    """A transactions table whose columns are made a block of rows at a time.

    The plan's columns are cheap integer codes; the strings they stand for (ids, timestamps) cost far more
    than the codes, so a world is written a block at a time (:func:`save`) and only library callers ask for
    the whole :class:`pandas.DataFrame` (:meth:`frame`). Both come from :meth:`block`, so a file and a frame
    hold the same values.
    """

    def __init__(self, n_rows: int, columns: dict[str, Column]) -> None:
        self.n_rows, self.columns = int(n_rows), columns

    def __len__(self) -> int:
        return self.n_rows

    def block(self, rows: slice) -> pd.DataFrame:
        """The rows ``rows`` (a slice with a start and a stop) as a DataFrame."""
        return pd.DataFrame({name: make(rows) for name, make in self.columns.items()}, columns=list(self.columns))

    def frame(self) -> pd.DataFrame:
        """Every row (index from 0)."""
        return self.block(slice(0, self.n_rows))


def transaction_ids(rows: np.ndarray | slice) -> np.ndarray:
    """The ids ``T000000001``... of rows (numbered from 0), as strings."""
    idx = np.arange(rows.start, rows.stop) if isinstance(rows, slice) else np.asarray(rows)
    return np.array([f"T{i:09d}" for i in (idx + 1).tolist()], dtype=object)


def stamps_or_blank(t0: pd.Timestamp, at: np.ndarray) -> Column:
    """A column of :func:`stamps` of ``at``, ``""`` where ``at`` is NaN."""
    def make(rows: slice) -> np.ndarray:
        part = at[rows]
        ok = ~np.isnan(part)
        out = np.full(len(part), "", dtype=object)
        out[ok] = stamps(t0, part[ok])
        return out
    return make


def table(cols: dict[str, np.ndarray], ids: dict[str, np.ndarray], t0: pd.Timestamp,
          is_fraud: Any = None, labelled_at: np.ndarray | None = None) -> Table:
    """The transactions table: :data:`COLUMNS` (``is_fraud`` from ``cols["fraud"]`` unless given), then
    ``labelled_at`` when given (seconds from ``t0``, NaN where blank)."""
    fraud = cols["fraud"].astype(np.int64) if is_fraud is None else is_fraud
    columns: dict[str, Column] = {
        "transaction_id": transaction_ids,
        "timestamp": lambda rows: stamps(t0, cols["t"][rows]),
        "user_id": lambda rows: ids["user"][cols["u"][rows]],
        "amount": lambda rows: cols["amount"][rows].astype(float),
        "currency": lambda rows: CURRENCY[cols["country"][rows]].astype(object),
        "card_id": lambda rows: ids["card"][cols["card"][rows]],  # handle -1 picks the trailing "" (absent)
        "device_id": lambda rows: ids["device"][cols["dev"][rows]],
        "ip": lambda rows: ids["ip"][cols["ip"][rows]],
        "merchant_id": lambda rows: ids["merchant"][cols["merch"][rows]],
        "country": lambda rows: COUNTRY[cols["country"][rows]].astype(object),
        "is_fraud": lambda rows: fraud[rows],
    }
    if labelled_at is not None:
        columns["labelled_at"] = stamps_or_blank(t0, labelled_at)
    return Table(len(cols["t"]), columns)


def frame(cols: dict[str, np.ndarray], ids: dict[str, np.ndarray], t0: pd.Timestamp,
          is_fraud: Any = None, labelled_at: np.ndarray | None = None) -> pd.DataFrame:
    """:func:`table` as one DataFrame."""
    return table(cols, ids, t0, is_fraud, labelled_at).frame()


def save(path: Path, rows: Table | pd.DataFrame, truth: dict[str, Any]) -> None:
    """Write ``rows`` as CSV at ``path`` (folders created) and ``truth`` as ``truth.json`` beside it.

    A :class:`Table` makes its strings one block at a time, so memory holds one block's, not every row's.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    step = BLOCK_ROWS
    n = len(rows)
    with open(path, "w", encoding="utf-8", newline="") as fh, \
            progress.phase(f"writing {path.name}", total=n, unit="rows") as shown:
        for start in range(0, max(n, 1), step):
            part = slice(start, min(start + step, n))
            block = rows.block(part) if isinstance(rows, Table) else rows.iloc[part]
            block.to_csv(fh, header=start == 0, index=False, float_format="%.2f", lineterminator="\n")
            shown.update(part.stop)
    with open(path.parent / "truth.json", "w", encoding="utf-8", newline="\n") as fh:
        json.dump(truth, fh, indent=1)
        fh.write("\n")
