"""What the engine keeps of every transaction, for labels that arrive after it: typed columns, no objects.

A label names a transaction by id, maybe weeks after it was applied; the engine then needs the
transaction's user, time, identifiers and counterparty, and the label it had before (precedence). These
are kept as columns (``array``) indexed by the order transactions were applied, with one dictionary from
id to index: about 60 bytes of columns a transaction, plus the id's dictionary entry, where a tuple per
transaction and another per label took about 410 bytes.

>>> log = TxLog()
>>> i = log.add("t1", user=0, ts=10, touched=[3, 4], counterparty=-1)
>>> log.record(i), log.label(i)
((0, 10, (3, 4), -1), None)
>>> log.set_label(i, rank=1, value="1", order=7, fraud_type="card_theft", known=12)
>>> log.label(log.find("t1"))
(1, '1', 7, 'card_theft', 12)
"""
from __future__ import annotations

from array import array


class TxLog:
    """Applied transactions' user, time, identifiers, counterparty and current label, by id."""

    __slots__ = ("index", "user", "ts", "counterparty", "ent_end", "ents", "rank", "value", "order", "ftype",
                 "known", "words", "word_ix")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
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
        return tx_id in self.index

    def __len__(self) -> int:
        return len(self.index)

    def find(self, tx_id: str) -> int | None:
        """The index of the transaction applied last with this id, or None."""
        return self.index.get(tx_id)

    def add(self, tx_id: str, user: int, ts: int, touched: list[int], counterparty: int) -> int:
        """Record an applied transaction; an id seen before keeps its label."""
        i = len(self.ts)
        old = self.index.get(tx_id)
        self.index[tx_id] = i
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
