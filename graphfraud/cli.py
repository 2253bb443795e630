"""The ``graphfraud`` command: thin Click shells over library calls.

This module is the one place in ``graphfraud`` that may import ``loaders`` and ``webui`` (lazily, inside
the commands that need them): it is the entry point that wires the packages together.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from .errors import GraphFraudError, ValidationError

#: ``generate --profile``: the function that writes each synthetic world (module relative to this package).
PROFILES = {"rings": ".synth:write_dataset", "card": ".synthcard:write_card_dataset",
            "stars": ".synth:write_stars", "chains": ".synth:write_chains", "bipartite": ".synth:write_bipartite",
            "sleepers": ".synth:write_sleepers", "merchants": ".synth:write_merchants", "mixed": ".synth:write_mixed",
            "mules": ".synth:write_mules"}
STORE_HELP = "Store file or neo4j:// / bolt:// URL (default: $GRAPHFRAUD_STORE or ./graphfraud.db)."
RAW_HELP = ("Write ids and text exactly as stored, for programs that join on them; by default a cell that a "
            "spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) gets a leading '.")


class OutPath(click.Path):
    """A file the command will write: its folder must exist, checked before any work (a long backtest or a
    scoring run failed only at its very end on a mistyped folder)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        value = super().convert(value, param, ctx)
        folder = os.path.dirname(os.path.abspath(os.fsdecode(value)))
        if not os.path.isdir(folder):
            self.fail(f"the folder {folder} does not exist; create it first", param, ctx)
        return value


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a GraphFraudError (or an OS error) into one line on stderr and exit code 1; a reader that stops
    early (``| head``) ends the command quietly."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BrokenPipeError:
            # nothing more can be written to it, at exit either (Python's advice for SIGPIPE)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except GraphFraudError as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(1)
        except (OSError, UnicodeDecodeError) as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(1)

    return wrapper


def reports_progress(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show the command's phases on stderr (:mod:`graphfraud.progress`) unless ``graphfraud --quiet``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .progress import reporting

        ctx = click.get_current_context()
        with reporting(ctx.info_name or "graphfraud", enabled=not ctx.find_root().params.get("quiet")):
            return fn(*args, **kwargs)

    return wrapper


def store_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--store", "store_path", envvar="GRAPHFRAUD_STORE", default=None, help=STORE_HELP)(fn)


def open_store(store_path: str | None, *, existing: bool = False, announce: bool = False) -> Any:
    """The store at ``store_path`` (default: the ``store`` setting); ``existing``: for commands that only read
    or change what a store holds, an embedded store must exist already (a mistyped path is an error, not a new
    empty store); ``announce``: a store this call creates is named on standard error (commands other than
    ``load`` that may start a store, where a mistyped path would otherwise make a new one without a word)."""
    from . import settings
    from .storage import is_neo4j_url
    from .storage import open_store as _open

    loc = str(store_path if store_path is not None else settings.get("store"))
    new = announce and not existing and not is_neo4j_url(loc) and not os.path.exists(loc)
    store = _open(store_path, create=not existing)
    if new:  # a mistyped path would otherwise be a new empty store without a word
        click.echo(f"graphfraud: created a new, empty store at {loc}", err=True)
    return store


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="graphfraud")
@click.option("-q", "--quiet", is_flag=True, help="No progress on standard error (long commands show their "
              "phases, rows, rate and ETA there: a bar on a terminal, a line every 10 s otherwise).")
def main(quiet: bool) -> None:
    """graphfraud: find fraud rings by following the links between transactions.

    \b
    Example, from nothing to a scored backtest:
      graphfraud generate data/transactions.csv --users 5000 --seed 1
      graphfraud load data/transactions.csv
      graphfraud info --json
    """


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--mapping", help="Mapping file (TOML) or the name of a shipped mapping (aws_transactions, ...).")
@click.option("--rejects", "rejects_path", type=OutPath(),
              help="Where bad rows go (default: FILE's name + .rejects.csv in the current folder).")
@click.option("--chunk-size", type=click.IntRange(1000, 5_000_000), default=None, help="Rows per atomic chunk.")
@store_option
@handle_errors
@reports_progress
def load(file: str, mapping: str | None, rejects_path: str | None, chunk_size: int | None,
         store_path: str | None) -> None:
    """Bulk-load transactions from CSV (also .gz), Parquet or JSON Lines.

    Bad rows go to a rejects file with their row number and reason; loading the same file again adds
    nothing.

    \b
    Example:
      graphfraud load transactions.csv.gz --store fraud.db
      graphfraud load registrations.csv --mapping aws_registrations
    """
    from loaders import load_file

    mp = _checked_mapping(file, mapping)
    store = open_store(store_path)
    try:
        summary = load_file(file, store, mapping=mp, rejects_path=rejects_path, chunk_size=chunk_size,
                            progress=None)
    finally:
        store.close()
    _report_load(summary)
    if summary.rejected and not (summary.inserted or summary.duplicates or summary.labelled or summary.conflicts):
        raise ValidationError(f"every one of the {summary.rejected:,} rows was rejected; the first, "
                              f"{summary.first_reject} (all of them are in {summary.rejects_path})")


def _checked_mapping(file: str, mapping: str | None) -> Any:
    """The mapping ``mapping`` names, read, and checked against ``file``'s columns before a store is opened: a
    bad mapping, or a file that lacks a column it needs, stops the command with nothing written (no store made).
    """
    if mapping is None:
        return None
    from loaders import load_mapping
    from loaders.readers import ChunkReader

    from . import settings

    mp = load_mapping(mapping)
    reader = ChunkReader(file, int(settings.get("chunk_size")))
    for _ in reader:  # the load's first chunk gives the columns (JSON lines: the keys of its records)
        break
    if reader.columns:  # (a JSON-lines file with no record has none, and loads nothing)
        mp.check_columns(reader.columns)
    return mp


def _report_load(summary: Any, *, err: bool = False) -> None:
    """A load's summary (on standard error with ``err``), then each of its warnings on standard error."""
    click.echo(str(summary), err=err)
    for w in summary.warnings:
        click.echo(f"warning: {w}", err=True)


@main.command("neo4j-import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--home", required=True, type=click.Path(file_okay=False),
              help="Neo4j home to create the database in (NEO4J_HOME: the folder of scripts/neo4j-server --data). "
                   "Stop the server first; the database must not exist.")
@click.option("--mapping", help="Mapping file (TOML) or the name of a shipped mapping, as for load.")
@click.option("--database", default="neo4j", show_default=True, help="The database to create.")
@click.option("--neo4j-admin", "admin", default="neo4j-admin", show_default=True,
              help="The neo4j-admin command; scripts/neo4j-admin runs it from the Maven jars.")
@click.option("--files", "files_dir", type=click.Path(file_okay=False),
              help="Write the importer's CSV files here and keep them (default: a temporary folder).")
@handle_errors
@reports_progress
def neo4j_import(file: str, home: str, mapping: str | None, database: str, admin: str, files_dir: str | None) -> None:
    """First load of history into a new Neo4j database, with Neo4j's offline importer.

    Rows are validated as load validates them, but any bad row stops the import before Neo4j is touched.
    Then start the server on HOME: the first command over Bolt creates the constraints and indexes, and
    `graphfraud load` adds later files over Bolt.

    \b
    Example:
      graphfraud neo4j-import history.csv.gz --home /srv/neo4j --neo4j-admin scripts/neo4j-admin
      scripts/neo4j-server --port 7687 --data /srv/neo4j &
      graphfraud load today.csv --store bolt://127.0.0.1:7687
    """
    import shlex

    from loaders.offline import import_offline

    click.echo(str(import_offline(file, home, mapping=mapping, database=database, admin=shlex.split(admin),
                                  files_dir=files_dir)))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", type=click.Choice(["file", "chargeback", "investigator"]), default="chargeback",
              show_default=True, help="Where the labels come from (decides which wins a disagreement).")
@click.option("--rejects", "rejects_path", type=OutPath(), help="Where bad rows go.")
@store_option
@handle_errors
def label(file: str, source: str, rejects_path: str | None, store_path: str | None) -> None:
    """Apply labels that arrive later (chargebacks, reviews).

    The file has columns transaction_id,is_fraud[,fraud_type][,labelled_at] or
    user_id,user_label[,labelled_at] (user_label: fraudster, mule, victim or legitimate). A labelled_at before
    the transaction's own time is refused, as load refuses it.

    \b
    Example:
      graphfraud label chargebacks.csv --source chargeback
    """
    from loaders import load_labels

    store = open_store(store_path, existing=True)
    try:
        summary = load_labels(file, store, source=source, rejects_path=rejects_path)
    finally:
        store.close()
    click.echo(str(summary))
    if summary.rejected and not (summary.added or summary.unchanged):
        raise ValidationError(f"every one of the {summary.rejected:,} label rows was rejected; the first, "
                              f"{summary.first_reject} (all of them are in {summary.rejects_path})")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@store_option
@handle_errors
def info(as_json: bool, store_path: str | None) -> None:
    """Counts in the store: transactions, labels, fraud, entities per type, links.

    \b
    Example:
      graphfraud info --json
    """
    store = open_store(store_path, existing=True)
    try:
        data = store.info()
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(data, sort_keys=True))
        return
    click.echo(f"store         {data['store']}")
    for k in ("transactions", "labelled", "fraud", "links"):
        click.echo(f"{k:<13} {data[k]:,}")
    for t, n in data["entities"].items():
        click.echo(f"  {t:<11} {n:,}")


@main.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--users", type=click.IntRange(50, 10_000_000), default=10_000, show_default=True,
              help="Number of users to simulate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same files).")
@click.option("--days", type=click.IntRange(7, 3650), default=None,
              help="Length of the period (default: the profile's, 90 days for rings).")
@click.option("--profile", type=click.Choice(sorted(PROFILES)), default="rings", show_default=True,
              help="Which world: rings (fraud rings and takeovers among look-alikes), card (card fraud whose "
                   "labels mark victims); ring typologies among the same look-alikes: stars, chains, bipartite, "
                   "sleepers, merchants, mixed (all shapes); mules (money mules among ordinary transfers, with "
                   "labels.csv of the known mules). See docs/synth.md.")
@click.option("--fraud-rate", type=click.FloatRange(0.0005, 0.2), default=None,
              help="Share of transactions that are fraud (default: the profile's).")
@click.option("--label-delay-days", type=click.FloatRange(0, 365), default=None,
              help="Mean days from a fraud to its label; labelled_at is written when given (default: the profile's).")
@click.option("--labelled-share", type=click.FloatRange(0, 1), default=None,
              help="Share of fraud that ever gets a fraud label (default: the profile's, all of it).")
@handle_errors
@reports_progress
def generate(out: str, users: int, seed: int, days: int | None, profile: str, fraud_rate: float | None,
             label_delay_days: float | None, labelled_share: float | None) -> None:
    """Write a synthetic world's transactions, and truth.json beside them.

    \b
    Example:
      graphfraud generate data/transactions.csv --users 10000 --seed 11
      graphfraud generate data/card.csv --profile card --users 5000 --seed 11
      graphfraud generate data/mixed.csv --profile mixed --fraud-rate 0.005 --labelled-share 0.7
      graphfraud generate data/mules/transactions.csv --profile mules --users 10000 --seed 11
    """
    import importlib

    module, func = PROFILES[profile].split(":")
    write = getattr(importlib.import_module(module, __package__), func)
    knobs = {"days": days, "fraud_rate": fraud_rate, "label_delay_days": label_delay_days,
             "labelled_share": labelled_share}
    from .output import private_umask
    from .progress import phase

    with private_umask(), phase(f"generating a {profile} world of {users:,} users"):  # plain pandas and json writes
        summary = write(out, users, seed=seed, **{k: v for k, v in knobs.items() if v is not None})
    click.echo(json.dumps(summary, sort_keys=True, default=str))


@main.command()
@click.option("--label-delay", default=None, help="Delay before a label without its own time is known (e.g. 1d).")
@click.option("--promote/--no-promote", default=True, show_default=True, help="Serve the new model at once.")
@click.option("--engine/--no-engine", "engine", default=True, show_default=True,
              help="Then bring the engine snapshot that `serve` starts from level with the store (the first time, "
              "about a minute a million transactions; seconds when it is current).")
@store_option
@handle_errors
@reports_progress
def train(label_delay: str | None, promote: bool, engine: bool, store_path: str | None) -> None:
    """Train new model versions on the store's history: the transaction model from labelled transactions
    (point-in-time features), the account model (what `suspects` ranks with) from accounts known as fraud.
    Then the engine snapshot `serve` starts from is brought up to date, so that a server started next is
    ready in seconds.

    \b
    Example:
      graphfraud train --label-delay 1d
    """
    from .training import train_model

    store = open_store(store_path, existing=True)
    try:
        out = train_model(store, overrides={"label_delay": label_delay}, promote=promote,
                          log=lambda m: click.echo(m, err=True))
        if engine:
            _prepare_serving(store)
    finally:
        store.close()
    if out["version"] is not None:
        click.echo(f"model {out['version']} ({'promoted' if out['promoted'] else 'not promoted'}): "
                   f"{json.dumps(out['metrics'], sort_keys=True)}")
        if "not_promoted" in out:
            click.echo(f"warning: model {out['version']} is not promoted: {out['not_promoted']}", err=True)
    else:
        click.echo(out["skipped"])
    acc = out.get("accounts")
    if acc is not None:
        click.echo(f"account model {acc['version']} (in use by suspects): {json.dumps(acc['metrics'], sort_keys=True)}")


def _prepare_serving(store: Any) -> None:
    """The engine snapshot ``serve`` starts from, brought level with ``store`` (:func:`~graphfraud.scoring.
    prepare_engine`, with the settings ``serve`` reads) in a process of its own, so its memory goes back at
    once. A folder that cannot take the file is a warning: ``serve`` then builds the engine when it starts."""
    from .memory import give_back, run_apart
    from .scoring import prepare_engine

    def work(say: Callable[[str], None]) -> int:
        store.after_fork()
        return prepare_engine(store)

    give_back()  # what the fits left free goes back first, not to sit beside the engine being built
    try:
        run_apart(work, "preparing the engine serve starts from")
    except OSError as e:
        click.echo(f"warning: the engine snapshot that serve starts from could not be written ({e}); serve "
                   f"will build the engine from the store when it starts", err=True)


def _ms(text: str | None) -> int | None:
    if text is None:
        return None
    from .schema import parse_ts

    try:
        return parse_ts(text, "date")
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--mapping", help="Mapping file or shipped mapping name for FILE.")
@click.option("--train-frac", type=float, help="Train on the first F of the transactions in time order.")
@click.option("--train-start", help="Start of the training window (ISO 8601).")
@click.option("--train-end", help="End of the training window.")
@click.option("--test-start", help="Start of the test window.")
@click.option("--test-end", help="End of the test window.")
@click.option("--label-delay", default="1d", show_default=True, help="When labels without a time become known.")
@click.option("--scores-out", type=OutPath(), help="CSV: transaction_id,score,decision,reasons.")
@click.option("--raw", is_flag=True, help=RAW_HELP)
@click.option("--report", "report_path", type=OutPath(), help="Write the full report (JSON).")
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False), help="Rules file (TOML).")
@click.option("--store", "store_path", default=None,
              help="Store to load into (default: a fresh temporary store, removed afterwards).")
@handle_errors
@reports_progress
def backtest(file: str, mapping: str | None, train_frac: float | None, train_start: str | None,
             train_end: str | None, test_start: str | None, test_end: str | None, label_delay: str,
             scores_out: str | None, raw: bool, report_path: str | None, rules_path: str | None,
             store_path: str | None) -> None:
    """Train on a past window and replay a later one through the online scoring path.

    \b
    Example:
      graphfraud backtest transactions.csv --train-frac 0.6 --label-delay 1d --scores-out scores.csv
    """
    import shutil

    from loaders import load_file

    from . import scratch
    from .backtest import check_windows, format_report, run_backtest
    from .rules import RuleSet
    from .settings import parse_duration

    # every option is checked before the file is loaded (a load of millions of rows takes minutes)
    t0, t1, t2, t3 = _ms(train_start), _ms(train_end), _ms(test_start), _ms(test_end)
    check_windows(train_frac=train_frac, train_start=t0, train_end=t1, test_start=t2, test_end=t3)
    delay_ms = int(parse_duration(label_delay) * 1000)
    rules = RuleSet.from_file(rules_path) if rules_path else None
    if rules is not None:
        from .graph.features import row_names
        from .scoring import new_engine

        rules.check_names(row_names(new_engine()))
    mp = _checked_mapping(file, mapping)
    tmp = None
    if store_path is None:
        tmp = scratch.make_dir("backtest")
        store_path = f"{tmp}/backtest.db"
    store = open_store(store_path)
    try:
        # links are folded only if something reads them (the replay builds its graph from the transactions)
        summary = load_file(file, store, mapping=mp, fold_links=False)
        _report_load(summary, err=True)
        report = run_backtest(store, train_frac=train_frac, train_start=t0, train_end=t1, test_start=t2, test_end=t3,
                              label_delay_ms=delay_ms, rules=rules,
                              scores_out=scores_out, raw=raw, log=lambda m: click.echo(m, err=True))
    finally:
        store.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if report_path:
        from .output import open_private

        with open_private(report_path, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, sort_keys=True)
    click.echo(format_report(report))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_path", required=True, type=OutPath(), help="Scores CSV to write.")
@click.option("--mapping", help="Mapping file or shipped mapping name for FILE.")
@click.option("--raw", is_flag=True, help=RAW_HELP)
@store_option
@handle_errors
@reports_progress
def score(file: str, out_path: str, mapping: str | None, raw: bool, store_path: str | None) -> None:
    """Score new transactions through the online path; they join the graph as they are scored.

    \b
    Example:
      graphfraud score new.csv --out scores.csv
    """
    from loaders import read_transactions

    from .scoring import Scorer

    store = open_store(store_path, announce=True)
    try:
        scorer = Scorer(store)
        n, failed, first = scorer_to_csv(scorer, read_transactions(file, mapping=mapping), out_path, raw=raw)
    finally:
        store.close()
    if failed and not n:
        raise ValidationError(f"none of the {failed:,} rows was scored (their errors are in {out_path}); the "
                              f"first: {first}")
    click.echo(f"scored {n:,} transactions into {out_path}")
    if failed:
        click.echo(f"warning: {failed:,} rows were not scored; their errors are in the error column of {out_path} "
                   f"(the first: {first})", err=True)


def scorer_to_csv(scorer: Any, items: Any, out_path: str, raw: bool = False) -> tuple[int, int, str | None]:
    """Score ``items`` (transactions, or ``(row, reason[, id])`` rejects) into a CSV written by
    :func:`graphfraud.output.csv_writer` (owner-only; formulas neutralised unless ``raw``); returns the rows
    scored, the rows not scored (their ``error`` cell says why) and the first of those errors."""
    from .output import csv_writer, open_private

    n = failed = 0
    first: str | None = None
    with open_private(out_path, "w", newline="", encoding="utf-8") as fh:
        w = csv_writer(fh, raw=raw)
        w.writerow(["transaction_id", "score", "decision", "reasons", "ring_id", "error"])
        for item in items:
            if isinstance(item, tuple):  # (row, reason) for a rejected row
                error = f"row {item[0]}: {item[1]}"
                w.writerow([item[2] if len(item) > 2 else "", "", "", "", "", error])
            else:
                try:
                    r = scorer.score(item)
                except GraphFraudError as e:
                    error = f"{item.transaction_id}: {e}"
                    w.writerow([item.transaction_id, "", "", "", "", str(e)])
                else:
                    w.writerow([r["transaction_id"], f"{r['score']:.6f}", r["decision"],
                                " | ".join(x["message"] for x in r["reasons"]),
                                (r.get("ring") or {}).get("ring_id", ""), ""])
                    n += 1
                    continue
            failed += 1
            first = first or error
    return n, failed, first


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker processes (each starts from the engine this process prepared, sharing its memory "
                   "pages until it changes them).")
@click.option("--threads", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Request threads per worker. Scoring is CPU-bound and serialised per worker, so one "
                   "thread (gunicorn's sync worker) is fastest; above 1, the threaded worker with keep-alive. "
                   "Add workers, not threads.")
@click.option("--rings-every", type=click.FloatRange(0), default=None,
              help="Seconds between refreshes of the ring registry (/rings, the rings queue) by a low-priority "
                   "process, when the store changed; 0: only `graphfraud rings` refreshes it. Default: the "
                   "rings_every setting (GRAPHFRAUD_RINGS_EVERY, 300).")
@store_option
@handle_errors
def serve(host: str, port: int, workers: int, threads: int, rings_every: float | None,
          store_path: str | None) -> None:
    """Run the scoring API (and investigator pages) on gunicorn; SIGTERM stops it gracefully.

    \b
    Example:
      graphfraud serve --host 0.0.0.0 --port 8000 --workers 2
    """
    from webui.server import serve as run_server

    from . import settings

    every = float(settings.get("rings_every")) if rings_every is None else rings_every
    run_server(host, port, workers, threads, store=store_path, rings_every=every)


@main.group()
def apikey() -> None:
    """Create, list and revoke API keys for /api/v1 (stored hashed; a key is shown once)."""


@apikey.command("create")
@click.option("--name", required=True, help="Who the key is for (revoke by this name).")
@click.option("--scope", type=click.Choice(["score", "admin"]), default="score", show_default=True,
              help="score: score and read decisions; admin: everything (labels, rings, entities).")
@store_option
@handle_errors
def apikey_create(name: str, scope: str, store_path: str | None) -> None:
    """Create a key and print it once, as the last word of the last line.

    \b
    Example:
      graphfraud apikey create --name payments --scope score
    """
    from webui.auth import create_api_key

    store = open_store(store_path, announce=True)
    try:
        key = create_api_key(store, name, scope)
    finally:
        store.close()
    click.echo(f"Created API key {name!r} with scope {scope}. It is shown only this once:")
    click.echo(key)


@apikey.command("list")
@store_option
@handle_errors
def apikey_list(store_path: str | None) -> None:
    """List keys (names, scopes, dates; never the keys)."""
    store = open_store(store_path, existing=True)
    try:
        rows = store.list_api_keys()
    finally:
        store.close()
    for r in rows:
        state = "revoked" if r["revoked_at"] else "active"
        click.echo(f"{r['id']:>4}  {r['name']:<24} {r['scope']:<6} {state}")


@apikey.command("revoke")
@click.argument("name")
@store_option
@handle_errors
def apikey_revoke(name: str, store_path: str | None) -> None:
    """Revoke every active key named NAME (servers stop accepting it within 5 s)."""
    store = open_store(store_path, existing=True)
    try:
        n = store.revoke_api_key(name)
    finally:
        store.close()
    click.echo(f"Revoked {n} key(s) named {name!r}.")


@main.command()
@click.option("--top", type=click.IntRange(1, None), default=50, show_default=True, help="How many rings to print.")
@click.option("--min-size", type=click.IntRange(2, None), default=None, help="Fewest users in a ring "
              "(default: $GRAPHFRAUD_RING_MIN_SIZE or 3).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--raw", is_flag=True, help="With --format csv: " + RAW_HELP)
@store_option
@handle_errors
@reports_progress
def rings(top: int, min_size: int | None, fmt: str, raw: bool, store_path: str | None) -> None:
    """Find fraud rings, update the ring registry, and print the best first.

    \b
    Example:
      graphfraud rings --top 20
      graphfraud rings --top 500 --format json > rings.json
    """
    from .ringrefresh import run_ring_detection
    from .rings import format_rings

    store = open_store(store_path, existing=True)
    try:
        found = run_ring_detection(store, min_size=min_size)
    finally:
        store.close()
    click.echo(format_rings(found[:top], fmt, raw=raw), nl=False)
    if not found:
        from . import settings

        size = int(settings.get("ring_min_size") if min_size is None else min_size)
        click.echo(f"No rings: no {size} or more users are linked by shared identifiers or by money between "
                   "suspects.", err=True)


@main.command()
@click.option("--top", type=click.IntRange(0, None), default=50, show_default=True,
              help="How many accounts to print, best first (0: every account).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--raw", is_flag=True, help="CSV: write ids exactly as stored (no spreadsheet-formula escaping).")
@store_option
@handle_errors
@reports_progress
def suspects(top: int, fmt: str, raw: bool, store_path: str | None) -> None:
    """Rank accounts by risk as of the latest data (mules, laundering and fraud accounts).

    Each row has user_id, score, reasons and ring_id; accounts already known as fraud are scored by a model
    that did not learn from their labels. Train the account model first (`graphfraud train`).

    \b
    Example:
      graphfraud suspects --top 20
      graphfraud suspects --top 0 --format csv > suspects.csv
    """
    from .graph.build import load_or_build_engine
    from .suspects import format_suspects, rank_suspects

    store = open_store(store_path, existing=True)
    try:
        ranked = rank_suspects(store, load_or_build_engine(store), top=top)
    finally:
        store.close()
    click.echo(format_suspects(ranked, fmt, raw=raw), nl=False)


@main.group()
def model() -> None:
    """Model versions: list them, promote one for scoring, roll back to the previous one.

    \b
    Example:
      graphfraud model list
      graphfraud model promote m-20240501-120000-a1b2c3
      graphfraud model rollback
    """


@model.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@store_option
@handle_errors
def model_list(as_json: bool, store_path: str | None) -> None:
    """List stored model versions, oldest first, with status and metrics.

    \b
    Example:
      graphfraud model list --json
    """
    from .models import list_models

    store = open_store(store_path, existing=True)
    try:
        rows = list_models(store)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, sort_keys=True, default=str))
        return
    if not rows:
        click.echo("No model versions yet; the rules alone decide.")
        return
    for r in rows:
        metrics = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in sorted((r.get("metrics") or {}).items()))
        click.echo(f"{r['version']}  {r['status']:<9}  {len(r.get('features', []))} features  {metrics}".rstrip())


@model.command("promote")
@click.argument("version")
@store_option
@handle_errors
def model_promote(version: str, store_path: str | None) -> None:
    """Make VERSION the model that scoring uses (serving picks it up without a restart).

    \b
    Example:
      graphfraud model promote m-20240501-120000-a1b2c3
    """
    from .models import promote

    store = open_store(store_path, existing=True)
    try:
        click.echo(f"promoted {promote(store, version)}")
    finally:
        store.close()


@model.command("rollback")
@store_option
@handle_errors
def model_rollback(store_path: str | None) -> None:
    """Re-promote the model version that was promoted before the current one.

    \b
    Example:
      graphfraud model rollback --store fraud.db
    """
    from .models import rollback

    store = open_store(store_path, existing=True)
    try:
        click.echo(f"promoted {rollback(store)}")
    finally:
        store.close()


@main.group()
def user() -> None:
    """Create and list investigator accounts for the web pages (passwords stored as scrypt hashes)."""


@user.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["analyst", "admin"]), default="analyst", show_default=True,
              help="analyst: investigate (identifiers masked when the admin says so); admin: everything.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@store_option
@handle_errors
def user_create(name: str, role: str, password_stdin: bool, store_path: str | None) -> None:
    """Create an account NAME that signs in at /login.

    \b
    Example:
      echo 'a-long-secret' | graphfraud user create alice --role analyst --password-stdin
    """
    from .accounts import hash_password

    if not name.strip():  # before asking for a password that would be thrown away
        raise ValidationError("An account name cannot be empty.", ["name: empty"])
    import unicodedata

    # the sign-in form takes what is typed without spaces at the ends, up to 128 characters, as the browser
    # composes it: a name it cannot match would be an account no one can sign in to
    if (name != name.strip() or len(name) > 128 or not name.isprintable()
            or name != unicodedata.normalize("NFC", name)):
        raise ValidationError(f"The account name {name[:40]!r} could never be typed at sign-in: use up to 128 "
                              "printable characters, no spaces at either end.", ["name: not usable at sign-in"])
    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin else
                click.prompt("Password", hide_input=True, confirmation_prompt=True))
    hashed = hash_password(password)
    store = open_store(store_path, announce=True)
    try:
        store.create_app_user(name, role, hashed)
    finally:
        store.close()
    click.echo(f"Created {role} {name!r}.")


@user.command("list")
@store_option
@handle_errors
def user_list(store_path: str | None) -> None:
    """List accounts, their roles, and whether they are disabled."""
    store = open_store(store_path, existing=True)
    try:
        for r in store.list_app_users():
            click.echo(f"{r['name']:<24} {r['role']}{'  (disabled)' if r.get('disabled') else ''}")
    finally:
        store.close()


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@store_option
@handle_errors
def user_passwd(name: str, password_stdin: bool, store_path: str | None) -> None:
    """Set a new password for NAME; every session of NAME ends at once, on every server.

    \b
    Example:
      echo 'a-new-long-secret' | graphfraud user passwd alice --password-stdin
    """
    from .accounts import hash_password

    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin else
                click.prompt("New password", hide_input=True, confirmation_prompt=True))
    hashed = hash_password(password)
    store = open_store(store_path, existing=True)
    try:
        n = store.update_app_user(name, password_hash=hashed)
    finally:
        store.close()
    click.echo(f"Changed the password of {name!r}; {n} session(s) ended.")


@user.command("disable")
@click.argument("name")
@store_option
@handle_errors
def user_disable(name: str, store_path: str | None) -> None:
    """Disable NAME: it can no longer sign in, and every session of NAME ends at once, on every server."""
    store = open_store(store_path, existing=True)
    try:
        n = store.update_app_user(name, disabled=True)
    finally:
        store.close()
    click.echo(f"Disabled {name!r}; {n} session(s) ended.")


@user.command("enable")
@click.argument("name")
@store_option
@handle_errors
def user_enable(name: str, store_path: str | None) -> None:
    """Let a disabled account NAME sign in again (with its old password)."""
    store = open_store(store_path, existing=True)
    try:
        store.update_app_user(name, disabled=False)
    finally:
        store.close()
    click.echo(f"Enabled {name!r}.")


@main.command()
@click.option("--user", "user_id", required=True, help="The user id whose personal data is erased.")
@click.option("--actor", default=None, help="Who asks for the erasure, for the audit trail (default: your login).")
@store_option
@handle_errors
def erase(user_id: str, actor: str | None, store_path: str | None) -> None:
    """Erase a user's personal data: ids become pseudonyms, counts stay the same, the audit trail records it.

    The user id becomes ``erased:<hash>`` in transactions, links, labels, decisions and rings; identifiers
    only this user had, and emails, phones and addresses, get pseudonyms; attributes of the user's
    transactions are dropped. Running servers rebuild their engine on their next request.

    \b
    Example:
      graphfraud erase --user U12345 --actor dpo@example.org
    """
    import getpass

    if actor is None:
        try:
            actor = "cli:" + getpass.getuser()
        except (KeyError, OSError):
            actor = "cli"
    from .erasure import erase_user

    store = open_store(store_path, existing=True)
    try:
        out = erase_user(store, user_id, actor)  # either backend; the engine snapshot goes too
    finally:
        store.close()
    # the user id is not echoed: terminals and CI logs keep what they print
    click.echo(f"Erased: the user is now {out['pseudonym']} ({out['transactions']:,} transactions, "
               f"{out['identifiers_pseudonymised']:,} identifiers pseudonymised); the audit trail records it.")

if __name__ == "__main__":  # pragma: no cover
    main()
