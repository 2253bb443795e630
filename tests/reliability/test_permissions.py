"""Every file the product writes is owner-only (0600, folders 0700), whatever the umask; secrets stay out of
the store.

The test runs with the permissive umask 022 (files would be 0644 by default) and makes the product write
every kind of file it writes: the store and its log files, the key file, engine snapshots (beside an
embedded store and in the cache folder of a Neo4j store), rejects, score CSVs, backtest scores and report,
generated data, metrics snapshots and the ring-detection lock.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphfraud.cli import main
from graphfraud.graph.persist import save_engine, snapshot_path
from graphfraud.keys import key_file_path, master_secret
from graphfraud.ringrefresh import detection_lock, lock_path
from graphfraud.scoring import build_engine
from graphfraud.storage import open_store
from webui import create_app
from webui.metrics import Metrics


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")}


def test_every_file_the_product_writes_is_owner_only(tmp_path, umask_022, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(work / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(work / "config"))
    monkeypatch.delenv("GRAPHFRAUD_SECRET_KEY", raising=False)
    store = str(work / "gf.db")
    monkeypatch.setenv("GRAPHFRAUD_STORE", store)
    run = CliRunner().invoke
    assert run(main, ["generate", str(work / "gen" / "tx.csv"), "--users", "300", "--seed", "1"]).exit_code == 0
    data = (work / "gen" / "tx.csv").read_text(encoding="utf-8").splitlines()
    (work / "in.csv").write_text("\n".join(data[:400] + ["BAD1,notatime,u,1,,,,,,,,"]) + "\n", encoding="utf-8")
    (work / "new.csv").write_text("\n".join(data[:1] + data[400:460]) + "\n", encoding="utf-8")
    r = run(main, ["load", str(work / "in.csv"), "--rejects", str(work / "rejects.csv")])
    assert r.exit_code == 0 and (work / "rejects.csv").exists(), r.output
    assert run(main, ["score", str(work / "new.csv"), "--out", str(work / "scores.csv")]).exit_code == 0
    r = run(main, ["backtest", str(work / "gen" / "tx.csv"), "--train-frac", "0.6", "--store", str(work / "bt.db"),
                   "--scores-out", str(work / "bt-scores.csv"), "--report", str(work / "bt-report.json")])
    assert r.exit_code == 0, r.output
    # the web app: the key file, a signed-in session, the engine snapshot, metrics snapshots
    app = create_app({"STORE": store, "SCORER_FACTORY": lambda s: None, "SCORER_EAGER": True, "TESTING": True})
    st = app.extensions["graphfraud"].store
    save_engine(st, build_engine(st))
    m = Metrics(str(work / "metrics"))
    m.flush()
    with detection_lock(st):
        pass
    st.close()
    # a Neo4j store's snapshot and key file live in the cache and config folders
    neo = type("Neo", (), {"location": "bolt://127.0.0.1:7687"})()
    Path(snapshot_path(neo)).write_bytes(b"")  # the folder is what the product made; the file is ours
    master_secret("bolt://127.0.0.1:7687", {"secret_key": ""})

    modes = _modes(work)
    expected_files = {"gf.db", "gf.db.key", "gf.db.engine", "gf.db.lock", "gf.db.rings.lock", "rejects.csv",
                      "scores.csv", "bt-scores.csv", "bt-report.json", "gen/tx.csv", "gen/truth.json",
                      os.path.relpath(key_file_path("bolt://127.0.0.1:7687"), work)}
    assert expected_files <= set(modes), sorted(modes)
    ours = {"in.csv", "new.csv", os.path.relpath(snapshot_path(neo), work)}  # written by this test
    loose = {name: oct(mode) for name, mode in modes.items() if name not in ours and not (work / name).is_dir()
             and mode != 0o600}
    assert loose == {}
    made_dirs = {"cache/graphfraud", "config/graphfraud", "metrics"}
    assert {d: oct(modes[d]) for d in made_dirs if modes[d] != 0o700} == {}
    lock = Path(lock_path(store))
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    lock.unlink()


def test_an_existing_store_open_to_others_is_tightened(tmp_path, umask_022):
    path = tmp_path / "old.db"
    open_store(str(path)).close()
    os.chmod(path, 0o644)
    open_store(str(path)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_output_over_an_existing_world_readable_file_is_tightened(tmp_path, umask_022):
    from graphfraud.output import open_private

    path = tmp_path / "scores.csv"
    path.write_text("old")
    os.chmod(path, 0o644)
    with open_private(path) as fh:
        fh.write("new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "new"
