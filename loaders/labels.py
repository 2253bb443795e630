"""Bulk loading of labels: chargebacks and verdicts from a CSV, validated by :func:`graphfraud.schema.validate_label`."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphfraud import settings
from graphfraud.errors import ValidationError
from graphfraud.labels import dated_before_their_transactions
from graphfraud.schema import LABEL_SOURCES, validate_label
from graphfraud.storage.roles import EventStore

from .readers import ChunkReader
from .rejects import RejectWriter
from .bulk import default_rejects_path

_LABEL_COLUMNS = ("transaction_id", "is_fraud", "fraud_type", "user_id", "user_label", "labelled_at")


@dataclass
class LabelSummary:
    """What a label load did: ``added + unchanged + rejected == rows_read``."""

    rows_read: int = 0
    added: int = 0
    rejected: int = 0
    unchanged: int = 0  # the same as the label its source gave that subject last: stored already
    seconds: float = 0.0
    rejects_path: Path | None = None
    first_reject: str | None = None  # "row N: why", for a message when every row was rejected

    def __str__(self) -> str:
        s = (f"{self.rows_read:,} label rows read: {self.added:,} added, "
             + (f"{self.unchanged:,} stored already, " if self.unchanged else "")
             + f"{self.rejected:,} rejected in {self.seconds:.1f} s")
        return s + (f"; rejects in {self.rejects_path}." if self.rejects_path is not None else ".")


def load_labels(path: str | os.PathLike[str], store: EventStore, *, source: str = "chargeback",
                rejects_path: str | os.PathLike[str] | None = None, chunk_size: int | None = None) -> LabelSummary:
    """Load a label file into ``store``: one atomic ``store.add_labels`` per chunk.

    The file (CSV, gzip CSV, Parquet or JSON lines) has ``transaction_id,is_fraud[,fraud_type][,labelled_at]``
    for transaction labels (``fraud_type``: ``third_party``, ``first_party``, ``friendly`` or ``scam``, with a
    fraud label) or ``user_id,user_label[,labelled_at]`` for user labels (``user_label`` is ``fraudster``,
    ``mule``, ``victim`` or ``legitimate``); a file may mix both kinds, one per row. Rows that
    break a rule go to the rejects file (``row,reason`` and the original fields; rows are 1-based data
    rows, the header is not a row).

    Parameters
    ----------
    path : path-like
        The label file.
    store : GraphStore
        An open store.
    source : str
        Where the labels come from: ``file``, ``chargeback`` or ``investigator`` (a later source in that
        list wins a disagreement).
    rejects_path : path-like, optional
        Default ``<input name>.rejects.csv`` in the current directory; written only when there are rejects.
    chunk_size : int, optional
        Rows per chunk; default the ``chunk_size`` setting.

    Raises
    ------
    graphfraud.errors.ValidationError
        ``code="missing_column"`` when neither ``transaction_id`` + ``is_fraud`` nor ``user_id`` +
        ``user_label`` are columns of the file; ``code="invalid_label"`` for an unknown ``source``.
    """
    started = time.perf_counter()
    if source not in LABEL_SOURCES:
        raise ValidationError(f"Label source {source!r} is not one of {', '.join(LABEL_SOURCES)}.",
                              code="invalid_label")
    size = int(chunk_size if chunk_size is not None else settings.get("chunk_size"))
    max_id = int(settings.get("max_id_length"))
    reader = ChunkReader(path, size)
    out = RejectWriter(rejects_path if rejects_path is not None else default_rejects_path(path))
    summary = LabelSummary()
    # each source's last word on each subject: a label that repeats it (the same file loaded again) is not a
    # second event; a verdict that changes and changes back is (label events are few next to transactions)
    last = {(lb.subject, lb.subject_id, lb.source): lb for _, lb in store.labels()}
    first = True
    try:
        for chunk in reader:
            cols = set(chunk.frame.columns)
            if first and not ({"transaction_id", "is_fraud"} <= cols or {"user_id", "user_label"} <= cols):
                if reader.format == "jsonl" and not cols and not chunk.rejects:
                    break
                raise ValidationError(
                    f"The label file {Path(path).name} needs columns transaction_id and is_fraud, or user_id "
                    f"and user_label; it has {', '.join(map(str, chunk.frame.columns)) or 'no columns'}.",
                    ["columns: transaction_id,is_fraud or user_id,user_label"], code="missing_column")
            first = False
            summary.rows_read += chunk.n_records
            if chunk.rejects:
                rows, reasons, texts = zip(*chunk.rejects)
                out.write_raw(rows, reasons, texts, reader.columns)
                summary.rejected += len(chunk.rejects)
                summary.first_reject = summary.first_reject or f"row {int(rows[0])}: {reasons[0]}"
            present = [c for c in _LABEL_COLUMNS if c in cols]
            sub = chunk.frame[present].astype(object)
            sub = sub.where(sub.notna(), None)
            labels, bad_pos, bad_why = [], [], []
            at: list[int] = []  # each label's row in the chunk
            # labels are few next to transactions; each row is judged by the one label rule in schema
            for i, rec in enumerate(sub.to_dict("records")):
                try:
                    labels.append(validate_label(rec, source=source, max_id_length=max_id))
                    at.append(i)
                except ValidationError as e:
                    bad_pos.append(i)
                    bad_why.append("; ".join(e.errors) or e.message)
            early = dated_before_their_transactions(store, labels)
            if early:
                bad_pos += [at[k] for k in early]
                bad_why += list(early.values())
                order = sorted(range(len(bad_pos)), key=bad_pos.__getitem__)
                bad_pos, bad_why = [bad_pos[k] for k in order], [bad_why[k] for k in order]
                labels = [lb for k, lb in enumerate(labels) if k not in early]
            if bad_pos:
                out.write(chunk.frame, bad_pos, [int(chunk.rows[p]) for p in bad_pos], bad_why)
                summary.rejected += len(bad_pos)
                summary.first_reject = summary.first_reject or f"row {int(chunk.rows[bad_pos[0]])}: {bad_why[0]}"
            fresh = []
            for lb in labels:
                if last.get((lb.subject, lb.subject_id, lb.source)) != lb:
                    fresh.append(lb)
                    last[(lb.subject, lb.subject_id, lb.source)] = lb
            summary.unchanged += len(labels) - len(fresh)
            if fresh:
                summary.added += int(store.add_labels(fresh))
    finally:
        out.close()
    summary.rejects_path = out.path if out.written else None
    summary.seconds = time.perf_counter() - started
    return summary
