"""Label semantics: who a fraud label says the fraud was done by and to. The one definition.

A fraud label on a transaction does not by itself make its user a fraudster. In card payments a label
usually marks a *victim* (a card whose details were stolen); in ring data it marks the fraudster's own
payment. The label's ``fraud_type`` (:data:`graphfraud.schema.FRAUD_TYPES`) says which; with no type, the
label means "fraud happened at these identifiers" and the user is a fraudster only by
:func:`known_fraud_user`'s rule. Training, backtests, serving, ring detection and the investigator pages all
read these functions, so "known fraud" means one thing everywhere.

Examples
--------
>>> known_fraud_user(None, n_tx=3, n_fraud=3, n_first_party=0)      # a new account whose payments are all fraud
True
>>> known_fraud_user(None, n_tx=120, n_fraud=4, n_first_party=0)    # a cardholder whose card was abused
False
>>> known_fraud_user("legitimate", n_tx=3, n_fraud=3, n_first_party=3)
False
>>> identifier_types_blamed("scam"), identifier_types_blamed("friendly")
(frozenset({'merchant'}), frozenset())
>>> receiver_at_fault(None), receiver_at_fault("first_party")     # a fraudulent transfer: the receiver did it
(True, False)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: User labels that make a user known fraud.
FRAUD_USER_LABELS = ("fraudster", "mule")
#: User labels that clear a user whatever their transactions' labels say.
CLEARED_USER_LABELS = ("legitimate",)
#: Fraud types whose fraud the user did (first-party fraud, friendly fraud).
USER_AT_FAULT = ("first_party", "friendly")
#: Fraud types done to the user (stolen details, account takeover, a scam's payer).
USER_IS_VICTIM = ("third_party", "scam")
#: With untyped fraud labels, a user is a fraudster when at least this share of their transactions so far
#: are confirmed fraud: a new account used only for fraud is, a cardholder with a history whose card was
#: abused for a while is not. See docs/features.md, "Label semantics".
UNTYPED_FRAUD_SHARE = 0.5


def known_fraud_user(user_label: str | None, *, n_tx: int, n_fraud: int, n_first_party: int,
                     n_victim: int = 0, n_received: int = 0) -> bool:
    """Whether a user counts as known fraud (a fraudster or a mule), from what is known now.

    Parameters
    ----------
    user_label : str or None
        The user's winning user label (``fraudster``, ``mule``, ``victim``, ``legitimate``), if any: it
        decides when given.
    n_tx : int
        The user's transactions so far.
    n_fraud : int
        Their transactions with a known fraud label, any type.
    n_first_party : int
        Of those, the ones typed ``first_party`` or ``friendly``: any one makes the user a fraudster.
    n_victim : int
        Of those, the ones typed ``third_party`` or ``scam`` (done to the user): they never count against
        the user.
    n_received : int
        Fraudulent transfers the user received (:func:`receiver_at_fault`): any one makes the user known
        fraud (a mule or the fraudster cashing out).

    Returns
    -------
    bool
    """
    if user_label is not None:
        return user_label in FRAUD_USER_LABELS
    if n_first_party > 0 or n_received > 0:
        return True
    untyped = n_fraud - n_first_party - n_victim
    return untyped > 0 and untyped >= UNTYPED_FRAUD_SHARE * max(n_tx, 1)


def victim_user(user_label: str | None, *, known_fraud: bool, n_fraud: int) -> bool:
    """Whether a user is a known victim: labelled so, or with confirmed fraud that does not make them a
    fraudster (their card or account was abused)."""
    if user_label is not None:
        return user_label == "victim"
    return not known_fraud and n_fraud > 0


_ALL = frozenset({"*"})
_BLAME: dict[str | None, frozenset[str]] = {
    None: _ALL, "third_party": _ALL, "first_party": _ALL,
    "friendly": frozenset(),  # the cardholder disputed a payment they made: no identifier was compromised
    "scam": frozenset({"merchant"}),  # the payer was tricked: the receiving side is where the fraud is
}


def identifier_types_blamed(fraud_type: str | None) -> frozenset[str]:
    """Identifier types a confirmed fraud of this type counts against (``{"*"}``: all of them)."""
    return _BLAME.get(fraud_type, _ALL)


def blames(fraud_type: str | None, entity_type: str) -> bool:
    """Whether a confirmed fraud of ``fraud_type`` counts as fraud at an identifier of ``entity_type``."""
    b = _BLAME.get(fraud_type, _ALL)
    return b is _ALL or entity_type in b


def compromises_card(fraud_type: str | None) -> bool:
    """Whether a confirmed fraud of this type means the card's details were compromised (common point of
    purchase analysis follows such cards back to where they were used before)."""
    return fraud_type in (None, "third_party")


def receiver_at_fault(fraud_type: str | None) -> bool:
    """Whether a fraudulent *transfer*'s fraud belongs to its receiver (the counterparty): yes unless its
    label says the payer did it (``first_party``, ``friendly``). The payer of such a transfer is a victim."""
    return fraud_type not in USER_AT_FAULT


def winning(labels: Sequence[tuple[int, int, str]]) -> str | None:
    """The value of the label that wins: the highest ``(source rank, order)``; ``None`` when none."""
    return max(labels)[2] if labels else None


def dated_before_their_transactions(store: Any, labels: Sequence[Any],
                                    times: dict[str, int] | None = None) -> dict[int, str]:
    """Which of ``labels`` cannot be stored as dated, by place in the list, with why: a transaction label whose
    ``labelled_at`` is before the stored transaction's own time (known before it happened; the engine would
    reveal it before there is a transaction to mark). The rule ``load`` and ``POST /score`` apply to a label
    that comes with its transaction. Labels without a date of their own, user labels and transactions not in
    the store pass. One store read for the whole list (none when the caller has the ``times`` already)."""
    dated = [k for k, lb in enumerate(labels) if lb.subject == "transaction" and lb.known_at is not None]
    if not dated:
        return {}
    if times is None:
        times = store.transaction_times([labels[k].subject_id for k in dated])
    from .schema import format_ts

    out = {}
    for k in dated:
        ts = times.get(labels[k].subject_id)
        if ts is not None and labels[k].known_at < ts:
            out[k] = (f"labelled_at {format_ts(labels[k].known_at)} is before the transaction's timestamp "
                      f"{format_ts(ts)}")
    return out
