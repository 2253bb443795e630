"""What the engine keeps of every transaction, for labels that arrive after it: typed columns, no objects.

A label names a transaction by id, maybe weeks after it was applied; the engine then needs the
transaction's user, time, identifiers and counterparty, and the label it had before (precedence). These
are kept as columns (``array``) indexed by the order transactions were applied, with an :class:`IdTable`
from id to index: about 60 bytes of columns and 20 of id table a transaction, where a tuple per transaction
and another per label took about 410 bytes (and a dictionary of ids about 140 more).

>>> log = TxLog()
>>> i = log.add("t1", user=0, ts=10, touched=[3, 4], counterparty=-1)
>>> log.record(i), log.label(i)
((0, 10, (3, 4), -1), None)
>>> log.set_label(i, rank=1, value="1", order=7, fraud_type="card_theft", known=12)
>>> log.label(log.find("t1"))
(1, '1', 7, 'card_theft', 12)
"""
from __future__ import annotations

import hashlib
from array import array

import numpy as np


class IdTable:
    """Transaction ids to the index of the transaction applied last with that id, with no object per id.

    An id is kept as a 96-bit BLAKE2b digest (64 bits to sort on, 32 more to confirm a match) in sorted numpy
    columns: about 20 bytes an id instead of a dictionary entry, a string and an int (about 130). The newest
    ids wait in a small dictionary, folded into the columns once it holds :attr:`MERGE_EVERY` (one vectorised
    sort; no per-id search of the columns while applying). Two different ids share a digest with probability
    about n^2 / 2^97: about 1e-15 at 10 million ids.

    An id applied again while its earlier entry is in the columns is only noticed when it is looked up or
    folded in: :meth:`put` answers from the recent ids alone, and :meth:`get` and :meth:`merge` hand back the
    ``(earlier index, newer index)`` pairs they found, so the caller can carry what it kept for the earlier one.

    >>> t = IdTable()
    >>> t.put("t1", 0), t.put("t2", 1), t.put("t1", 2)
    (None, None, 0)
    >>> t.get("t1"), t.get("t2"), t.get("t3")
    ((2, None), (1, None), (None, None))
    """

    __slots__ = ("key", "check", "pos", "recent", "unsure")
    MERGE_EVERY = 1 << 18

    def __init__(self) -> None:
        self.key = np.zeros(0, dtype=np.uint64)  # sorted
        self.check = np.zeros(0, dtype=np.uint32)
        self.pos = np.zeros(0, dtype=np.int64)
        self.recent: dict[bytes, int] = {}
        self.unsure: set[bytes] = set()  # recent ids not yet looked for in the columns

    @staticmethod
    def digest(tx_id: str) -> bytes:
        return hashlib.blake2b(tx_id.encode("utf-8", "surrogatepass"), digest_size=12).digest()

    def put(self, tx_id: str, i: int) -> int | None:
        """Map ``tx_id`` to ``i``; returns the index it had among the recent ids (None: not among them)."""
        d = self.digest(tx_id)
        recent = self.recent
        old = recent.get(d)
        recent[d] = i
        if old is None and len(self.key):
            self.unsure.add(d)
        return old

    def get(self, tx_id: str) -> tuple[int | None, int | None]:
        """``(index, earlier)``: the index of the last transaction with this id (None: unknown), and the index
        of the one before it when this lookup is the first to find it was applied again (else None)."""
        d = self.digest(tx_id)
        i = self.recent.get(d)
        if i is None:
            return self._search(d), None
        if d in self.unsure:
            self.unsure.discard(d)
            return i, self._search(d)
        return i, None

    def _search(self, d: bytes) -> int | None:
        key, check = self.key, self.check
        if not len(key):
            return None
        k, c = int.from_bytes(d[:8], "little"), int.from_bytes(d[8:], "little")
        j = int(key.searchsorted(np.uint64(k)))
        while j < len(key) and int(key[j]) == k:
            if int(check[j]) == c:
                return int(self.pos[j])
            j += 1
        return None

    def due(self) -> bool:
        return len(self.recent) >= self.MERGE_EVERY

    def merge(self) -> list[tuple[int, int]]:
        """Fold the recent ids into the columns; returns ``(earlier index, newer index)`` for the ids applied
        again that no lookup had noticed."""
        if not self.recent:
            return []
        raw = np.frombuffer(b"".join(self.recent), dtype=np.uint8).reshape(-1, 12)
        new_key = raw[:, :8].copy().view("<u8").ravel().astype(np.uint64)
        new_check = raw[:, 8:].copy().view("<u4").ravel().astype(np.uint32)
        new_pos = np.fromiter(self.recent.values(), dtype=np.int64, count=len(self.recent))
        unsure = np.fromiter((d in self.unsure for d in self.recent), dtype=bool, count=len(self.recent)) \
            if self.unsure else np.zeros(len(self.recent), dtype=bool)
        n_old = len(self.key)
        key = np.concatenate([self.key, new_key])
        check = np.concatenate([self.check, new_check])
        pos = np.concatenate([self.pos, new_pos])
        newer = np.concatenate([np.zeros(n_old, np.int8), np.ones(len(new_key), np.int8)])
        order = np.lexsort((newer, check, key))
        key, check, pos, newer = key[order], check[order], pos[order], newer[order]
        same_as_next = np.zeros(len(key), dtype=bool)
        same_as_next[:-1] = (key[1:] == key[:-1]) & (check[1:] == check[:-1])
        # an earlier entry followed by a recent one with the same digest: applied again
        was_unsure = np.zeros(len(key), dtype=bool)
        was_unsure[newer == 1] = unsure[order[newer == 1] - n_old]
        again = np.flatnonzero(same_as_next & (newer == 0))
        pairs = [(int(pos[j]), int(pos[j + 1])) for j in again if was_unsure[j + 1]]
        keep = ~same_as_next
        self.key, self.check, self.pos = key[keep], check[keep], pos[keep]
        self.recent, self.unsure = {}, set()
        return pairs


class TxLog:
    """Applied transactions' user, time, identifiers, counterparty and current label, by id."""

    __slots__ = ("index", "user", "ts", "counterparty", "ent_end", "ents", "rank", "value", "order", "ftype",
                 "known", "words", "word_ix")

    def __init__(self) -> None:
        self.index = IdTable()
        self.user = array("i")
        self.ts = array("q")
        self.counterparty = array("i")  # user index of a transfer's receiver, -1 for a payment
        self.ent_end = array("q")  # where each transaction's identifiers end in ``ents``
        self.ents = array("i")  # identifier indexes, transaction after transaction
        self.rank = array("b")  # label source rank, -1 before any label
        self.value = array("H")  # label value, as an index into ``words``
        self.order = array("q")  # the engine's label order when this label was set
        self.ftype = array("H")  # fraud type, as an index into ``words`` (0: none)
        self.known = array("q")  # when its fraud became known, -1 when not fraud
        self.words: list[str | None] = [None]
        self.word_ix: dict[str | None, int] = {None: 0}

    def __contains__(self, tx_id: object) -> bool:
        return isinstance(tx_id, str) and self.find(tx_id) is not None

    def find(self, tx_id: str) -> int | None:
        """The index of the transaction applied last with this id, or None."""
        i, earlier = self.index.get(tx_id)
        if earlier is not None:
            self._carry_label(earlier, i)  # type: ignore[arg-type]
        return i

    def _carry_label(self, old: int, i: int) -> None:
        """An id applied again keeps its label: ``i`` takes ``old``'s."""
        self.rank[i] = self.rank[old]
        self.value[i] = self.value[old]
        self.order[i] = self.order[old]
        self.ftype[i] = self.ftype[old]
        self.known[i] = self.known[old]

    def add(self, tx_id: str, user: int, ts: int, touched: list[int], counterparty: int) -> int:
        """Record an applied transaction; an id seen before keeps its label."""
        i = len(self.ts)
        index = self.index
        if index.due():
            for earlier, later in index.merge():
                self._carry_label(earlier, later)
        old = index.put(tx_id, i)
        self.user.append(user)
        self.ts.append(ts)
        self.counterparty.append(counterparty)
        self.ents.extend(touched)
        self.ent_end.append(len(self.ents))
        if old is None:
            self.rank.append(-1)
            self.value.append(0)
            self.order.append(0)
            self.ftype.append(0)
            self.known.append(-1)
        else:
            self.rank.append(self.rank[old])
            self.value.append(self.value[old])
            self.order.append(self.order[old])
            self.ftype.append(self.ftype[old])
            self.known.append(self.known[old])
        return i

    def record(self, i: int) -> tuple[int, int, tuple[int, ...], int]:
        """(user index, time, identifier indexes, counterparty user index or -1) of transaction ``i``."""
        start = self.ent_end[i - 1] if i else 0
        return self.user[i], self.ts[i], tuple(self.ents[start:self.ent_end[i]]), self.counterparty[i]

    def label(self, i: int) -> tuple[int, str | None, int, str | None, int] | None:
        """(source rank, value, order, fraud type, when its fraud became known or -1), or None unlabelled."""
        if self.rank[i] < 0:
            return None
        words = self.words
        return self.rank[i], words[self.value[i]], self.order[i], words[self.ftype[i]], self.known[i]

    def set_label(self, i: int, rank: int, value: str, order: int, fraud_type: str | None, known: int) -> None:
        self.rank[i] = rank
        self.value[i] = self._word(value)
        self.order[i] = order
        self.ftype[i] = self._word(fraud_type)
        self.known[i] = known

    def _word(self, word: str | None) -> int:
        k = self.word_ix.get(word)
        if k is None:
            k = self.word_ix[word] = len(self.words)
            self.words.append(word)
        return k
