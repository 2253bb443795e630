"""Helpers shared by the ring tests: stores built from rows of (user, day, amount, card, device, ip, merchant)."""
from __future__ import annotations

import pandas as pd

from graphfraud.rings import detect_rings
from graphfraud.schema import validate_frame
from graphfraud.storage import open_store

DAY = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01


def _write(store, df):
    good, rejects = validate_frame(df.astype(str).replace({"": None, "nan": None, "None": None}))
    assert not rejects
    store.write_transactions(good)


def _rows(rows):
    """Rows of (user, day, amount, card, device, ip, merchant) -> a canonical frame with string columns."""
    out = []
    for i, (u, day, amount, card, dev, ip, m) in enumerate(rows):
        ts = pd.Timestamp(T0 + int(day * DAY), unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append({"transaction_id": f"T{i:06d}", "timestamp": ts, "user_id": u, "amount": f"{amount:.2f}",
                    "card_id": card or "", "device_id": dev or "", "ip": ip or "", "merchant_id": m or ""})
    return pd.DataFrame(out)


def _ring_users(tmp_path, rows):
    """The users of each ring ``detect_rings`` finds in a store holding ``rows`` (see :func:`_rows`), best first."""
    return _rings_of_frame(tmp_path, _rows(rows))


def _rings_of_frame(tmp_path, df):
    """The users of each ring ``detect_rings`` finds in a store holding the frame ``df``, best first."""
    store = open_store(str(tmp_path / "gf.db"))
    _write(store, df)
    rings = detect_rings(store)
    store.close()
    return [sorted(r.users) for r in rings]


def _transfers(rows, start=0):
    """Rows of (payer, day, amount, receiver, card, is_fraud) -> a frame of transfers."""
    out = []
    for i, (u, day, amount, to, card, fraud) in enumerate(rows, start):
        ts = pd.Timestamp(T0 + int(day * DAY), unit="ms", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append({"transaction_id": f"X{i:06d}", "timestamp": ts, "user_id": u, "amount": f"{amount:.2f}",
                    "counterparty_id": to, "card_id": card or "", "is_fraud": fraud})
    return pd.DataFrame(out)
