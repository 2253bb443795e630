"""The typology worlds behind ``graphfraud generate --profile stars|chains|bipartite|sleepers|merchants|mixed``.

Each world is the same legitimate population with its look-alikes (:mod:`.population`), rings of the
profile's shapes (:mod:`.typologies`), lone account takeovers, and labels as the knobs ask
(:mod:`.labels`). One ``np.random.default_rng(seed)`` drives the world: the same seed and knobs give
byte-identical files.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ValidationError
from .base import DAY, DEFAULT_DEVICE_IDS, Plan, Table, assemble, check_args, iso, save, table
from .labels import KNOB_RANGES, apply_labels, check_knobs, truth_labels
from .population import People, add_bursts, add_ordinary, plant_decoys
from .typologies import TYPOLOGY_SHAPES, plan_rings, plant_ring, plant_takeovers

#: Profile name -> the ring shapes it plants (every ring profile also plants takeovers and all look-alikes).
PROFILE_SHAPES = {"stars": ("star",), "chains": ("chain",), "bipartite": ("bipartite",), "sleepers": ("sleeper",),
                  "merchants": ("many_merchants",), "mixed": TYPOLOGY_SHAPES}
DEFAULT_FRAUD_RATE = 0.015


def generate_world(profile: str, n_users: int, seed: int = 0, start: str = "2026-01-01", days: int = 90,
                   **knobs: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generate a typology world: transactions and its truth.

    Parameters
    ----------
    profile : str
        One of :data:`PROFILE_SHAPES`.
    n_users : int
        Number of accounts (at least 50).
    seed : int, default 0
        Seed of the world; the same seed and knobs give the same data.
    start : str, default "2026-01-01"
        First day (UTC).
    days : int, default 90
        Length of the period in days (at least 7; sleepers need about 30 to sleep for three weeks).
    **knobs
        ``fraud_rate`` (0.001-0.05, default 0.015): share of transactions that are fraud;
        ``label_delay_days`` (0-60): mean days from a transaction to its label, written as ``labelled_at``;
        ``labelled_share`` (0-1, default 1): share of rows, fraud and legitimate alike, whose label is written.

    Returns
    -------
    transactions : pandas.DataFrame
        The columns of :data:`graphfraud.synth.COLUMNS` (``is_fraud`` blank where unlabelled), then
        ``labelled_at`` when ``label_delay_days`` is given; in time order.
    truth : dict
        ``rings`` (id -> ``shape``, ``users`` and the planted structure), ``takeover_users``, ``decoys``,
        ``params``, ``profile``, ``knobs``, ``fraud_rate`` and, when labels are blank or late,
        ``fraud_transactions``.

    Examples
    --------
    >>> df, truth = generate_world("stars", 400, seed=1, days=30)
    >>> {r["shape"] for r in truth["rings"].values()}
    {'star'}
    >>> df2, _ = generate_world("mixed", 400, seed=1, days=30, labelled_share=0.5, label_delay_days=10)
    >>> list(df2.columns)[-2:], bool(df2["is_fraud"].isna().any())
    (['is_fraud', 'labelled_at'], True)
    """
    rows, truth = _world(profile, n_users, seed, start, days, knobs)
    return rows.frame(), truth


def _world(profile: str, n_users: int, seed: int, start: str, days: int,
           knobs: dict[str, Any]) -> tuple[Table, dict[str, Any]]:
    """:func:`generate_world` with the transactions as a :class:`Table` (strings made a block at a time)."""
    if profile not in PROFILE_SHAPES:
        raise ValidationError(f"There is no typology profile {profile!r}; pick one of "
                              f"{', '.join(PROFILE_SHAPES)}.", [f"profile: unknown {profile!r}"])
    t0 = check_args(n_users, days, start)
    k = check_knobs(profile, knobs, tuple(KNOB_RANGES))
    rate, delay = k.get("fraud_rate", DEFAULT_FRAUD_RATE), k.get("label_delay_days")
    share = k.get("labelled_share", 1.0)
    n, horizon = int(n_users), float(days) * DAY
    rng = np.random.default_rng(seed)
    plan = Plan(rng, n, horizon)
    people = People(plan)

    # The fraud budget, from the ordinary purchases the population is expected to make.
    expected = float(np.sum(people.rate * (people.end - people.join) / DAY))
    odds = rate / (1.0 - rate)
    to_share = rng.uniform(0.1, 0.2)
    planned = plan_rings(rng, PROFILE_SHAPES[profile], n, odds * expected * (1 - to_share),
                         loss=odds * (1 - to_share) * expected / n)
    sizes = np.array([len(c) for _, c in planned])
    order = rng.permutation(n)
    members = np.split(order[:sizes.sum()], np.cumsum(sizes)[:-1])
    others = order[sizes.sum():]
    infos = [plant_ring(plan, people, shape, users, counts, case=r, bystanders=others)
             for r, ((shape, counts), users) in enumerate(zip(planned, members))]
    decoys = plant_decoys(plan, people, others)
    n_ordinary = add_ordinary(plan, people)
    bursts = add_bursts(plan, people, others)
    eligible = others[people.established[others] & (n_ordinary[others] >= 4)]
    eligible = np.setdiff1d(eligible, bursts["big_spenders"])
    # Takeovers make up the rest of the fraud, so the rate comes out close to the one asked for.
    n_fraud = sum(int(ch["fraud"].sum()) for ch in plan.chunks)
    n_rows = sum(len(ch["t"]) for ch in plan.chunks)
    wanted = (rate * n_rows - n_fraud) / (1.0 - rate)
    planned_to = odds * expected * to_share
    victims = plant_takeovers(plan, people, eligible, float(np.clip(wanted, 0.5 * planned_to, 1.5 * planned_to)),
                              case0=len(infos))

    cols, ids = assemble(plan, n)
    fraud = cols["fraud"].astype(np.int64)
    is_fraud, labelled_at = apply_labels(seed, fraud, cols["t"], cols["case"], delay, share)
    rows = table(cols, ids, t0, is_fraud=is_fraud, labelled_at=labelled_at)
    truth = {"rings": {f"ring-{r + 1:04d}": _ring_truth(info, ids, t0) for r, info in enumerate(infos)},
             "takeover_users": sorted(ids["user"][victims].tolist()),
             "decoys": _decoy_truth(decoys, bursts, people, ids, t0, cols),
             "params": {"n_users": n, "seed": int(seed), "start": t0.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "days": int(days)}}
    truth.update(truth_labels(fraud, profile, {"fraud_rate": rate, "label_delay_days": delay, "labelled_share": share},
                              partial_or_late=delay is not None or share < 1))
    return rows, truth


def _ring_truth(info: dict[str, Any], ids: dict[str, np.ndarray], t0: pd.Timestamp) -> dict[str, Any]:
    user = ids["user"]
    out: dict[str, Any] = {"shape": info["shape"], "users": sorted(user[info["users"]].tolist()),
                           "size": int(len(info["users"])), "start": iso(t0, info["t"]),
                           "accounts": info["accounts"], "ip_mode": info["ip_mode"], "style": info["style"]}
    for key, table in (("cards", "card"), ("devices", "device"), ("ips", "ip")):
        out[key] = sorted(set(ids[table][np.asarray(info[key], dtype=np.int64)].tolist()) - {""})
    if "hub" in info:
        out["hub"] = {"type": info["hub"]["type"], "id": ids[info["hub"]["type"]][info["hub"]["id"]]}
    if "order" in info:
        out["order"] = user[info["order"]].tolist()
    if "links" in info:
        out["links"] = [{"type": lk["type"], "id": ids[lk["type"]][lk["id"]], "users": user[lk["users"]].tolist()}
                        for lk in info["links"]]
    if "card_pool" in info:
        out["card_pool"] = ids["card"][np.asarray(info["card_pool"], dtype=np.int64)].tolist()
    if "card_victims" in info:  # customers whose real card the ring used (not members)
        out["card_victims"] = sorted(user[np.asarray(info["card_victims"], dtype=np.int64)].tolist())
    if "family" in info:  # customers living with an aged member (not members)
        out["family"] = sorted(set(user[np.asarray(info["family"], dtype=np.int64)].tolist()))
    if "burst_start" in info:
        out["burst_start"] = iso(t0, info["burst_start"])
        out["joined_together"] = info["joined_together"]
        if "registration_device" in info:
            out["registration_device"] = ids["device"][info["registration_device"]]
    return out


def _decoy_truth(decoys: dict[str, Any], bursts: dict[str, Any], people: People, ids: dict[str, np.ndarray],
                 t0: pd.Timestamp, cols: dict[str, np.ndarray]) -> dict[str, Any]:
    user, dev, card, ip = ids["user"], ids["device"], ids["card"], ids["ip"]

    def users(h: np.ndarray) -> list[str]:
        return sorted(user[np.asarray(h, dtype=np.int64)].tolist())

    carrier_users = pd.Series(cols["u"]).groupby(cols["ip"]).nunique()
    return {
        "households": [{"users": users(h["users"]), "ip": ip[h["ip"]],
                        "device": dev[h["device"]] if h["device"] >= 0 else None,
                        "card": card[h["card"]] if h["card"] >= 0 else None,
                        "joined_together": h["joined_together"],
                        "card_shared_with": users(h.get("card_shared_with", []))} for h in decoys["households"]],
        "offices": [{"ip": ip[o["ip"]], "n_users": int(len(o["users"]))} for o in decoys["offices"]],
        "campuses": [{"ip": ip[c["ip"]], "n_users": int(len(c["users"])), "term_start": iso(t0, c["term_start"])}
                     for c in decoys["campuses"]],
        "carrier_ips": [{"ip": ip[h], "n_users": int(carrier_users.get(h, 0))} for h in people.carrier],
        "datacenter_ips": ip[people.datacenter].tolist(),
        "public_wifi_ips": ip[people.wifi].tolist(),
        "default_devices": list(DEFAULT_DEVICE_IDS),
        "default_device_users": users(decoys["default_device_users"]),
        "web_only_users": users(decoys["web_only_users"]),
        "kiosk_devices": dev[decoys["kiosk_devices"]].tolist(),
        "travellers": users(decoys["travellers"]),
        "venue_wifi_ips": ip[people.venues].tolist(),
        "second_hand_devices": [{"device": dev[d], "users": [user[a], user[b]]}
                                for a, b, d in decoys["second_hand_devices"]],
        "big_spenders": users(bursts["big_spenders"]),
        "flash_sales": [{"merchant": ids["merchant"][s["merchant"]], "start": iso(t0, s["start"]),
                         "users": users(s["users"])} for s in bursts["flash_sales"]],
    }


def write_world(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, profile: str = "mixed",
                start: str = "2026-01-01", days: int = 90, **kw: Any) -> dict[str, Any]:
    """Generate a typology world and write it as ``out_csv`` with ``truth.json`` beside it.

    Parameters
    ----------
    out_csv : str or os.PathLike
        Path of the CSV; missing folders are created.
    n_users, seed, profile, start, days, **kw
        See :func:`generate_world`; the id and time strings are made a block of rows at a time.

    Returns
    -------
    dict
        ``profile``, ``n_transactions``, ``n_users``, ``n_rings``, ``n_fraud`` (true fraud),
        ``n_fraud_labelled`` (rows whose written label is 1), ``fraud_rate`` and ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_world(folder / "tx.csv", 300, seed=0, profile="chains", days=30)["n_rings"] >= 1
    True
    """
    path = Path(out_csv)
    rows, truth = _world(profile, n_users, seed, start, days, kw)
    save(path, rows, truth)
    labelled = pd.Series(rows.columns["is_fraud"](slice(0, len(rows)))).fillna(0)
    return {"profile": profile, "n_transactions": int(len(rows)), "n_users": int(n_users),
            "n_rings": len(truth["rings"]), "n_fraud": truth["n_fraud"],
            "n_fraud_labelled": int(labelled.sum()), "fraud_rate": truth["fraud_rate"], "path": str(path)}


def write_stars(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, **kw: Any) -> dict[str, Any]:
    """``--profile stars``: rings around one shared identifier, see :func:`write_world`."""
    return write_world(out_csv, n_users, seed, profile="stars", **kw)


def write_chains(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, **kw: Any) -> dict[str, Any]:
    """``--profile chains``: each consecutive pair shares a different identifier type, see :func:`write_world`."""
    return write_world(out_csv, n_users, seed, profile="chains", **kw)


def write_bipartite(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, **kw: Any) -> dict[str, Any]:
    """``--profile bipartite``: many users x many cards, see :func:`write_world`."""
    return write_world(out_csv, n_users, seed, profile="bipartite", **kw)


def write_sleepers(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, **kw: Any) -> dict[str, Any]:
    """``--profile sleepers``: weeks of ordinary life, then a burst together, see :func:`write_world`."""
    return write_world(out_csv, n_users, seed, profile="sleepers", **kw)


def write_merchants(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, **kw: Any) -> dict[str, Any]:
    """``--profile merchants``: rings spread thin over many merchants, see :func:`write_world`."""
    return write_world(out_csv, n_users, seed, profile="merchants", **kw)


def write_mixed(out_csv: str | os.PathLike[str], n_users: int, seed: int = 0, **kw: Any) -> dict[str, Any]:
    """``--profile mixed``: every shape, see :func:`write_world`."""
    return write_world(out_csv, n_users, seed, profile="mixed", **kw)
