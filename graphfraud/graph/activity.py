"""Recent activity kept per user, identifier and card: sorted time arrays and what windows read from them.

Every window feature counts events in ``[t - span, t)`` with two bisections of a sorted array of times
(``array('q')`` of epoch milliseconds: eight bytes an event, no Python object per event).
Arrays are kept sorted as events arrive (appended in the usual case; inserted when live traffic comes out
of order) and trimmed of what no window can reach any more (:data:`KEEP_MS`), once they are long enough
for trimming to pay.

Examples
--------
>>> times = new_times()
>>> for t in (5, 9, 7):
...     push_time(times, t, now=9)
>>> times.tolist(), count_in(times, 6, 10)
([5, 7, 9], 2)
"""
from __future__ import annotations

import math
from array import array
from bisect import bisect_left, insort

DAY_MS = 86_400_000
#: Windows reach back 30 days; what is older is dropped from the lists (once they are long).
KEEP_MS = 31 * DAY_MS
#: A card's payments are kept longer: a common point of purchase is looked for in the 30 days before a
#: card's first fraud, and that fraud's label may arrive up to two months after it.
CARD_KEEP_MS = 100 * DAY_MS
_TRIM_AT = 64
#: Runs longer than this keep their window maxima in a :class:`SuffixMax` rather than taking a slice's maximum.
LONG_RUN = 64


def new_times(first: int | None = None) -> "array[int]":
    """An empty sorted time array (or one holding ``first``)."""
    return array("q") if first is None else array("q", (first,))


def push_time(times: "array[int]", ts: int, now: int, keep: int = KEEP_MS) -> None:
    """Add ``ts`` to the sorted list ``times``; drop times older than ``now - keep`` when the list is long."""
    if not times or ts >= times[-1]:
        times.append(ts)
    else:
        insort(times, ts)
    if len(times) > _TRIM_AT and times[0] < now - keep:
        del times[:bisect_left(times, now - keep)]


def holds(values: "array[int]", x: int) -> bool:
    """Whether the sorted array ``values`` holds ``x`` (a user's identifiers: ``GraphEngine.u_ents``)."""
    k = bisect_left(values, x)
    return k < len(values) and values[k] == x


def count_in(times: "array[int] | None", lo: int, hi: int) -> int:
    """Events in ``[lo, hi)``."""
    if not times:
        return 0
    return bisect_left(times, hi) - bisect_left(times, lo)


class Reveals:
    """When labels of an identifier's transactions became known, and how many of them were fraud.

    ``times`` is sorted; :meth:`before` gives the labels and frauds known *before* event ``i``
    (``n_labels`` and ``n_frauds`` after the last one), so a window's counts cost one bisection
    (:meth:`since`). A transaction's first label adds a label (and a fraud when it says fraud); a later
    change of its verdict adds or takes away only the fraud; a fraud taken back is taken out of every window
    from the moment it had been counted, as if it had never been known.

    Most identifiers never see a fraud and every one of their events is a first label, so the two count
    columns are kept only once they say something: until then the labels before event ``i`` are
    ``base + i`` and the frauds 0 (one time array an identifier instead of three).

    >>> r = Reveals()
    >>> r.add(10, 1, 0); r.add(20, 1, 1); r.add(30, 1, 1)
    >>> r.since(15), r.since(0)
    ((2, 2), (3, 2))
    >>> r.retract_fraud(20); r.since(15)
    (2, 1)
    """

    __slots__ = ("times", "labels", "frauds", "n_labels", "n_frauds", "base")

    def __init__(self) -> None:
        self.times = array("q")
        self.labels: array[int] | None = None  # None: labels before event i are base + i
        self.frauds: array[int] | None = None  # None: no fraud before any event
        self.n_labels = 0
        self.n_frauds = 0
        self.base = 0

    def add(self, when: int, d_label: int, d_fraud: int) -> None:
        """An event at ``when`` (not before the last one, as reveals come in time order)."""
        times = self.times
        if times and when < times[-1]:  # not expected (reveals follow the clock); keep the lists sorted
            when = times[-1]
        n = len(times)
        if self.labels is None:
            if self.n_labels != self.base + n:
                self.labels = array("i", range(self.base, self.base + n))
        if self.labels is not None:
            self.labels.append(self.n_labels)
        if self.frauds is None:
            if self.n_frauds:
                self.frauds = array("i", bytes(4 * n))
        if self.frauds is not None:
            self.frauds.append(self.n_frauds)
        times.append(when)
        self.n_labels += d_label
        self.n_frauds += d_fraud
        if len(times) > _TRIM_AT and times[0] < when - KEEP_MS:
            cut = bisect_left(times, when - KEEP_MS)
            del times[:cut]
            if self.labels is None:
                self.base += cut
            else:
                del self.labels[:cut]
            if self.frauds is not None:
                del self.frauds[:cut]

    def retract_fraud(self, when: int) -> None:
        """A fraud counted at ``when`` was taken back: remove it from every count since then."""
        if self.frauds is None:
            self.frauds = array("i", bytes(4 * len(self.times)))
        frauds = self.frauds
        for k in range(bisect_left(self.times, when) + 1, len(frauds)):
            frauds[k] -= 1
        self.n_frauds -= 1

    def before(self, i: int) -> tuple[int, int]:
        """(labels, frauds) known before event ``i``."""
        labels, frauds = self.labels, self.frauds
        return (self.base + i if labels is None else labels[i]), (0 if frauds is None else frauds[i])

    def since(self, lo: int) -> tuple[int, int]:
        """(labels, frauds) known at or after ``lo``."""
        i = bisect_left(self.times, lo)
        if i == len(self.times):
            return 0, 0
        nl, nf = self.before(i)
        return self.n_labels - nl, self.n_frauds - nf


class SuffixMax:
    """The largest amount at or after any time, over a sorted run of (time, amount) events, in O(log n).

    Keeps the events that are larger than every event after them (a monotonic stack: on random amounts about
    log n of them), so the largest amount since ``lo`` is the first one kept at or after ``lo``. Built for
    long runs (a payroll or marketplace account's thousands of transfers a month), where taking the maximum of
    a window's slice would cost a pass over it on every feature row.

    >>> m = SuffixMax()
    >>> for t, a in ((1, 5.0), (2, 9.0), (3, 4.0), (4, 6.0)):
    ...     m.push(t, a)
    >>> m.since(0), m.since(3), m.since(4), m.since(5)
    (9.0, 6.0, 6.0, nan)
    """

    __slots__ = ("times", "values")

    def __init__(self) -> None:
        self.times = array("q")
        self.values = array("d")

    @classmethod
    def of(cls, times: "array[int]", values: "array[float]") -> "SuffixMax":
        """Built from a whole run (``times`` sorted)."""
        m = cls()
        for t, v in zip(times, values):
            m.push(t, v)
        return m

    @classmethod
    def follow(cls, m: "SuffixMax | None", times: "array[int]", values: "array[float]", ts: int, value: float,
               in_order: bool, cut_before: int | None) -> "SuffixMax | None":
        """The stack of a run after ``value`` at ``ts`` joined it (``in_order``: appended at its end) and the
        run was perhaps trimmed of what came before ``cut_before``: None while the run holds LONG_RUN events or
        fewer, built afresh when it first holds more or took an event out of order, else ``m`` kept in step."""
        if len(values) <= LONG_RUN:
            return None
        if m is None or not in_order:
            return cls.of(times, values)
        m.push(ts, value)
        if cut_before is not None:
            m.drop_before(cut_before)
        return m

    def push(self, ts: int, value: float) -> None:
        """One more event, at or after every event pushed so far."""
        times, values = self.times, self.values
        # an equal amount replaces the one before it, unless they are zeros of different signs: max() of a
        # slice answers the first of equal amounts, and only a zero's sign can tell equal floats apart
        while values and (values[-1] < value or values[-1] == value
                          and (value != 0.0 or math.copysign(1.0, values[-1]) == math.copysign(1.0, value))):
            values.pop()
            times.pop()
        times.append(ts)
        values.append(value)

    def since(self, lo: int) -> float:
        """The largest amount of the events at or after ``lo`` (NaN when there are none)."""
        i = bisect_left(self.times, lo)
        return self.values[i] if i < len(self.values) else float("nan")

    def drop_before(self, lo: int) -> None:
        """Forget the events before ``lo`` (the run they summarise was trimmed there)."""
        cut = bisect_left(self.times, lo)
        if cut:
            del self.times[:cut], self.values[:cut]


class CardTrack:
    """A card's payments: times (sorted), cumulative amounts, amounts and merchants, plus its long-run
    amount statistics (count, sum, sum of squares, maximum) over all its history."""

    __slots__ = ("times", "cum", "amounts", "merchants", "n", "total", "total_sq", "largest", "runmax")

    def __init__(self) -> None:
        self.times = array("q")
        self.cum = array("d")
        self.amounts = array("d")
        self.merchants = array("i")
        self.n = 0
        self.total = 0.0
        self.total_sq = 0.0
        self.largest = 0.0
        self.runmax: SuffixMax | None = None  # the window maxima while more than LONG_RUN payments are kept

    def add(self, ts: int, amount: float, merchant: int, now: int) -> None:
        """Record one payment (``merchant`` is the merchant's identifier index, -1 when unknown)."""
        self.n += 1
        self.total += amount
        self.total_sq += amount * amount
        if amount > self.largest:
            self.largest = amount
        times = self.times
        in_order = not times or ts >= times[-1]
        if in_order:
            times.append(ts)
            self.cum.append((self.cum[-1] if self.cum else 0.0) + amount)
            self.amounts.append(amount)
            self.merchants.append(merchant)
        else:  # out of order (live traffic): insert and shift the sums after it
            i = bisect_left(times, ts)
            times.insert(i, ts)
            self.cum.insert(i, (self.cum[i - 1] if i else 0.0) + amount)
            for k in range(i + 1, len(self.cum)):
                self.cum[k] += amount
            self.amounts.insert(i, amount)
            self.merchants.insert(i, merchant)
        cut = 0
        if len(times) > _TRIM_AT and times[0] < now - CARD_KEEP_MS:
            cut = bisect_left(times, now - CARD_KEEP_MS)
            del times[:cut], self.cum[:cut], self.amounts[:cut], self.merchants[:cut]
        if len(times) > LONG_RUN or cut:  # a long run (a shared or default card id): window maxima kept in step
            self.runmax = SuffixMax.follow(self.runmax, times, self.amounts, ts, amount, in_order,
                                           now - CARD_KEEP_MS if cut else None)

    def max_since(self, lo: int, start: int) -> float:
        """The largest payment at or after ``lo`` (``start``: the first kept payment at or after it; NaN for
        none)."""
        if start == len(self.times):
            return float("nan")
        if len(self.times) - start > LONG_RUN:
            assert self.runmax is not None
            return self.runmax.since(lo)
        return max(self.amounts[start:])

    def merchants_between(self, lo: int, hi: int) -> set[int]:
        """Merchants the card paid at in ``[lo, hi)``."""
        times = self.times
        return set(self.merchants[bisect_left(times, lo):bisect_left(times, hi)]) - {-1}
