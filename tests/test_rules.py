"""Link rules: safe expressions, filled messages, effects and their precedence in ``scoring.decide``."""
from __future__ import annotations

import ast
import math
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from graphfraud.cli import main
from graphfraud.errors import ConfigError
from graphfraud.graph.features import feature_names
from graphfraud.rules import EFFECTS, RuleSet, compile_expr
from graphfraud.schema import ENTITY_COLUMNS, validate_record
from graphfraud.scoring import decide

NAN = math.nan


def ruleset(*rules: dict[str, Any], version: str = "test-1") -> RuleSet:
    """A RuleSet from rule dicts, through the TOML text path."""
    lines = [f'version = "{version}"']
    for r in rules:
        lines.append("[[rule]]")
        for k, v in r.items():
            lines.append(f"{k} = {v!r}" if isinstance(v, (int, float)) else f'{k} = "{v}"')
    return RuleSet.from_text("\n".join(lines))


@pytest.fixture
def tx() -> Any:
    return validate_record({"transaction_id": "t1", "timestamp": "2026-01-02T10:00:00", "user_id": "u1",
                            "amount": "50", "device_id": "D123", "card_id": "C9"})


# ---------------------------------------------------------------- expressions
@pytest.mark.parametrize(("expr", "features", "expected"), [
    ("a > 1 and b < 2", {"a": 2.0, "b": 1.0}, True),
    ("a > 1 and b < 2", {"a": 2.0, "b": 3.0}, False),
    ("a > 1 or b < 2", {"a": 0.0, "b": 1.0}, True),
    ("not a > 1", {"a": 0.0}, True),
    ("a + b * 2 >= 7", {"a": 1.0, "b": 3.0}, True),
    ("(a + b) * 2 == 8", {"a": 1.0, "b": 3.0}, True),
    ("a / b > 1", {"a": 3.0, "b": 2.0}, True),
    ("-a < 0", {"a": 1.0}, True),
    ("1 < a <= 3", {"a": 3.0}, True),
    ("1 < a <= 3", {"a": 4.0}, False),
    ("a != 1", {"a": 2.0}, True),
    ("a > 1", {"a": NAN}, False),
    ("a < 1", {"a": NAN}, False),
    ("a == a", {"a": NAN}, False),
    ("a != 1", {"a": NAN}, False),
    ("a + 1 > 0", {"a": NAN}, False),
    ("a / b > 0", {"a": 1.0, "b": 0.0}, False),
    ("missing > 0", {}, False),
    ("missing < 0", {}, False),
    ("1 < a < 3", {"a": NAN}, False),
], ids=["and-true", "and-false", "or", "not", "precedence", "parens", "division", "negation", "chain-in",
        "chain-out", "not-equal", "nan-gt", "nan-lt", "nan-eq-self", "nan-ne", "nan-arith", "div-by-zero",
        "missing-gt", "missing-lt", "nan-chain"])
def test_expressions(expr: str, features: dict[str, float], expected: bool) -> None:
    assert bool(compile_expr(expr, "test")(features)) is expected


@pytest.mark.parametrize("expr", [
    "__import__('os')", "__import__('os').system('true')", "a.real > 0", "open('x')", "a[0] > 1", "(lambda: 1)()",
    "lambda: 1", "a if b else c", "[a, b]", "{a: 1}", "a ** 2 > 1", "a in b", "a is b", "a // 2 > 0", "a % 2 > 0",
    "(x := 1)", "f'{a}'", "a and", "",
], ids=["import", "import-system", "attribute", "call", "subscript", "lambda-call", "lambda", "ternary", "list",
        "dict", "power", "in", "is", "floordiv", "mod", "walrus", "fstring", "syntax", "empty"])
def test_unsafe_or_unknown_expressions_refused(expr: str) -> None:
    with pytest.raises(ConfigError):
        compile_expr(expr, "test")


@pytest.mark.parametrize("field", ["when", "message"], ids=["in-when", "in-message"])
def test_unsafe_expression_in_a_rules_file_refused(field: str) -> None:
    rule = {"code": "evil", "when": "amount > 0", "effect": "review", "message": "ok"}
    rule[field] = "__import__('os').getcwd()" if field == "when" else "{__import__('os').getcwd()}"
    with pytest.raises(ConfigError) as info:
        ruleset(rule)
    assert "evil" in str(info.value)


# ---------------------------------------------------------------- messages
def test_message_template_filled(tx: Any) -> None:
    rs = ruleset({"code": "device_shared", "when": "device_users >= 4", "effect": "add", "weight": 0.2,
                  "message": "device {device_id} is shared by {device_users + 1} users, {device_fraud_users} of "
                             "them confirmed fraud; ratio {ratio}; age {age}"})
    context = {"device_id": tx.device_id, "user_id": tx.user_id}
    hits = rs.evaluate({"device_users": 6.0, "device_fraud_users": 2.0, "ratio": 2.5, "age": NAN}, context)
    assert [h.message for h in hits] == ["device D123 is shared by 7 users, 2 of them confirmed fraud; ratio 2.50; "
                                         "age unknown"]
    assert rs.evaluate({"device_users": 3.0}, context) == []


@pytest.mark.parametrize(("text", "needle"), [
    ('[[rule]]\ncode = "a_b"\nwhen = "x > 1"', "version"),
    ('version = "v"\n[[rule]]\ncode = "a_b"\nwhen = "x > 1"\neffect = "explode"', "effect"),
    ('version = "v"\n[[rule]]\ncode = "a_b"\nwhen = "x > 1"\nweight = 1.5', "weight"),
    ('version = "v"\n[[rule]]\ncode = "a_b"\nwhen = "x > 1"\n[[rule]]\ncode = "a_b"\nwhen = "x > 2"', "twice"),
    ('version = "v"\n[[rule]]\ncode = "Bad Code"\nwhen = "x > 1"', "snake_case"),
    ('version = "v"\n[[rule]]\ncode = "a_b"', "when"),
    ('version = = "v"', "TOML"),
], ids=["no-version", "bad-effect", "bad-weight", "duplicate-code", "bad-code", "no-when", "bad-toml"])
def test_bad_rules_files_refused(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        RuleSet.from_text(text)
    assert needle in str(info.value)


# ---------------------------------------------------------------- decisions
def _rule(code: str, effect: str, weight: float = 0.0) -> dict[str, Any]:
    return {"code": code, "when": "amount > 0", "effect": effect, "weight": weight, "message": f"{code} fired"}


@pytest.mark.parametrize(("effects", "probability", "expected"), [
    (("block", "allow", "review"), 0.0, "block"),
    (("allow", "block"), 0.0, "block"),
    (("allow", "review"), 0.0, "allow"),
    (("allow",), 0.99, "allow"),
    (("review",), 0.0, "review"),
    (("review",), 0.99, "block"),
    ((), 0.99, "block"),
    ((), 0.6, "review"),
    ((), 0.1, "allow"),
    (("block",), None, "block"),
    (("review",), None, "review"),
    ((), None, "allow"),
], ids=["block-beats-all", "block-beats-allow", "allow-beats-review", "allow-beats-model", "review-lifts-allow",
        "review-does-not-lower", "model-block", "model-review", "model-allow", "rules-only-block",
        "rules-only-review", "rules-only-nothing"])
def test_effect_precedence(tx: Any, effects: tuple[str, ...], probability: float | None, expected: str) -> None:
    rs = ruleset(*[_rule(f"r_{e}", e) for e in effects])
    d = decide({"amount": 50.0}, tx, probability, rs)
    assert d["decision"] == expected
    assert d["rule_hits"] == [f"r_{e}" for e in effects]
    assert [r["message"] for r in d["reasons"]] == [f"r_{e} fired" for e in effects]


def test_add_weights_combine_as_noisy_or_without_a_model(tx: Any) -> None:
    rs = ruleset(_rule("r_one", "add", 0.5), _rule("r_two", "add", 0.2))
    d = decide({"amount": 50.0}, tx, None, rs)
    assert d["score"] == pytest.approx(1 - 0.5 * 0.8)
    assert d["decision"] == "review"  # 0.6: at least review 0.5, under block 0.85
    d2 = decide({"amount": 50.0}, tx, None, rs, review_threshold=0.3, block_threshold=0.55)
    assert d2["decision"] == "block"


def test_with_a_model_its_probability_is_the_score(tx: Any) -> None:
    """add weights are not stacked on the calibrated probability (scoring.decide's documented choice)."""
    rs = ruleset(_rule("r_one", "add", 0.5))
    d = decide({"amount": 50.0}, tx, 0.2, rs)
    assert (d["score"], d["decision"], d["rule_hits"]) == (0.2, "allow", ["r_one"])


def test_rules_only_mode_without_a_model(tx: Any) -> None:
    rs = ruleset(_rule("r_one", "add", 0.6))
    d = decide({"amount": 50.0}, tx, None, rs)
    assert (d["mode"], d["model_probability"], d["score"], d["decision"]) == ("rules_only", None, 0.6, "review")
    d2 = decide({"amount": 50.0}, tx, 0.25, rs)
    assert (d2["mode"], d2["model_probability"]) == ("model+rules", 0.25)


# ---------------------------------------------------------------- the shipped file
def test_default_rules_file_parses_and_names_real_features() -> None:
    rs = RuleSet.default()
    assert rs.version and rs.rules
    assert len({r.code for r in rs.rules}) == len(rs.rules)
    assert all(r.effect in EFFECTS for r in rs.rules)
    known = set(feature_names(tuple(ENTITY_COLUMNS.values())))
    context = {"user_id", "card_id", "device_id", "ip", "merchant_id", "country"}
    for r in rs.rules:
        used = {n.id for n in ast.walk(ast.parse(r.when, mode="eval")) if isinstance(n, ast.Name)}
        assert used <= known, (r.code, used - known)
        for text, _ in r.fields:
            used = {n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)}
            assert used <= known | context, (r.code, used - known - context)
    # on a row where nothing is known, nothing fires and nothing raises
    assert rs.evaluate({name: NAN for name in known}, {}) == []


# ---------------------------------------------------------------- the compiled fast form
_NAMES = ("a", "b", "c")


def _group(parts: tuple[str, ...]) -> str:
    return "(" + " ".join(parts) + ")"


_exprs = st.recursive(
    st.one_of(st.sampled_from(_NAMES), st.sampled_from(["0", "1", "2.5", "true", "false", "'x'"])),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), inner).map(_group),
        st.tuples(inner, st.sampled_from(["<", "<="]), inner, st.sampled_from(["<", "<="]), inner).map(_group),
        st.tuples(inner, st.sampled_from(["and", "or", "+", "-", "*", "/"]), inner).map(_group),
        inner.map(lambda e: f"(not {e})"), inner.map(lambda e: f"(-{e})")),
    max_leaves=6)
_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3).map(float), st.none(),
                    st.just("x"))


def _outcome(fn: Any, f: dict[str, Any]) -> Any:
    try:
        v = fn(f)
    except Exception as e:  # noqa: BLE001 - the kind of failure is compared
        return ("raises", type(e))
    return ("nan",) if isinstance(v, float) and math.isnan(v) else ("value", v)


@settings(max_examples=400, deadline=None)
@given(_exprs, st.fixed_dictionaries({n: _values for n in _NAMES}))
@example("(a == b)", {"a": None, "b": None, "c": 0.0})
@example("(a != 1)", {"a": NAN, "b": None, "c": 0.0})
@example("(a / b)", {"a": 1.0, "b": 0.0, "c": 0.0})
def test_fast_form_means_what_the_checked_form_means(expr: str, f: dict[str, Any]) -> None:
    """The compiled form of a rule expression gives the checked form's value (or its error) on any input."""
    from graphfraud.rules import _compile_checked

    assert _outcome(compile_expr(expr, "t"), f) == _outcome(_compile_checked(ast.parse(expr, mode="eval"), expr, "t"), f), expr


# ---------------------------------------------------------------- names a condition reads
def test_a_condition_naming_no_feature_is_refused_with_the_closest_name(tmp_path: Any) -> None:
    """A misspelt name reads as missing: ``amout > 500`` would never fire and ``not (amout > 0)`` would
    block everything. The names are checked against the engine's features where rules meet an engine."""
    known = feature_names(tuple(ENTITY_COLUMNS.values()))
    RuleSet.default().check_names(known)  # the shipped rules name real features
    text = 'version = "t"\n[[rule]]\ncode = "typo"\neffect = "block"\nwhen = "amout < 1 or not (amout > 0)"\n'
    rs = RuleSet.from_text(text, "r.toml")
    with pytest.raises(ConfigError, match=r"r.toml, rule 1 \(typo\): 'amout' is not a feature \(did you mean "
                                          r"'amount'\?\)"):
        rs.check_names(known)
    RuleSet.from_text(text.replace("amout", "amount")).check_names(known)
    # the CLI's backtest refuses the file before it loads anything, and so does a scorer
    rules = tmp_path / "r.toml"
    rules.write_text(text)
    data = tmp_path / "t.csv"
    data.write_text("transaction_id,timestamp,user_id,amount\n" +
                    "".join(f"t{i},2026-01-0{1 + i % 9}T00:00:00Z,u{i % 3},{i}\n" for i in range(20)))
    r = CliRunner().invoke(main, ["backtest", str(data), "--train-frac", "0.5", "--rules", str(rules),
                                  "--store", str(tmp_path / "s.db")])
    assert r.exit_code == 1 and "'amout' is not a feature" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "s.db").exists()
    from graphfraud.scoring import Scorer
    from graphfraud.storage import open_store

    with pytest.raises(ConfigError, match="amout"):
        Scorer(open_store(str(tmp_path / "score.db")), rules=rs)
