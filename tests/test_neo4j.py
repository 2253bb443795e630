"""The Neo4j backend on a real server: injection through ids, parity with the embedded store on ~5,000
generated transactions (counts, point-in-time features, rings), and GDS against the Python algorithms.

The contract suite in ``tests/test_storage.py`` runs against both backends; these tests add what only
makes sense with two stores side by side.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graphfraud.errors import StorageError
from graphfraud.schema import validate_frame
from graphfraud.storage import open_store
from graphfraud.storage import neo4j_algos as algos
from graphfraud.testing import make_transactions

pytestmark = pytest.mark.neo4j
INFO_KEYS = ("transactions", "labelled", "fraud", "entities", "links")
HOSTILE = ["'}) DETACH DELETE n //", "`) MATCH (n) DETACH DELETE n //", "$ids", "{id: 'x'}", "\") RETURN 1 //",
           "a'b\"c`d$e{f}g\\h", "ū-ñïçødé ☃"]


def _frame(df: pd.DataFrame) -> pd.DataFrame:
    """A generated frame as the loaders hand it to a store (validated text columns)."""
    text = {c: pa.array(["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in df[c].tolist()],
                        pa.string()) for c in df.columns}
    good, rejects = validate_frame(pa.table(text))
    assert rejects == []
    return good


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, dict[str, Any]]:
    df, truth = make_transactions(n_users=900, seed=3)
    return df, truth


@pytest.fixture(scope="module")
def both(neo4j_server: str, data: tuple[pd.DataFrame, dict[str, Any]],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """The same ~5,000 transactions in an embedded store and in Neo4j (written in two chunks each)."""
    from graphfraud.storage.neo4j import Neo4jStore

    Neo4jStore(neo4j_server).clear()  # not `from conftest import ...`: several conftest modules share that name
    good = _frame(data[0])
    assert 4000 <= len(good) <= 8000
    emb = open_store(str(tmp_path_factory.mktemp("parity") / "e.db"))
    neo = open_store(neo4j_server)
    half = len(good) // 2
    for s in (emb, neo):
        s.write_transactions(good.iloc[:half].reset_index(drop=True))
        s.write_transactions(good.iloc[half:].reset_index(drop=True))
    yield emb, neo
    emb.close()
    neo.close()


# ---------------------------------------------------------------- injection
@pytest.mark.parametrize("hostile", HOSTILE, ids=[f"id{i}" for i in range(len(HOSTILE))])
def test_hostile_ids_are_stored_verbatim_and_harmless(neo4j_url: str, hostile: str) -> None:
    store = open_store(neo4j_url)
    rows = [{"transaction_id": "safe-1", "timestamp": "2026-01-02T10:00:00", "user_id": "u-safe", "amount": "5",
             "card_id": "c-safe"},
            {"transaction_id": hostile, "timestamp": "2026-01-02T11:00:00", "user_id": hostile, "amount": "7",
             "card_id": hostile, "device_id": hostile, "ip": "10.0.0.1", "merchant_id": hostile}]
    res = store.write_transactions(validate_frame(pa.table({k: pa.array([r.get(k, "") for r in rows], pa.string())
                                                            for k in rows[1]}))[0])
    assert res.inserted == 2
    got = store.get_transaction(hostile)
    assert got is not None and (got["transaction_id"], got["user_id"], got["card_id"]) == (hostile, hostile, hostile)
    assert store.get_transaction("safe-1") is not None  # nothing was deleted
    assert {r["entity_id"] for r in store.neighbours("user", hostile, 10)} == {hostile, "10.0.0.1"}
    assert [r["user_id"] for r in store.neighbours("card", hostile, 10)] == [hostile]
    assert [t["transaction_id"] for t in store.transactions_of("card_id", hostile)] == [hostile]
    assert store.info()["transactions"] == 2
    store.create_app_user(hostile, "admin", "h")
    assert store.get_app_user(hostile)["name"] == hostile
    store.set_meta(hostile, hostile)
    assert store.get_meta(hostile) == hostile


def test_unreachable_server_is_a_storage_error_without_driver_text() -> None:
    with pytest.raises(StorageError) as info:
        open_store("bolt://127.0.0.1:9")
    assert "bolt://127.0.0.1:9" in str(info.value)
    assert "neo4j." not in str(info.value) and "Couldn't" not in str(info.value)


class _Proxy:
    """A TCP relay in front of the test server that can go dark, as a server or its network does."""

    def __init__(self, target: str) -> None:
        import socket
        import threading

        host, port = target.split("://", 1)[1].rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"bolt://127.0.0.1:{self.listener.getsockname()[1]}"
        self.socks: list[Any] = []
        self.dark = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self.dark:
            try:
                a, _ = self.listener.accept()
            except OSError:
                return
            if self.dark:
                a.close()
                return
            b = socket.create_connection(self.target)
            self.socks += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pipe, args=(x, y), daemon=True).start()

    @staticmethod
    def _pipe(x: Any, y: Any) -> None:
        try:
            while data := x.recv(65536):
                y.sendall(data)
        except OSError:
            pass

    def go_dark(self) -> None:
        import socket

        self.dark = True
        for sock in [self.listener, *self.socks]:  # shutting the listener down wakes its accept()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def test_a_server_lost_while_serving_is_a_storage_error(neo4j_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # reads and writes retry for the neo4j_retry setting (not the driver's own 30 s), then answer unavailable
    monkeypatch.setenv("GRAPHFRAUD_NEO4J_RETRY", "1")
    proxy = _Proxy(neo4j_url)
    store = open_store(proxy.url)
    assert store.get_transaction("nothing-here") is None  # served through the relay
    proxy.go_dark()
    with pytest.raises(StorageError) as info:
        store.get_transaction("nothing-here")
    assert info.value.code == "store_unavailable" and proxy.url in str(info.value)


def test_credentials_in_the_url_are_not_shown(neo4j_server: str) -> None:
    host = neo4j_server.split("://", 1)[1]
    store = open_store(f"bolt://someone:s3cret@{host}")  # auth is off on the test server: accepted
    assert "s3cret" not in store.location and "s3cret" not in str(store.info())


# ---------------------------------------------------------------- parity
def test_same_counts(both: tuple[Any, Any]) -> None:
    emb, neo = both
    a, b = emb.info(), neo.info()
    assert {k: a[k] for k in INFO_KEYS} == {k: b[k] for k in INFO_KEYS}
    assert a["last_seq"] == b["last_seq"]


def test_same_links(both: tuple[Any, Any]) -> None:
    emb, neo = both
    cols = ["type", "entity_id", "user_id", "first_seen", "last_seen", "n"]
    a = emb.links_frame()[cols].sort_values(cols[:3]).reset_index(drop=True)
    b = neo.links_frame()[cols].sort_values(cols[:3]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def _features(store: Any) -> pd.DataFrame:
    """Point-in-time feature rows from a replay of the store's history (one row per transaction)."""
    from graphfraud.graph.features import feature_names
    from graphfraud.scoring import new_engine
    from graphfraud.training import load_history, queue_store_labels, replay

    engine = new_engine(None)
    hist = load_history(store, engine.label_delay_ms)
    queue_store_labels(store, engine, hist)
    names = feature_names(engine.entity_types)
    rows: dict[str, list[float]] = {}

    def keep(i: int, tx: Any, f: dict[str, float]) -> None:
        rows[tx.transaction_id] = [f.get(n, np.nan) for n in names]

    for _ in replay(store, hist, engine, on_row=keep):
        pass
    return pd.DataFrame.from_dict(rows, orient="index", columns=names)


def test_same_point_in_time_features(both: tuple[Any, Any]) -> None:
    emb, neo = both
    fa, fb = _features(emb), _features(neo)
    assert len(fa) == emb.info()["transactions"] and list(fa.index) == list(fb.index)
    np.testing.assert_allclose(fa.to_numpy(float), fb.to_numpy(float), rtol=1e-9, atol=1e-9, equal_nan=True)


def test_same_rings(both: tuple[Any, Any]) -> None:
    from graphfraud.rings import detect_rings

    emb, neo = both
    ra = detect_rings(emb)
    rb = detect_rings(neo)
    assert ra, "the generated data plants rings: detection must find some"
    assert {frozenset(r.users) for r in ra} == {frozenset(r.users) for r in rb}


def test_same_users_with_links(both: tuple[Any, Any]) -> None:
    emb, neo = both
    for typ in ("card", "device", "ip", "merchant"):
        for k in (1, 2, 3):
            assert sorted(emb.users_with_links(typ, k)) == sorted(neo.users_with_links(typ, k)), (typ, k)
    assert emb.users_with_links("card", 1) and emb.users_with_links("merchant", 2)


# ---------------------------------------------------------------- GDS against Python
@pytest.fixture(scope="module")
def gds_store(both: tuple[Any, Any]) -> Any:
    neo = both[1]
    if not algos.gds_available(neo):
        pytest.skip("the server has no Graph Data Science")
    return neo


def _partition(d: dict[Any, int]) -> set[frozenset[Any]]:
    groups: dict[int, set[Any]] = {}
    for node, c in d.items():
        groups.setdefault(c, set()).add(node)
    return {frozenset(g) for g in groups.values()}


def test_components_agree(gds_store: Any) -> None:
    a = algos.components(gds_store, use_gds=True)
    b = algos.components(gds_store, use_gds=False)
    assert set(a) == set(b) and len(a) > 100
    assert _partition(a) == _partition(b)


def test_pagerank_agrees(gds_store: Any) -> None:
    a = algos.pagerank(gds_store, use_gds=True)
    b = algos.pagerank(gds_store, use_gds=False)
    assert set(a) == set(b)
    keys = sorted(a)
    x, y = np.array([a[k] for k in keys]), np.array([b[k] for k in keys])
    assert abs(x.sum() - 1) < 1e-9 and abs(y.sum() - 1) < 1e-9
    np.testing.assert_allclose(x, y, rtol=1e-4)  # the stated tolerance (see neo4j_algos)


def test_communities_agree(gds_store: Any) -> None:
    from sklearn.metrics import adjusted_rand_score

    a = algos.communities(gds_store, use_gds=True)
    b = algos.communities(gds_store, use_gds=False)
    keys = sorted(a)
    assert set(a) == set(b)
    assert adjusted_rand_score([a[k] for k in keys], [b[k] for k in keys]) >= 0.9


def test_python_fallback_without_gds(gds_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(algos, "gds_available", lambda store: False)
    assert _partition(algos.components(gds_store)) == _partition(algos.components(gds_store, use_gds=True))


def test_investigator_queries(both: tuple[Any, Any], data: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    neo = both[1]
    linked = neo.users_linked_to_fraud(max_users=20, limit=50)
    assert linked and {"user_id", "fraud_user_id", "type", "entity_id"} <= set(linked[0])
    first = linked[0]
    shared = neo.shared_identifiers(first["user_id"], first["fraud_user_id"])
    assert {"type": first["type"], "entity_id": first["entity_id"]} in shared
    hood = neo.entity_neighbourhood(first["type"], first["entity_id"])
    assert {r["user_id"] for r in hood} <= {r["user_id"] for r in neo.neighbours(first["type"], first["entity_id"], 1000)}


def test_cypher_files_name_their_parameters() -> None:
    import re

    folder = Path(__file__).resolve().parents[1] / "cypher"
    for path in folder.glob("*.cypher"):
        text = path.read_text()
        head = "\n".join(ln for ln in text.splitlines() if ln.startswith("//"))
        body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("//"))
        assert re.fullmatch(r"[a-z]+_[a-z_]+\.cypher", path.name), path.name
        assert "Parameters" in head and "Returns" in head, path.name
        for p in set(re.findall(r"\$([a-z_]+)", body)):
            assert f"${p}" in head, (path.name, p)


def test_training_replays_history_apart_on_neo4j_as_here(both: tuple[Any, Any]) -> None:
    """``train`` replays history in a forked process, which reads Neo4j through a driver of its own: the same
    models as a replay in this process on the embedded store, and this process's driver works after it."""
    from graphfraud.training import train_model

    emb, neo = both
    here = train_model(emb, promote=False, apart=False)
    apart = train_model(neo, promote=False, apart=True)
    for key in ("metrics", "features", "fields", "training_window"):
        assert apart[key] == here[key], key
    assert (apart["accounts"] is None) == (here["accounts"] is None)
    assert neo.info()["transactions"] == emb.info()["transactions"]
