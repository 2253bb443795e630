"""Progress on long commands: phases on standard error only, plain lines off a terminal, silent with --quiet."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from graphfraud import progress
from graphfraud.cli import main


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_name_the_command_phase_and_counts():
    out = io.StringIO()
    with progress.reporting("train", stream=out, interval=0):
        with progress.phase("replaying history", total=9_000, unit="transactions") as p:
            p.update(4_500)
            p.update(9_000)
        with progress.phase("fitting the model"):
            pass
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"train: replaying history 4,500/9,000 transactions \([\d,]+ transactions/s, ETA .+\)",
                        lines[0])
    assert lines[2].startswith("train: replaying history done: 9,000 transactions in ")
    assert lines[3] == "train: fitting the model ..."
    assert lines[4].startswith("train: fitting the model done in ")


def test_a_share_of_the_input_gives_the_eta_and_an_error_stops_the_phase():
    out = io.StringIO()
    with pytest.raises(ValueError), progress.reporting("load", stream=out, interval=0):
        with progress.phase("loading tx.csv") as p:
            p.update(1_000, fraction=0.25)
            raise ValueError("bad file")
    text = out.getvalue()
    assert "load: loading tx.csv 1,000 rows (25%, " in text and "ETA" in text
    assert "load: loading tx.csv stopped: 1,000 rows in " in text


def test_nothing_is_shown_outside_reporting_or_when_disabled():
    with progress.phase("anything", total=3) as p:  # no reporter: the silent phase
        p.update(3)
    assert p is progress.SILENT
    out = io.StringIO()
    with progress.reporting("rings", stream=out, enabled=False):
        with progress.phase("clustering"):
            pass
    with progress.reporting("rings", stream=out, plain=False):  # not a terminal, no plain lines wanted
        with progress.phase("clustering"):
            pass
    assert out.getvalue() == "" and not progress.is_reporting()


def test_a_terminal_gets_a_live_bar_with_counts_and_rate():
    out = Terminal()
    with progress.reporting("load", stream=out):
        with progress.phase("loading tx.csv", total=2_000) as p:
            p.update(2_000)
    text = out.getvalue()
    assert "loading tx.csv" in text and "2,000/2,000 rows" in text and "rows/s" in text
    assert "load: " not in text  # no plain lines on a terminal


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A small generated world, loaded and trained through the CLI (stdout and stderr kept apart)."""
    folder = tmp_path_factory.mktemp("progress")
    runner = CliRunner()
    store = str(folder / "gf.db")
    results = {}
    for name, args in (("generate", ["generate", str(folder / "w" / "tx.csv"), "--users", "300", "--seed", "1"]),
                       ("load", ["load", str(folder / "w" / "tx.csv"), "--store", store,
                                 "--rejects", str(folder / "rejects.csv")]),
                       ("train", ["train", "--store", store])):
        results[name] = runner.invoke(main, args, catch_exceptions=False)
        assert results[name].exit_code == 0, results[name].output
    return {"store": store, "runner": runner, **results}


def test_generate_load_and_train_report_phases_on_stderr_only(world):
    generated = json.loads(world["generate"].stdout)  # stdout is the JSON summary alone
    assert f"generate: writing tx.csv done: {generated['n_transactions']:,} rows in " in world["generate"].stderr
    assert "generate" not in world["generate"].stdout
    n = generated["n_transactions"]
    load = world["load"]
    assert load.stdout.startswith(f"{n:,} rows read: {n:,} inserted") and len(load.stdout.splitlines()) == 1
    assert f"load: loading tx.csv done: {n:,} rows in " in load.stderr
    train = world["train"]
    assert "train:" not in train.stdout
    for phase in ("reading history done", f"replaying history ({n:,} labelled) done: {n:,} transactions",
                  "fitting the model on", "fitting the account model"):
        assert f"train: {phase}" in train.stderr, train.stderr


@pytest.mark.parametrize(("command", "fmt"), [("rings", "json"), ("rings", "csv"), ("suspects", "json"),
                                              ("suspects", "csv")], ids=["rings-json", "rings-csv",
                                                                          "suspects-json", "suspects-csv"])
def test_rings_and_suspects_keep_stdout_parseable(world, command, fmt):
    r = world["runner"].invoke(main, [command, "--format", fmt, "--store", world["store"]])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout) if fmt == "json" else list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows
    assert f"{command}: " in r.stderr and f"{command}: " not in r.stdout
    quiet = world["runner"].invoke(main, ["--quiet", command, "--format", fmt, "--store", world["store"]])
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == r.stdout


def test_backtest_reports_its_replays_and_keeps_the_report_on_stdout(world, tmp_path: Path):
    src = Path(world["store"]).parent / "w" / "tx.csv"
    r = world["runner"].invoke(main, ["backtest", str(src), "--train-frac", "0.6",
                                      "--scores-out", str(tmp_path / "s.csv"), "--report", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("test rows ") and "backtest:" not in r.stdout
    for phase in ("loading tx.csv done", "replaying the training window done", "replaying the test window done",
                  "deciding done"):
        assert f"backtest: {phase}" in r.stderr, r.stderr
