"""Link totals kept on disk while a big load runs, cut into ranges of the link table's key.

A load gathers each chunk's links (:func:`graphfraud.storage.base.link_rows`). Folding those totals into
the store every few million rows rewrote pages all over a link table that grows with the load: at 10 million
rows the folds and their merges were half of a load's time. Instead, each time the gathered totals grow past
a bound, :class:`LinkRuns` writes them (merged, not sorted) to temporary files, one per range of the key
``(type, entity_id, user_id)``; the ranges are fixed by quantiles of a sample of the first run's keys. At
the end :meth:`LinkRuns.parts` hands out each range merged, in key order, so the store adds every link
once, in the order of its index, in one transaction (see ``EmbeddedStore.fold_link_totals``). Each link
falls in one range whatever its run, so the ranges' totals are exact however the bounds fall.

>>> import pyarrow as pa
>>> from graphfraud.storage.base import LINK_TOTAL_COLUMNS
>>> def totals(rows):
...     cols = list(zip(*rows))
...     return pa.table({c: pa.array(v) for c, v in zip(LINK_TOTAL_COLUMNS, cols)})
>>> runs = LinkRuns(parts=2)
>>> runs.write(totals([("card", "a", "u1", 1, 2, 2), ("card", "b", "u2", 3, 3, 1), ("ip", "x", "u1", 1, 1, 1)]))
>>> runs.write(totals([("ip", "y", "u3", 4, 4, 1), ("card", "a", "u1", 5, 5, 1)]))
>>> [p.to_pylist()[0]["entity_id"] for p in runs.parts()]
['a', 'b']
>>> sum((p.to_pylist() for p in runs.parts()), [])[0]
{'type': 'card', 'entity_id': 'a', 'user_id': 'u1', 'first_seen': 1, 'last_seen': 5, 'n': 3}
>>> runs.close()
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

from graphfraud.scratch import make_dir
from graphfraud.storage.base import link_keys, merge_link_totals

#: keys drawn from the first run to place the ranges' bounds
SAMPLE = 65_536


class LinkRuns:
    """Runs of link totals in temporary files, ``parts`` ranges of the key each."""

    def __init__(self, parts: int = 32):
        self.n_parts = parts
        self.bounds: list[str] | None = None  # the joined key (link_keys) each range after the first starts at
        self.runs = 0
        self.dir: str | None = None

    def write(self, t: Any) -> None:
        """Add a table of link totals (:data:`graphfraud.storage.base.LINK_TOTAL_COLUMNS`), one row a link
        (:func:`graphfraud.storage.base.merge_link_totals`, sorted or not), as one more run."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.dir is None:
            self.dir = make_dir("links")
        keys = link_keys(t)
        if self.bounds is None:
            step = max(1, len(t) // SAMPLE)
            sample = sorted(keys.take(pa.array(np.arange(0, len(t), step))).to_pylist())
            self.bounds = sorted({sample[len(sample) * k // self.n_parts] for k in range(1, self.n_parts)})
        part = np.zeros(len(t), dtype=np.int32)
        for b in self.bounds:  # the range of each row: how many bounds its key is at or past
            part += pc.greater_equal(keys, b).to_numpy(zero_copy_only=False)
        order = np.argsort(part, kind="stable")
        cuts = np.searchsorted(part[order], np.arange(len(self.bounds) + 2))
        t = t.take(pa.array(order))
        for p in range(len(self.bounds) + 1):
            if cuts[p + 1] > cuts[p]:
                path = os.path.join(self.dir, f"{p:04d}-{self.runs:06d}.arrow")
                with pa.OSFile(path, "wb") as f, pa.ipc.new_file(
                        f, t.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")) as w:
                    w.write_table(t.slice(int(cuts[p]), int(cuts[p + 1] - cuts[p])))
        self.runs += 1

    def parts(self) -> Iterator[Any]:
        """Each range's totals, added up over the runs and sorted, in key order."""
        import pyarrow as pa

        if self.dir is None:
            return
        names = sorted(os.listdir(self.dir))
        for p in range(len(self.bounds or []) + 1):
            mine = [n for n in names if n.startswith(f"{p:04d}-")]
            if mine:
                tables = []
                for n in mine:
                    with pa.OSFile(os.path.join(self.dir, n), "rb") as f:
                        tables.append(pa.ipc.open_file(f).read_all())
                yield merge_link_totals(tables)

    def close(self) -> None:
        """Remove the files."""
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir, self.bounds, self.runs = None, None, 0
