"""Bulk loaders: CSV, gzip CSV, Parquet and JSON lines into a graphfraud store, in chunks.

>>> from loaders import load_file, load_labels   # doctest: +SKIP
>>> load_file("transactions.csv", store)          # doctest: +SKIP

Files are read as text in chunks (``chunk_size`` rows, one atomic write each), optionally mapped from a
source layout with a TOML mapping (:mod:`loaders.mapping`, ``docs/mappings.md``), validated once by
:func:`graphfraud.schema.validate_frame`, and written with ``store.write_transactions``. Bad rows and
conflicts go to a rejects CSV; nothing is dropped silently.
"""
from __future__ import annotations

from .bulk import LoadSummary, default_rejects_path, load_file, read_transactions
from .labels import LabelSummary, load_labels
from .mapping import Mapping, load_mapping, parse_mapping, shipped_mappings

__all__ = ["load_file", "read_transactions", "load_labels", "LoadSummary", "LabelSummary", "Mapping", "load_mapping", "parse_mapping",
           "shipped_mappings", "default_rejects_path"]
