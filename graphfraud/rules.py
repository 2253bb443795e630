"""Declarative link rules: conditions over features, effects on the decision, reasons in plain words.

A rules file (TOML) has a ``version`` and ``[[rule]]`` tables::

    version = "2026-11-29.1"

    [[rule]]
    code = "device_shared"
    description = "Device shared by many users"
    when = "device_users >= 5"
    effect = "add"              # add | review | block | allow
    weight = 0.25               # for "add": the score without a model (noisy-or of the weights that fire)
    message = "device {device_id} is shared by {device_users+1} users, {device_fraud_users} of them confirmed fraud"

``when`` is an expression over feature names with numbers, comparisons, ``and``/``or``/``not``,
``+ - * /`` and parentheses; a missing (NaN) value makes a comparison false. It is parsed with Python's
``ast`` and only those node types are accepted, so a rules file cannot run code. Every name in ``when``
must be a feature of the engine the rules run on: a file naming anything else is refused (with the closest
feature name) by the scorer, the server and the backtest before they start (:meth:`RuleSet.check_names`).
``message`` may name features and the transaction's identifiers (``card_id``, ``device_id``, ``ip``, ``merchant_id``,
``user_id``, extra types) in braces, with the same arithmetic.

Effects combine as: a ``block`` rule blocks; else an ``allow`` rule (allow-list) allows; else a
``review`` rule sends to review at least. ``add`` weights make the score only while there is no model (a
noisy-or of the weights of the rules that fire); with a model, its calibrated probability is the score and
``add`` rules give reasons only (:func:`graphfraud.scoring.decide`).

Examples
--------
>>> rs = RuleSet.from_text('version = "t"\\n[[rule]]\\ncode = "big"\\nwhen = "amount > 100"\\neffect = "review"\\n'
...                        'message = "amount {amount} is large"')
>>> [h.message for h in rs.evaluate({"amount": 150.0}, {})]
['amount 150 is large']
"""
from __future__ import annotations

import ast
import math
import operator
import re
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .errors import ConfigError

EFFECTS = ("add", "review", "block", "allow")
_CMP: dict[type, Callable[[Any, Any], bool]] = {
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Eq: operator.eq, ast.NotEq: operator.ne}
_BIN: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_FIELD = re.compile(r"\{([^{}]+)\}")


_FAST_CMP = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "=="}
_FAST_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def _fast_source(node: ast.AST) -> str | None:
    """Python source for an already validated expression, or ``None`` where the fast form could differ.

    Comparisons become plain Python comparisons: a NaN (missing) operand makes ``> >= < <= ==`` false, as
    the rules say (``!=`` is true for NaN, so it stays on the checked form). Names become ``f.get(...)``
    with their text quoted by ``repr``; nothing else reaches the source. An operand that is not a number
    (a string, ``None``) or a division by zero raises, and the caller falls back to the checked form."""
    if isinstance(node, ast.Expression):
        return _fast_source(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return repr(float(node.value))
    if isinstance(node, ast.Name):
        if node.id in ("true", "false"):
            return repr(node.id == "true")
        return f"f.get({node.id!r}, _nan)"
    if isinstance(node, ast.BoolOp):
        parts = [_fast_source(v) for v in node.values]
        if any(p is None for p in parts):
            return None
        joiner = " and " if isinstance(node.op, ast.And) else " or "
        return f"(True if ({joiner.join(parts)}) else False)"  # type: ignore[arg-type]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        inner = _fast_source(node.operand)
        return None if inner is None else f"({'not' if isinstance(node.op, ast.Not) else '-'} {inner})"
    if isinstance(node, ast.BinOp) and type(node.op) in _FAST_BIN:
        a, b = _fast_source(node.left), _fast_source(node.right)
        return None if a is None or b is None else f"({a} {_FAST_BIN[type(node.op)]} {b})"
    if isinstance(node, ast.Compare) and all(type(o) in _FAST_CMP for o in node.ops) and (
            len(node.ops) == 1 or not any(isinstance(o, ast.Eq) for o in node.ops)):
        items = [_fast_source(node.left)] + [_fast_source(c) for c in node.comparators]
        if any(i is None for i in items):
            return None
        sides = [node.left, node.comparators[0]]
        if isinstance(node.ops[0], ast.Eq) and not any(
                isinstance(x, ast.Constant) or (isinstance(x, ast.Name) and x.id in ("true", "false"))
                for x in sides):  # None == None is true in Python, a missing value here
            return f"({items[0]} == {items[1]} != None)"
        out = str(items[0])
        for o, i in zip(node.ops, items[1:]):
            out += f" {_FAST_CMP[type(o)]} {i}"
        return f"({out})"
    return None


def compile_expr(text: str, where: str) -> Callable[[Mapping[str, Any]], Any]:
    """Compile a rule expression into a function of a feature mapping; refuse anything else.

    The checked form (a tree of closures) defines the meaning; where the expression allows it, a compiled
    fast form computes the same value about ten times faster, and any operand it cannot take (a string,
    ``None``, a division by zero) hands that call to the checked form.

    >>> f = compile_expr("a >= 2 and not b < 1", "t")
    >>> f({"a": 3.0, "b": 1.0}), f({"a": float("nan"), "b": 1.0}), f({"a": 3.0, "b": None})
    (True, False, True)
    >>> compile_expr("a / b + 1", "t")({"a": 1.0, "b": 0.0})
    nan
    """
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ConfigError(f"{where}: {text!r} is not a valid expression ({e.msg}).") from None
    checked = _compile_checked(tree, text, where)
    src = _fast_source(tree)
    if src is None:
        return checked
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fast = eval(compile(f"lambda f: {src}", "<rule>", "eval"), {"__builtins__": {}, "_nan": math.nan})
    except (SyntaxError, SyntaxWarning):  # pragma: no cover - the generated source is plain
        return checked

    def run(f: Mapping[str, Any]) -> Any:
        try:
            return fast(f)
        except (TypeError, ZeroDivisionError):
            return checked(f)
    return run


def _compile_checked(tree: ast.AST, text: str, where: str) -> Callable[[Mapping[str, Any]], Any]:

    def build(node: ast.AST) -> Callable[[Mapping[str, Any]], Any]:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(
                node.value, bool):
            v = float(node.value)
            return lambda f: v
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            sv = node.value
            return lambda f: sv
        if isinstance(node, ast.Name):
            name = node.id
            if name in ("true", "false"):
                b = name == "true"
                return lambda f: b
            return lambda f: f.get(name, math.nan)
        if isinstance(node, ast.BoolOp):
            parts = [build(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda f: all(p(f) for p in parts)
            return lambda f: any(p(f) for p in parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = build(node.operand)
            return lambda f: not inner(f)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = build(node.operand)
            return lambda f: -inner(f)
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            op = _BIN[type(node.op)]
            left, right = build(node.left), build(node.right)

            def binop(f: Mapping[str, Any]) -> Any:
                a, b = left(f), right(f)
                try:
                    return op(a, b)
                except (ZeroDivisionError, TypeError):
                    return math.nan
            return binop
        if isinstance(node, ast.Compare):
            left = build(node.left)
            ops = [(_CMP[type(o)], build(c)) for o, c in zip(node.ops, node.comparators) if type(o) in _CMP]
            if len(ops) != len(node.ops):
                raise ConfigError(f"{where}: only < <= > >= == != comparisons are allowed in {text!r}.")

            def cmp(f: Mapping[str, Any]) -> bool:
                a = left(f)
                for fn, rf in ops:
                    b = rf(f)
                    if _missing(a) or _missing(b) or not fn(a, b):
                        return False
                    a = b
                return True
            return cmp
        raise ConfigError(f"{where}: {type(node).__name__} is not allowed in rule expressions ({text!r}); "
                          "use feature names, numbers, comparisons, and/or/not and + - * /.")

    return build(tree)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "unknown"
        return f"{v:.0f}" if v == int(v) and abs(v) < 1e15 else f"{v:.2f}"
    return str(v)


@dataclass(frozen=True)
class Rule:
    code: str
    description: str
    when: str
    effect: str
    weight: float
    message: str
    condition: Callable[[Mapping[str, Any]], Any]
    fields: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...]
    where: str = ""  # "rules file, rule N (code)", for errors

    def render(self, values: Mapping[str, Any]) -> str:
        out = self.message
        for text, fn in self.fields:
            out = out.replace("{" + text + "}", _fmt(fn(values)))
        return out


@dataclass(frozen=True)
class Hit:
    code: str
    effect: str
    weight: float
    message: str


class RuleSet:
    """A parsed, validated rules file."""

    def __init__(self, version: str, rules: list[Rule]):
        self.version = version
        self.rules = rules

    @classmethod
    def from_text(cls, text: str, source: str = "rules") -> "RuleSet":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{source} is not valid TOML: {e}.") from None
        version = str(data.get("version") or "")
        if not version:
            raise ConfigError(f"{source} needs a version = \"...\" line, recorded with every decision.")
        rules: list[Rule] = []
        seen: set[str] = set()
        for i, r in enumerate(data.get("rule", []), 1):
            where = f"{source}, rule {i}"
            if not isinstance(r, dict):
                raise ConfigError(f"{where}: each [[rule]] must be a table.")
            code = str(r.get("code", ""))
            if not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", code):
                raise ConfigError(f"{where}: code {code!r} must be snake_case.")
            if code in seen:
                raise ConfigError(f"{where}: code {code!r} is used twice.")
            seen.add(code)
            effect = str(r.get("effect", "add"))
            if effect not in EFFECTS:
                raise ConfigError(f"{where} ({code}): effect {effect!r} is not one of {', '.join(EFFECTS)}.")
            when = r.get("when")
            if not isinstance(when, str) or not when.strip():
                raise ConfigError(f"{where} ({code}): a when = \"...\" condition is required.")
            try:
                weight = float(r.get("weight", 0.0))
            except (TypeError, ValueError):
                raise ConfigError(f"{where} ({code}): weight must be a number.") from None
            if not 0.0 <= weight <= 1.0:
                raise ConfigError(f"{where} ({code}): weight must be between 0 and 1.")
            message = str(r.get("message") or r.get("description") or code)
            fields = tuple((m, compile_expr(m, f"{where} ({code}) message")) for m in
                           dict.fromkeys(_FIELD.findall(message)))
            rules.append(Rule(code, str(r.get("description", "")), when, effect, weight, message,
                              compile_expr(when, f"{where} ({code})"), fields, f"{where} ({code})"))
        return cls(version, rules)

    def check_names(self, features: Collection[str]) -> None:
        """Refuse a rule whose condition names something that is not one of ``features`` (the engine's
        feature names): a misspelt name reads as missing, so the rule would never fire, or, under ``not``,
        fire on every transaction.

        >>> rs = RuleSet.from_text('version = "t"\\n[[rule]]\\ncode = "big"\\nwhen = "amout > 100"', "r.toml")
        >>> rs.check_names(["amount", "tx_1h"])
        Traceback (most recent call last):
        graphfraud.errors.ConfigError: r.toml, rule 1 (big): 'amout' is not a feature (did you mean 'amount'?) ...
        """
        import difflib

        known = set(features)
        for r in self.rules:
            for node in ast.walk(ast.parse(r.when, mode="eval")):
                if isinstance(node, ast.Name) and node.id not in known and node.id not in ("true", "false"):
                    close = difflib.get_close_matches(node.id, sorted(known), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ConfigError(f"{r.where}: {node.id!r} is not a feature{hint} in {r.when!r}. A name "
                                      "that is not a feature reads as missing, so the rule would never fire, or "
                                      "always under 'not'; the features are listed in docs/features.md.")

    @classmethod
    def default(cls) -> "RuleSet":
        text = resources.files("graphfraud").joinpath("default_rules.toml").read_text(encoding="utf-8")
        return cls.from_text(text, "default_rules.toml")

    @classmethod
    def from_file(cls, path: str) -> "RuleSet":
        try:
            with open(path, encoding="utf-8") as fh:
                return cls.from_text(fh.read(), path)
        except OSError as e:
            raise ConfigError(f"The rules file {path} cannot be read: {e.strerror}.") from None

    def evaluate(self, features: Mapping[str, Any], context: Mapping[str, Any]) -> list[Hit]:
        """The rules that fire for one transaction, in file order."""
        hits = []
        values: dict[str, Any] | None = None
        for r in self.rules:
            if r.condition(features):
                if values is None:
                    values = {**features, **context}
                hits.append(Hit(r.code, r.effect, r.weight, r.render(values)))
        return hits
