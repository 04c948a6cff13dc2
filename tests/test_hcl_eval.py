"""The HCL evaluator of ``tests/hcl_eval.py`` (which decides the Terraform stack's tests in ``make test``) held to
Terraform's rules on small stacks: what ``can()`` turns into false is only what Terraform itself reports as an error,
and an expression the evaluator does not know fails loudly instead of reading as "the validation rejects"."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hcl_eval import EvalError, Evaluator, Stack, Unsupported, parse_blocks


def evaluate(expression: str, inputs: dict[str, Any] | None = None, computed: dict[str, Any] | None = None) -> Any:
    """The value of one expression in a stack with ``variable "v"`` (default "x") and a few things to refer to."""
    stack = Stack(
        parse_blocks(
            f"""
variable "v" {{
  type    = string
  default = "x"
}}
variable "items" {{
  type    = list(string)
  default = ["b", "a", "b"]
}}
locals {{
  doubled = "${{var.v}}${{var.v}}"
  subject = {expression}
}}
resource "oci_thing" "many" {{
  count = 2
  name  = "thing"
}}
resource "oci_thing" "one" {{
  name = local.doubled
}}
"""
        )
    )
    ev = Evaluator(stack, inputs or {}, computed)
    return ev.value(stack.locals["subject"])


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("var.v", "x"),
        ("local.doubled", "xx"),
        ("oci_thing.one.name", "xx"),
        ("oci_thing.one.id", "<oci_thing.one.id>"),
        ("length(oci_thing.many)", 2),
        ("oci_thing.many[*].name", ["thing", "thing"]),
        ('"a-${var.v}-$${literal}"', "a-x-${literal}"),
        ('"line\\nnext \\u00e9"', "line\nnext \u00e9"),
        ('[for item in var.items : upper if item != "a"]', None),
    ],
    ids=["var", "local", "resource", "unknown", "count", "splat", "template", "escapes", "unsupported-ref"],
)
def test_references_and_templates(expression: str, expected: Any) -> None:
    if expected is None:
        with pytest.raises(Unsupported, match="unknown reference 'upper'"):
            evaluate(expression)
        return
    assert evaluate(expression) == expected


def test_inputs_override_defaults_and_undeclared_inputs_are_refused() -> None:
    assert evaluate("var.v", {"v": "given"}) == "given"
    with pytest.raises(Unsupported, match="undeclared variables"):
        evaluate("var.v", {"w": "given"})


def test_computed_attributes_come_from_the_table() -> None:
    assert evaluate("oci_thing.one.id", computed={"oci_thing.one.id": "ocid1.thing.oc1..a"}) == "ocid1.thing.oc1..a"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('[for item in var.items : "${item}!" if item != "a"]', ["b!", "b!"]),
        ("{for index, item in var.items : item => index}", {"b": 2, "a": 1}),
        ('{ "k" = 1, plain = 2 }', {"k": 1, "plain": 2}),
        ('var.v == "x" ? "yes" : regex("z", "a")', "yes"),
        ('"1" == 1', False),
        ("1 == 1.0", True),
        ("null == null", True),
        ("!(3 > 2) || 2 >= 2", True),
        ("7 % 3 + 10 / 4", 3.5),
    ],
    ids=["for-list", "for-map", "object", "branch-not-taken", "typed-eq", "number-eq", "null-eq", "logic", "arith"],
)
def test_expressions(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('distinct(["b", "a", "b"])', ["b", "a"]),
        ('setsubtract(["c", "a", "b"], ["b"])', ["a", "c"]),
        ('lookup({ a = 1 }, "b", 2)', 2),
        ('lookup({ a = 1 }, "a", 2)', 1),
        ('replace("{region}.ocir.io", "{region}", "eu-frankfurt-1")', "eu-frankfurt-1.ocir.io"),
        ('split("/", "a/b/c")', ["a", "b", "c"]),
        ('lower("FRA")', "fra"),
        ('sort(["b", "a"])', ["a", "b"]),
        ("keys({ b = 1, a = 2 })", ["a", "b"]),
        ("alltrue([])", True),
        ('alltrue([true, "true"])', False),
        ('substr("audit/x", 0, 5)', "audit"),
        ('substr("audit", 2, -1)', "dit"),
        ('join(", ", [1, "a", true])', "1, a, true"),
        ("tostring(2.0)", "2"),
        ('jsonencode({ b = [1], a = "x" })', '{"a":"x","b":[1]}'),
        ('one(["a"])', "a"),
        ("one([])", None),
        ("merge({ a = 1 }, { a = 2, b = 3 })", {"a": 2, "b": 3}),
        ('concat(["a"], [], ["b"])', ["a", "b"]),
        ('contains(["a"], "a")', True),
        ("floor(2.5)", 2),
        ('trimspace("  a ")', "a"),
        ('base64encode("tok")', "dG9r"),
        ('regex("^ocid1\\\\.([a-z]+)\\\\.", "ocid1.key.oc1..x")', ["key"]),
        ('regex("^ocid1\\\\.key", "ocid1.key.oc1..x")', "ocid1.key"),
    ],
)
def test_functions_behave_as_terraforms(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        'regex("^z", "a")',  # no match
        '["a"][3]',  # index out of range
        '{ a = 1 }["b"]',  # missing key
        "{ a = 1 }.b",  # missing attribute
        'one(["a", "b"])',  # more than one
        'lookup({ a = 1 }, "b")',  # missing key, no default
        '"a" < 1',  # compares a string with a number
        '"a" && true',  # not a bool
        '"${null}"',  # null in a template
        'regex("(", "a")',  # an invalid pattern
        'var.v ? "a" : "b"',  # a condition that is no bool
    ],
)
def test_what_terraform_reports_as_an_error_is_an_eval_error_and_can_is_false(expression: str) -> None:
    with pytest.raises(EvalError):
        evaluate(expression)
    assert evaluate(f"can({expression})") is False


def test_can_is_true_when_the_expression_evaluates() -> None:
    assert evaluate('can(regex("^x$", var.v))') is True


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ('can(frobnicate("a"))', "does not know function frobnicate"),
        ("can(var.undeclared)", "var.undeclared is not declared"),
        ("can(local.missing)", "local.missing is not defined"),
        ("can(oci_thing.missing.id)", "oci_thing.missing is not declared"),
        ("can(nothing.at.all)", "unknown reference 'nothing'"),
    ],
)
def test_can_never_hides_what_the_evaluator_does_not_know(expression: str, message: str) -> None:
    """A gap in the evaluator (or a typo in the stack) must fail the test, not read as a rejected value."""
    with pytest.raises(Unsupported, match=message):
        evaluate(expression)


def test_validations_and_preconditions_report_their_messages() -> None:
    stack = Stack(
        parse_blocks(
            """
variable "size" {
  type    = number
  default = 5
  validation {
    condition     = var.size >= 1 && var.size <= 10
    error_message = "The size must be between 1 and 10."
  }
}
resource "oci_thing" "checked" {
  lifecycle {
    precondition {
      condition     = var.size != 7
      error_message = "Not ${var.size}."
    }
  }
}
"""
        )
    )
    assert Evaluator(stack, {}).validation_errors() == []
    assert Evaluator(stack, {}).precondition_errors() == []
    assert Evaluator(stack, {"size": 11}).validation_errors() == ["size: The size must be between 1 and 10."]
    assert Evaluator(stack, {"size": 7}).precondition_errors() == ["Not 7."]


def test_all_locals_evaluates_the_unused_ones_too() -> None:
    """Terraform evaluates every local in every plan: a null in an unused local's template still fails it."""
    stack = Stack(
        parse_blocks(
            """
variable "name" {
  type    = string
  default = null
}
locals {
  used   = "fine"
  unused = "group ${var.name}"
}
"""
        )
    )
    with pytest.raises(EvalError, match="null value in a string template"):
        Evaluator(stack, {}).all_locals()
    assert Evaluator(stack, {"name": "g"}).all_locals() == {"used": "fine", "unused": "group g"}
