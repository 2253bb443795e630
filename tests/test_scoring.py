"""The online scorer shared by request threads: every stored score is in the graph exactly once."""
from __future__ import annotations

import math
import threading
from pathlib import Path

from graphfraud.graph.features import compute_features
from graphfraud.schema import validate_record
from graphfraud.scoring import Scorer, build_engine
from graphfraud.storage import open_store


def _tx(i: int, user: int | None = None) -> object:
    u = i % 23 if user is None else user
    # a few users per device and card: clusters form, and no identifier reaches its hub limit (hubs are
    # unglued only by the next snapshot's rebuild, which a fresh engine does at once)
    return validate_record({"transaction_id": f"S{i}", "timestamp": f"2026-03-01T12:{i % 60:02d}:00Z",
                            "user_id": f"U{u}", "device_id": f"D{u % 7}", "card_id": f"C{i % 31}",
                            "amount": 10 + i % 5})


def test_threads_sharing_a_scorer_apply_every_score_once(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s.db"))
    other = open_store(str(tmp_path / "s.db"))  # a second process's writes arrive in between
    scorer = Scorer(store)
    errors: list[BaseException] = []

    def client(k: int) -> None:
        try:
            for i in range(k, 240, 4):
                out = scorer.score(_tx(i))
                assert out["transaction_id"] == f"S{i}" and not out["replay"]
                if i % 40 == 0:
                    other.add_transaction(_tx(1000 + i))
                    scorer.score(_tx(i))  # a retry from another thread is a replay, never a second copy
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    scorer.catch_up()
    fresh = build_engine(store)
    assert scorer.engine.n_tx == fresh.n_tx == store.info()["transactions"] == 240 + 6
    probe = _tx(5000, user=3)
    scorer.engine.advance(probe.ts)
    fresh.advance(probe.ts)
    # everything but the snapshot features (a fresh build takes its own snapshot of the whole graph)
    ours, theirs = compute_features(scorer.engine, probe), compute_features(fresh, probe)
    assert ours.keys() == theirs.keys()
    differ = [k for k in ours if not (ours[k] == theirs[k] or (math.isnan(ours[k]) and math.isnan(theirs[k])))
              and not k.startswith(("pagerank", "fraud_proximity"))]
    assert differ == [], {k: (ours[k], theirs[k]) for k in differ}
    store.close()
    other.close()


def test_engine_snapshot_is_used_only_when_signed_by_the_store_and_written_by_this_code(tmp_path: Path,
                                                                                       monkeypatch) -> None:
    from graphfraud.graph import persist

    store = open_store(str(tmp_path / "p.db"))
    for i in range(30):
        store.add_transaction(_tx(i))
    engine = build_engine(store)
    path = persist.save_engine(store, engine)
    fresh = build_engine(store)
    loaded = persist.load_engine(store, fresh)
    assert loaded is not None and loaded.n_tx == engine.n_tx == 30
    # other engine code (an upgrade): the pickle may lack what this code needs, so it is rebuilt instead
    monkeypatch.setattr(persist, "code_version", lambda: "another-release")
    assert persist.load_engine(store, fresh) is None
    monkeypatch.undo()
    # a changed byte: the signature fails, the file is never unpickled
    data = bytearray(Path(path).read_bytes())
    data[-10] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    assert persist.load_engine(store, fresh) is None
    # cut short, or empty: ignored as well
    for cut in (len(data) // 2, len(persist.MAGIC) + 70, len(persist.MAGIC), 0):
        Path(path).write_bytes(bytes(data[:cut]))
        assert persist.load_engine(store, fresh) is None
    store.close()


def test_serve_writes_the_engine_snapshot_only_when_it_is_well_behind(tmp_path: Path, monkeypatch) -> None:
    """Each ``serve`` start prepares the engine; the snapshot file (gigabytes at ten million transactions)
    is written the first time, not again while it is only a little behind (the next start catches up from
    it), and again once it is far behind, holds other settings, or was changed since it was read."""
    from graphfraud import scoring
    from graphfraud.graph import persist
    from graphfraud.scoring import prepare_engine

    store = open_store(str(tmp_path / "n.db"))
    for i in range(30):
        store.add_transaction(_tx(i))
    wrote: list[int] = []
    real_save = persist.save_engine
    monkeypatch.setattr(persist, "save_engine", lambda st, e: wrote.append(e.seq) or real_save(st, e))
    first = prepare_engine(store)
    assert persist.behind_by(store, persist.load_engine(store, build_engine(store))) == 0
    assert prepare_engine(store) == first and len(wrote) == 1  # loaded, nothing new: not written again
    store.add_transaction(_tx(30))
    assert prepare_engine(store) > first and len(wrote) == 1  # one event behind: caught up from the file
    monkeypatch.setattr(scoring, "SNAPSHOT_REWRITE_LAG", 0)
    monkeypatch.setattr(scoring, "SNAPSHOT_REWRITE_SHARE", 0.0)
    store.add_transaction(_tx(31))
    assert prepare_engine(store) > first and wrote[-1] > first and len(wrote) == 2
    assert prepare_engine(store, overrides={"hub_limits": "default=3"}) and len(wrote) == 3  # other settings
    path = persist.snapshot_path(store)
    data = bytearray(Path(path).read_bytes())
    data[-10] ^= 0xFF  # the header still says the same sequence number; the signature no longer holds
    Path(path).write_bytes(bytes(data))
    assert prepare_engine(store, overrides={"hub_limits": "default=3"}) and len(wrote) == 4
    store.close()


def test_serving_workers_inherit_the_prepared_engine_once_each(tmp_path: Path, monkeypatch) -> None:
    """``serve`` prepares the engine before forking: a worker's scorer takes that very engine (no snapshot
    file read), once per process; another scorer in the same process, or other settings, do not share it."""
    import os

    from graphfraud.graph import persist
    from graphfraud.scoring import prepare_engine

    store = open_store(str(tmp_path / "w.db"))
    for i in range(30):
        store.add_transaction(_tx(i))
    prepare_engine(store, keep=True)
    kept = persist._FOR_WORKERS[str(store.location)][1]
    read: list[str] = []
    real_load = persist.load_engine
    monkeypatch.setattr(persist, "load_engine", lambda st, exp: read.append("file") or real_load(st, exp))
    pid = os.fork()
    if pid == 0:  # a worker: starts from the inherited engine, applies what came after it
        ok = False
        try:
            mine = open_store(str(tmp_path / "w.db"))  # SQLite handles never cross a fork
            mine.add_transaction(_tx(30))
            s = Scorer(mine)
            ok = s.engine is kept and not read and s.engine.n_tx == 31
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    first = Scorer(store)  # this process's first scorer takes it; the parent's copy never saw the child's write
    assert first.engine is kept and not read
    second = Scorer(store)
    assert second.engine is not kept and read == ["file"]
    prepare_engine(store, keep=True)
    kept = persist._FOR_WORKERS[str(store.location)][1]
    other = Scorer(store, overrides={"hub_limits": "default=3"})  # other settings: its own engine
    assert other.engine is not kept and other.engine.policy.hub_limit("device") == 3
    store.close()


def test_the_kept_engine_follows_the_store_in_batches_until_an_erase(tmp_path: Path) -> None:
    """``serve``'s arbiter refreshes the engine it keeps for the workers it starts later: batch by batch it
    applies what other processes stored (transactions, labels), ending level with the store and with the
    features a worker forked before the refresh reaches by catching up; an erase, which an engine cannot
    apply, drops it."""
    import pickle

    from graphfraud.graph import persist
    from graphfraud.schema import Label
    from graphfraud.scoring import prepare_engine, refresh_kept_engine

    store = open_store(str(tmp_path / "k.db"))
    for i in range(30):
        store.add_transaction(_tx(i))
    prepare_engine(store, keep=True)
    kept = persist.kept_engine(store)
    assert kept is not None and kept.seq == store.last_seq()
    forked = pickle.loads(pickle.dumps(kept))  # what a worker forked now starts from
    assert refresh_kept_engine(store, 4) == (0, True)
    other = open_store(str(tmp_path / "k.db"))  # the workers' writes
    for i in range(30, 40):
        other.add_transaction(_tx(i))
    other.add_labels([Label("transaction", "S3", "1", 1)])
    steps = []
    while True:
        n, level = refresh_kept_engine(store, 4)
        steps.append(n)
        if level:
            break
    assert steps[0] == 4 and sum(steps) == 11 and persist.kept_engine(store) is kept
    assert kept.seq == store.last_seq() and kept.n_tx == 40
    worker = Scorer(other, engine=forked)  # catches up from where it was forked
    assert worker.start["events"] == 11 and worker.engine.seq == kept.seq
    probe = _tx(65)  # card C3, the one the labelled S3 used
    got, want = compute_features(kept, probe), compute_features(worker.engine, probe)
    assert got.keys() == want.keys() and want["card_fraud_users"] == 1
    assert all(got[k] == want[k] or (math.isnan(got[k]) and math.isnan(want[k])) for k in want)
    other.add_transaction(_tx(41))
    other.erase_user("U5", actor="test")
    assert refresh_kept_engine(store, 100) == (1, True)  # the transaction, then the erase: dropped
    assert persist.kept_engine(store) is None and refresh_kept_engine(store, 100) == (0, True)
    other.close()
    store.close()


def test_a_score_in_a_registered_ring_names_its_registry_id_and_the_detectors_reasons(tmp_path: Path) -> None:
    """The live ring behind a score takes the registry's id and the reasons the batch detector gave that ring
    (what separates it from a household or an office); a live ring the detector has not registered has none."""
    from graphfraud.rings import Ring, sync_rings

    store = open_store(str(tmp_path / "s.db"))
    for i in range(120):
        store.add_transaction(_tx(i))
    why = ["device D3 is shared by 3 users, 3 of them confirmed fraud", "accounts opened within 0.5 days"]
    sync_rings(store, [Ring("R-x", 0.9, 3, [], ["U3", "U10", "U17"], [], [], [], 0, 1, 1.0, why)])
    scorer = Scorer(store)
    member = scorer.score(_tx(500, user=3))["ring"]
    assert member is not None and member["ring_id"] == "R-x" and member["reasons"] == why
    assert member["linked_by"]  # the identifiers this transaction links by, live
    outsider = scorer.score(_tx(501, user=4))["ring"]
    assert outsider is not None and outsider["ring_id"] != "R-x" and outsider["reasons"] == []
    store.close()


def test_a_lone_scorer_applies_its_own_scores_without_reading_them_back(tmp_path: Path) -> None:
    """A score's decision takes the store's next number: the engine must count it as seen, else every later
    score finds a gap, catches up, and reads its own transaction back from the store. (After another
    process's score, whose decision is not an event, the first own score is read back once.)"""
    store = open_store(str(tmp_path / "s.db"))
    scorer = Scorer(store)
    read_back: list[str] = []
    events_since = store.events_since

    def spy(seq: int, limit: int = 10_000) -> list:
        events = events_since(seq, limit)
        read_back.extend(ev.transaction.transaction_id for ev in events if ev.transaction is not None)
        return events

    store.events_since = spy  # type: ignore[method-assign]
    other = open_store(str(tmp_path / "s.db"))
    other.add_transaction(_tx(100), {"score": 0.1, "decision": "allow"})  # another worker's score: read once
    for i in range(5):
        scorer.score(_tx(i))
        assert scorer.engine.seq == store.last_seq()
    assert read_back == ["S100", "S0"]
    assert scorer.engine.n_tx == 6 and scorer.engine.knows_transaction("S100")
    store.close()
    other.close()


def test_train_leaves_the_engine_serve_starts_from(tmp_path: Path, monkeypatch) -> None:
    """``train`` ends by bringing the engine snapshot level with the store (a server started next reads it, it
    does not rebuild the engine from history); ``--no-engine`` leaves it alone; a snapshot that cannot be
    written is a warning, not a failed training."""
    from click.testing import CliRunner

    from graphfraud.cli import main
    from graphfraud.graph import build, persist

    runner = CliRunner()
    store_path, data = str(tmp_path / "gf.db"), str(tmp_path / "w" / "tx.csv")
    for args in (["generate", data, "--users", "200", "--seed", "4"],
                 ["load", data, "--store", store_path, "--rejects", str(tmp_path / "rejects.csv")],
                 ["train", "--store", store_path, "--no-engine"]):
        res = runner.invoke(main, args, catch_exceptions=False)
        assert res.exit_code == 0, res.output
    store = open_store(store_path)
    snapshot = Path(persist.snapshot_path(store))
    assert not snapshot.exists()
    real_save = persist.save_engine
    monkeypatch.setattr(persist, "save_engine", lambda st, e: (_ for _ in ()).throw(OSError("read-only folder")))
    res = runner.invoke(main, ["train", "--store", store_path], catch_exceptions=False)
    assert res.exit_code == 0 and "(promoted)" in res.stdout, res.output
    assert ("warning: the engine snapshot that serve starts from could not be written (read-only folder); serve "
            "will build the engine from the store when it starts") in res.stderr
    assert not snapshot.exists()
    monkeypatch.setattr(persist, "save_engine", real_save)
    res = runner.invoke(main, ["train", "--store", store_path], catch_exceptions=False)
    assert res.exit_code == 0 and "warning" not in res.stderr, res.output
    assert "building the graph done" in res.stderr  # once: the replay for training does not write the file
    monkeypatch.setattr(build, "build_engine", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rebuilt")))
    engine = Scorer(store).engine  # what a serving worker does: the file, level with the store
    assert engine.seq == store.last_seq() and engine.n_tx == store.info()["transactions"]
    assert persist.behind_by(store, engine) == 0
    store.close()
