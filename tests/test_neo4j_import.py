"""The first load offline (``neo4j-admin database import full``): bad input stops it before Neo4j is touched, a
failed importer leaves no database, and on a real server the imported graph is the Bolt loader's graph for the
same file, which later Bolt loads add to."""
from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from graphfraud.cli import main
from graphfraud.errors import StorageError, ValidationError
from graphfraud.storage.neo4j_import import ImportWriter
from loaders import load_file
from loaders.offline import import_offline
from tests.neo4j_process import Neo4jProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ROOT / "scripts" / "neo4j-admin"
HEADER = "transaction_id,timestamp,user_id,amount,card_id,device_id,email,counterparty_id,is_fraud\n"
MAPPING = {"extra_entities": ["email"], "columns": {"email": "email"}}


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(n: int, start: int = 0) -> list[str]:
    """Transactions of 7 users over 5 cards, 3 devices and 4 emails; every fifth one pays another user."""
    out = []
    for i in range(start, start + n):
        cp = f"u{(i + 3) % 9}" if i % 5 == 0 else ""
        dev = f"d{i % 3}" if i % 4 else ""
        out.append(f"t{i},2026-01-{1 + i % 28:02d} {i % 24:02d}:00:00,u{i % 7},{10 + i % 13}.25,c{i % 5},{dev},"
                   f"e{i % 4}@x.org,{cp},{i % 2 if i % 3 else ''}")
    return out


def _fake_admin(tmp_path: Path, exit_code: int) -> Path:
    """A ``neo4j-admin`` that writes part of a database, as a failing importer does, then exits."""
    script = tmp_path / "fake-admin"
    script.write_text("#!/bin/sh\nmkdir -p \"$NEO4J_HOME/data/databases/neo4j\" \"$NEO4J_HOME/data/transactions/neo4j\"\n"
                      "touch \"$NEO4J_HOME/data/databases/neo4j/neostore\" \"$NEO4J_HOME/called\"\n"
                      f"echo 'org.neo4j.cli.CommandFailedException: Error importing csv file.'\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


# ------------------------------------------------------------ without a server
def test_bad_row_stops_the_import_naming_row_and_field(tmp_path: Path) -> None:
    rows = _rows(6)
    src = _csv(tmp_path / "tx.csv", [*rows[:2], "t2,2026-01-03 02:00:00,u2,twelve,c2,d2,e2@x.org,,1", *rows[3:]])
    home = tmp_path / "home"
    with pytest.raises(ValidationError) as err:
        import_offline(src, home, mapping=MAPPING, admin=str(_fake_admin(tmp_path, 0)))
    assert err.value.code == "invalid_transaction"
    assert err.value.errors[0].startswith("row 3: ") and "amount" in err.value.errors[0]
    assert "row 3" in str(err.value)
    assert not (home / "called").exists()  # the importer never ran
    assert not (home / "data").exists() and list(home.iterdir()) == []  # and its temporary files are gone


def test_repeated_id_with_the_same_content_is_a_duplicate_and_with_other_content_an_error(tmp_path: Path) -> None:
    from graphfraud.schema import validate_frame

    def good(rows: list[str]) -> Any:
        import io

        frame = pd.read_csv(io.StringIO(HEADER + "\n".join(rows)), dtype=str, keep_default_na=False)
        out, rejects = validate_frame(frame.drop(columns=["email"]))
        assert rejects == []
        return out

    rows = _rows(4)
    w = ImportWriter(tmp_path / "a")
    w.add(good(rows))
    w.add(good([rows[1], rows[1]]))  # the same row again, in a later chunk and twice in it
    files = w.finish()
    assert (files.rows, files.transactions, files.duplicates) == (6, 4, 2)
    tx = pd.read_csv(files.directory / "transactions.csv", dtype=str)
    assert tx["seq:long"].tolist() == ["1", "2", "3", "4"]
    assert pd.read_csv(files.directory / "meta.csv")["value:long"].tolist() == [6]  # duplicates use a number
    other = rows[1].replace(",11.25,", ",99.25,")
    w = ImportWriter(tmp_path / "b", source="tx.csv")
    w.add(good(rows))
    with pytest.raises(ValidationError, match=r"Row 1 of tx.csv repeats transaction_id 't1' of row 2 with a "
                                               r"different amount"):
        w.add(good([other]))


def test_a_failed_importer_leaves_no_database(tmp_path: Path) -> None:
    src = _csv(tmp_path / "tx.csv", _rows(20))
    home = tmp_path / "home"
    with pytest.raises(StorageError) as err:
        import_offline(src, home, mapping=MAPPING, admin=str(_fake_admin(tmp_path, 1)))
    assert err.value.code == "import_failed" and "Error importing csv file" in str(err.value)
    assert (home / "called").exists()
    assert not (home / "data" / "databases" / "neo4j").exists()
    assert not (home / "data" / "transactions" / "neo4j").exists()
    assert sorted(p.name for p in home.iterdir()) == ["called", "data"]  # no import files left either


def test_an_existing_database_is_refused(tmp_path: Path) -> None:
    src = _csv(tmp_path / "tx.csv", _rows(5))
    home = tmp_path / "home"
    (home / "data" / "databases" / "neo4j").mkdir(parents=True)
    (home / "data" / "databases" / "neo4j" / "neostore").write_text("")
    with pytest.raises(StorageError) as err:
        import_offline(src, home, mapping=MAPPING, admin=str(_fake_admin(tmp_path, 0)))
    assert err.value.code == "database_exists"
    assert not (home / "called").exists()
    assert (home / "data" / "databases" / "neo4j" / "neostore").exists()  # untouched


def test_cli_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    src = _csv(tmp_path / "tx.csv", ["t1,not a time,u1,5,c1,,,,"])
    result = CliRunner().invoke(main, ["-q", "neo4j-import", str(src), "--home", str(tmp_path / "h"),
                                       "--neo4j-admin", str(_fake_admin(tmp_path, 0))])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: tx.csv has bad rows (row 1: ")
    assert not (tmp_path / "h" / "called").exists()


# ------------------------------------------------------------ on real servers
def _start(data: Path) -> Neo4jProcess:
    """A second server on an imported home, started as tests/conftest.py starts the first."""
    server = Neo4jProcess(data, free_port(), "--no-gds")
    if not server.wait_ready(240):
        server.stop(kill=True)
        pytest.fail("scripts/neo4j-server did not start on the imported database")
    return server


def _graph(store: Any) -> dict[str, Any]:
    """Counts per label and relationship type, and sums of the properties the loader computes."""
    with store._session() as s:
        labels = {tuple(r["l"]): r["n"] for r in s.run("MATCH (n) RETURN labels(n) AS l, count(*) AS n")}
        types = {r["t"]: r["n"] for r in s.run("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n")}
        used = s.run("MATCH (u:User)-[r:USED]->(e) RETURN labels(e)[0] AS l, count(*) AS n, sum(r.n) AS total, "
                     "sum(r.first_seen % 100003) AS f, sum(r.last_seen % 100003) AS l2 ORDER BY l").data()
        moved = s.run("MATCH (a:User)-[r:TRANSFERRED]->(b:User) RETURN count(*) AS n, sum(r.amount) AS amount, "
                      "collect(a.id + '>' + b.id + ':' + r.transaction_id) AS pairs").single().data()
        entities = sorted(r["k"] for r in s.run("MATCH (e:Entity) RETURN e.type + ':' + e.id AS k"))
        keys = sorted(r["k"] for r in s.run("MATCH (t:Transaction) UNWIND keys(t) AS k RETURN DISTINCT k AS k"))
        meta = s.run("MATCH (m:Meta) RETURN m.key AS key, m.value AS value, m.locked AS locked ORDER BY key").data()
    moved["pairs"] = sorted(moved["pairs"])
    return {"labels": labels, "types": types, "used": used, "moved": moved, "entities": entities, "keys": keys,
            "meta": meta}


def _transactions(store: Any) -> pd.DataFrame:
    return pd.concat(list(store.iter_transaction_frames()), ignore_index=True).sort_values("seq", ignore_index=True)


@pytest.fixture(scope="module")
def imported(neo4j_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The same file offline into a new database (served by a second server) and over Bolt into the session's."""
    if shutil.which("java") is None:
        pytest.skip("java is missing")
    from graphfraud.storage import open_store
    from graphfraud.storage.neo4j import Neo4jStore

    tmp = tmp_path_factory.mktemp("offline")
    src = _csv(tmp / "history.csv", _rows(2_000) + [_rows(1, 7)[0]])  # t7 twice: a duplicate
    more = _csv(tmp / "more.csv", _rows(300, 1_990))  # 10 repeats of history, 290 new
    summary = import_offline(src, tmp / "home", mapping=MAPPING, admin=str(ADMIN))
    server = _start(tmp / "home")
    url = server.url
    try:
        Neo4jStore(neo4j_server).clear()
        bolt = open_store(neo4j_server)
        loaded = load_file(src, bolt, mapping=MAPPING, progress=False, rejects_path=tmp / "r.csv")
        offline = open_store(url)  # creates the constraints and indexes
        yield {"summary": summary, "loaded": loaded, "offline": offline, "bolt": bolt, "more": more, "tmp": tmp}
    finally:
        server.stop()


@pytest.mark.neo4j
def test_offline_import_is_the_bolt_loaders_graph(imported: dict[str, Any]) -> None:
    summary, loaded = imported["summary"], imported["loaded"]
    assert (summary.rows_read, summary.transactions, summary.duplicates) == (2_001, 2_000, 1)
    assert (loaded.inserted, loaded.duplicates, loaded.rejected) == (2_000, 1, 0)
    offline, bolt = imported["offline"], imported["bolt"]
    want = _graph(bolt)
    assert want["types"]["TRANSFERRED"] == 400 and want["entities"][:2] == ["email:e0@x.org", "email:e1@x.org"]
    assert _graph(offline) == want
    assert offline.info() == {**bolt.info(), "store": offline.location}
    assert offline.last_seq() == bolt.last_seq() == 2_001
    pd.testing.assert_frame_equal(_transactions(offline), _transactions(bolt))
    links = ["type", "entity_id", "user_id"]
    pd.testing.assert_frame_equal(offline.links_frame().sort_values(links, ignore_index=True),
                                  bolt.links_frame().sort_values(links, ignore_index=True))
    for tid in ("t0", "t7", "t1999", "t5"):
        assert offline.get_transaction(tid) == bolt.get_transaction(tid)


@pytest.mark.neo4j
def test_bolt_loads_add_to_the_imported_database(imported: dict[str, Any]) -> None:
    offline, bolt, more, tmp = imported["offline"], imported["bolt"], imported["more"], imported["tmp"]
    with offline._session() as s:
        names = {r["name"] for r in s.run("SHOW CONSTRAINTS YIELD name")}
    assert {"gf_user_id", "gf_transaction_id", "gf_entity_type_id", "gf_meta_key"} <= names
    a = load_file(more, offline, mapping=MAPPING, progress=False, rejects_path=tmp / "r1.csv")
    b = load_file(more, bolt, mapping=MAPPING, progress=False, rejects_path=tmp / "r2.csv")
    assert (a.inserted, a.duplicates) == (b.inserted, b.duplicates) == (290, 10)
    assert offline.last_seq() == bolt.last_seq() == 2_301
    assert _graph(offline) == _graph(bolt)
    pd.testing.assert_frame_equal(_transactions(offline), _transactions(bolt))


def test_import_files_and_what_the_importer_writes_are_owner_only(tmp_path: Path) -> None:
    """Transaction data on disk is owner-only, as every file the product writes (the umask reaches the
    importer, a child process); here the importer fails, so the kept import files can be looked at."""
    src = _csv(tmp_path / "tx.csv", _rows(20))
    home, files = tmp_path / "home", tmp_path / "files"
    with pytest.raises(StorageError):
        import_offline(src, home, mapping=MAPPING, admin=str(_fake_admin(tmp_path, 1)), files_dir=files)
    written = [p for p in files.rglob("*") if p.is_file()]
    assert written and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in written)
    assert stat.S_IMODE(files.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "called").stat().st_mode) == 0o600  # written by the importer process
