"""The first load of history into Neo4j, offline: file -> chunks -> mapping -> validation -> the importer's
CSV files -> ``neo4j-admin database import full`` into a new database. Bolt loads (:func:`loaders.load_file`)
add to it afterwards. See ``docs/neo4j.md`` ("First load offline").
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphfraud import progress as gf_progress
from graphfraud import settings
from graphfraud.errors import ValidationError
from graphfraud.output import private_umask
from graphfraud.storage.neo4j_import import ImportFiles, ImportRun, ImportWriter, run_import

from .bulk import _prepare_chunk, file_extra_types
from .mapping import Mapping, load_mapping
from .readers import ChunkReader

__all__ = ["ImportSummary", "import_offline"]

MAX_ERRORS = 20  # bad rows named in the error before it stops listing them


@dataclass
class ImportSummary:
    """What an offline import did: rows read, transactions imported, repeated rows skipped, the importer's
    node and relationship counts, and the time of each step."""

    rows_read: int
    transactions: int
    duplicates: int
    nodes: int
    relationships: int
    database_dir: Path
    files_dir: Path | None
    seconds_files: float
    seconds_import: float

    @property
    def seconds(self) -> float:
        return self.seconds_files + self.seconds_import

    def __str__(self) -> str:
        rate = self.rows_read / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.rows_read:,} rows read: {self.transactions:,} transactions imported, {self.duplicates:,} "
                f"duplicates; {self.nodes:,} nodes and {self.relationships:,} relationships in "
                f"{self.database_dir} in {self.seconds:.1f} s (files {self.seconds_files:.1f} s, importer "
                f"{self.seconds_import:.1f} s; {rate:,.0f} rows/s).")


def import_offline(path: str | os.PathLike[str], home: str | os.PathLike[str], *,
                   mapping: str | os.PathLike[str] | Mapping | dict[str, Any] | None = None,
                   database: str = "neo4j", admin: Sequence[str] | str = "neo4j-admin",
                   files_dir: str | os.PathLike[str] | None = None, chunk_size: int | None = None) -> ImportSummary:
    """Import a transactions file into a new Neo4j database with Neo4j's offline importer.

    The file is read and validated exactly as :func:`loaders.load_file` reads it (same readers, mapping and
    :func:`graphfraud.schema.validate_frame`), but a bad row stops the import before anything is written
    to Neo4j: a :class:`~graphfraud.errors.ValidationError` names each bad row and its reason. The importer
    writes ``home/data/databases/<database>``; start a server on ``home`` afterwards, and the first
    ``open_store("bolt://...")`` creates the store's constraints and indexes. When the importer fails, what
    it wrote is removed.

    Parameters
    ----------
    path : path-like
        CSV (also .gz), Parquet or JSON-lines file, as for :func:`loaders.load_file`.
    home : path-like
        The Neo4j home (``NEO4J_HOME``), the folder a server is started on (``scripts/neo4j-server --data``).
        The server must be stopped, and the database must not exist.
    mapping : str, path-like, Mapping or dict, optional
        As for :func:`loaders.load_file`.
    database : str, default ``"neo4j"``
        The database to create (Neo4j Community serves one: the default, ``neo4j``).
    admin : str or sequence of str, default ``"neo4j-admin"``
        The ``neo4j-admin`` command (``scripts/neo4j-admin`` runs it from the Maven jars).
    files_dir : path-like, optional
        Where to write the importer's CSV files, and keep them; default a temporary folder in ``home``,
        removed afterwards.
    chunk_size : int, optional
        Rows read and validated at a time; default the ``chunk_size`` setting.

    Raises
    ------
    graphfraud.errors.ValidationError
        A bad row or record (``code="invalid_transaction"``), a repeated transaction id with other content, a
        missing column (``"missing_column"``) or an unreadable file; nothing is written to Neo4j then.
    graphfraud.errors.StorageError
        The database exists (``"database_exists"``) or the importer failed (``"import_failed"``).
    """
    started = time.perf_counter()
    mp = load_mapping(mapping) if mapping is not None else None
    size = int(chunk_size if chunk_size is not None else settings.get("chunk_size"))
    max_id = int(settings.get("max_id_length"))
    extra_types = file_extra_types(mp)
    # the import files and the database hold transaction data: owner-only, as every file the product writes
    # (the umask reaches the importer, a child process)
    with private_umask():
        home = Path(home)
        if files_dir is None:
            home.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=".graphfraud-import-", dir=home))
        else:
            work = Path(files_dir)
        try:
            reader = ChunkReader(path, size)
            writer = ImportWriter(work, source=Path(path).name)
            rows_read, errors = 0, []
            with gf_progress.phase(f"writing import files from {Path(path).name}", unit="rows") as bar:
                for k, chunk in enumerate(reader):
                    if k == 0 and mp is not None:
                        mp.check_columns(reader.columns)
                    rows_read += chunk.n_records
                    errors += [f"row {r if r is not None else '?'}: {why}" for r, why, _ in chunk.rejects]
                    if len(chunk.frame) or k == 0:
                        prepared = _prepare_chunk(chunk.frame, chunk.rows, mp, extra_types, max_id)
                        errors += [f"row {int(chunk.rows[p])}: {'; '.join(dict.fromkeys(prepared.reasons[p]))}"
                                   for p in sorted(prepared.reasons)]
                        if not errors:
                            writer.add(prepared.good)
                    if len(errors) >= MAX_ERRORS:
                        break
                    bar.update(rows_read, fraction=reader.fraction())
                if errors:
                    raise ValidationError(
                        f"{Path(path).name} has bad rows ({errors[0]}{'; and more' if len(errors) > 1 else ''}); the "
                        "offline import takes only a clean file and wrote nothing. Fix them, or load the file over "
                        "Bolt (graphfraud load), which sets bad rows aside in a rejects file.",
                        errors[:MAX_ERRORS], code="invalid_transaction")
                files: ImportFiles = writer.finish()
            seconds_files = time.perf_counter() - started
            with gf_progress.phase(f"running the Neo4j importer into {home}"):
                run: ImportRun = run_import(files, home, database=database, admin=admin)
        finally:
            if files_dir is None:
                shutil.rmtree(work, ignore_errors=True)
    return ImportSummary(rows_read=rows_read, transactions=files.transactions, duplicates=files.duplicates,
                         nodes=run.nodes, relationships=run.relationships, database_dir=run.database_dir,
                         files_dir=None if files_dir is None else work, seconds_files=seconds_files,
                         seconds_import=run.seconds)
