"""Reading a Terraform stack without Terraform: python-hcl2 parses the HCL, and a small evaluator computes the
HCL expression subset the stacks in ``deploy/terraform`` use (references, conditionals, comparisons, ``for``
expressions, splats and the functions in ``FUNCTIONS``) for one set of variable values, with placeholder values for
attributes only OCI knows. ``tests/test_terraform.py`` feeds the results to the forwarder's own code;
``tests/test_hcl_eval.py`` holds the evaluator to Terraform's rules.

Two kinds of failure are kept apart, so that a gap in the evaluator can never read as "the validation rejects":
:class:`EvalError` is what Terraform itself reports evaluating an expression (a failed ``regex``, an index out of
range, a null in a template), the only thing ``can()`` turns into false; :class:`Unsupported` is an expression the
evaluator does not know or a reference the stack does not declare, which fails the test that met it.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree


class EvalError(Exception):
    """What Terraform would report as an error evaluating the expression (``can()`` turns it into false)."""


class Unsupported(Exception):
    """An expression the evaluator cannot evaluate, or a reference the stack does not declare: extend the evaluator
    or fix the stack. Never caught by ``can()``."""


def _trees(node: Tree[Any]) -> list[Tree[Any]]:
    """A node's meaningful sub-trees (no punctuation tokens, newlines or comments)."""
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _token_text(node: Tree[Any]) -> str:
    return "".join(str(c) for c in node.children if isinstance(c, Token))


@dataclass
class Block:
    """One HCL block: ``kind "label" "label" { attrs; blocks }`` with attributes kept as unevaluated trees."""

    kind: str
    labels: tuple[str, ...]
    attrs: dict[str, Tree[Any]] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    file: str = ""

    def all(self, kind: str) -> list[Block]:
        return [b for b in self.blocks if b.kind == kind]

    def one(self, kind: str) -> Block:
        found = self.all(kind)
        assert len(found) == 1, f"expected one {kind!r} block in {self.kind} {self.labels}, found {len(found)}"
        return found[0]


def _body(body: Tree[Any], file: str) -> tuple[dict[str, Tree[Any]], list[Block]]:
    attrs: dict[str, Tree[Any]] = {}
    blocks: list[Block] = []
    for item in _trees(body):
        if item.data == "attribute":
            name, expr = _trees(item)
            attrs[_token_text(name)] = expr
        elif item.data == "block":
            parts = _trees(item)
            kind = _token_text(parts[0])
            labels = tuple(_string_literal(p) if p.data == "string" else _token_text(p) for p in parts[1:-1])
            sub_attrs, sub_blocks = _body(parts[-1], file)
            blocks.append(Block(kind, labels, sub_attrs, sub_blocks, file))
    return attrs, blocks


def _string_literal(node: Tree[Any]) -> str:
    return "".join(_unescape(_token_text(p)) for p in _trees(node) if p.data == "string_part")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unescape(raw: str) -> str:
    """HCL string escapes: ``\\\\ \\" \\n \\t \\r \\uXXXX`` and the template escapes ``$${`` / ``%%{``."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt == "u":
                out.append(chr(int(raw[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if raw.startswith("$${", i) or raw.startswith("%%{", i):
            out.append(raw[i + 1 : i + 3])
            i += 3
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass
class Stack:
    blocks: list[Block]

    def of(self, kind: str) -> list[Block]:
        return [b for b in self.blocks if b.kind == kind]

    @property
    def variables(self) -> dict[str, Block]:
        return {b.labels[0]: b for b in self.of("variable")}

    @property
    def locals(self) -> dict[str, Tree[Any]]:
        merged: dict[str, Tree[Any]] = {}
        for block in self.of("locals"):
            for name, expr in block.attrs.items():
                assert name not in merged, f"local.{name} is defined twice"
                merged[name] = expr
        return merged

    def resource(self, rtype: str, name: str) -> Block:
        return self._find("resource", rtype, name)

    def data(self, rtype: str, name: str) -> Block:
        return self._find("data", rtype, name)

    def _find(self, kind: str, rtype: str, name: str) -> Block:
        for block in self.of(kind):
            if block.labels == (rtype, name):
                return block
        raise KeyError(f"{kind} {rtype}.{name}")

    def resources_of(self, rtype: str) -> list[Block]:
        return [b for b in self.of("resource") if b.labels[0] == rtype]


def parse_blocks(text: str, file: str = "") -> list[Block]:
    """The top-level blocks of one HCL text."""
    _, found = _body(_trees(hcl2.parses_to_tree(text))[0], file)
    return found


def load_stack(directory: Path) -> Stack:
    """Every ``*.tf`` file of a directory (one module), as blocks."""
    return Stack(
        [block for path in sorted(directory.glob("*.tf")) for block in parse_blocks(path.read_text(), path.name)]
    )


# ---------------------------------------------------------------------------------------------------------------------
# Evaluating the HCL expression subset the stack uses
# ---------------------------------------------------------------------------------------------------------------------


class _Namespace:
    """``var``, ``local``, ``data``, a resource type, a resource instance: things with attributes."""

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self._lookup = lookup

    def attr(self, name: str) -> Any:
        return self._lookup(name)


def _tf_str(value: Any) -> str:
    """A value as Terraform interpolates it into a string."""
    if value is None:
        raise EvalError("null value in a string template")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    raise EvalError(f"cannot interpolate {type(value).__name__} into a string")


def _substr(text: str, offset: int, length: int) -> str:
    return text[offset:] if length < 0 else text[offset : offset + length]


def _regex(pattern: str, text: str) -> Any:
    match = re.search(pattern, text)
    if match is None:
        raise EvalError(f"pattern {pattern!r} does not match")
    return match.group(0) if not match.groups() else list(match.groups())


def _one(items: list[Any]) -> Any:
    if len(items) > 1:
        raise EvalError("one() of more than one element")
    return items[0] if items else None


def _lookup(mapping: Mapping[str, Any], key: str, *default: Any) -> Any:
    if key in mapping:
        return mapping[key]
    if not default:
        raise EvalError(f"lookup() of missing key {key!r} without a default")
    return default[0]


def _distinct(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _merge(*maps: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for m in maps:
        merged.update(m)
    return merged


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tostring": _tf_str,
    "one": _one,
    "merge": _merge,
    "jsonencode": lambda v: json.dumps(v, separators=(",", ":"), sort_keys=True),
    "base64encode": lambda s: base64.b64encode(s.encode()).decode(),
    "length": len,
    "substr": _substr,
    "regex": _regex,
    "contains": lambda items, v: v in items,
    "floor": math.floor,
    "trimspace": str.strip,
    "join": lambda sep, items: sep.join(_tf_str(i) for i in items),
    "concat": lambda *lists: [item for items in lists for item in items],
    "distinct": _distinct,
    "lookup": _lookup,
    "replace": lambda text, old, new: text.replace(old, new),  # plain substrings only: the stack uses no /regex/
    "split": lambda sep, text: text.split(sep),
    "lower": str.lower,
    "sort": sorted,
    "keys": sorted,  # a map's keys, in lexical order
    "alltrue": lambda items: all(item is True for item in items),
    # Sets of strings: Terraform iterates them in lexical order.
    "setsubtract": lambda a, b: sorted(set(a) - set(b)),
}


class Evaluator:
    """Evaluates attributes of the stack for one set of variable values."""

    def __init__(self, stack: Stack, inputs: Mapping[str, Any], computed: Mapping[str, Any] | None = None) -> None:
        self.stack = stack
        self.computed = computed or {}
        self.vars: dict[str, Any] = {}
        for name, block in stack.variables.items():
            if name in inputs:
                self.vars[name] = inputs[name]
            elif "default" in block.attrs:
                self.vars[name] = self.value(block.attrs["default"])
        unknown = set(inputs) - set(stack.variables)
        if unknown:
            raise Unsupported(f"inputs for undeclared variables: {sorted(unknown)}")
        self._locals: dict[str, Any] = {}
        self._local_exprs = stack.locals

    # References -------------------------------------------------------------------------------------------------

    def _root(self, name: str, scope: Mapping[str, Any]) -> Any:
        if name in scope:
            return scope[name]
        if name == "var":
            return _Namespace(self._var)
        if name == "local":
            return _Namespace(self._local)
        if name == "data":
            return _Namespace(lambda rtype: _Namespace(lambda rname: self.instances("data", rtype, rname)))
        if any(b.labels[0] == name for b in self.stack.of("resource")):
            return _Namespace(lambda rname: self.instances("resource", name, rname))
        raise Unsupported(f"unknown reference {name!r}")

    def _var(self, name: str) -> Any:
        if name not in self.vars:
            raise Unsupported(f"var.{name} is not declared or has no value")
        return self.vars[name]

    def _local(self, name: str) -> Any:
        if name not in self._locals:
            if name not in self._local_exprs:
                raise Unsupported(f"local.{name} is not defined")
            self._locals[name] = self.value(self._local_exprs[name])
        return self._locals[name]

    def instances(self, kind: str, rtype: str, name: str) -> Any:
        """A resource or data source: one instance, or a list of instances when it has ``count``."""
        try:
            block = self.stack._find(kind, rtype, name)
        except KeyError:
            raise Unsupported(f"{kind} {rtype}.{name} is not declared") from None
        prefix = "data." if kind == "data" else ""
        path = f"{prefix}{rtype}.{name}"

        def attr(attr_name: str) -> Any:
            if attr_name in block.attrs:
                return self.value(block.attrs[attr_name])
            return self.computed.get(f"{path}.{attr_name}", f"<{path}.{attr_name}>")

        instance = _Namespace(attr)
        if "count" in block.attrs:
            return [instance] * int(self.value(block.attrs["count"]))
        return instance

    def count(self, block: Block) -> int:
        return int(self.value(block.attrs["count"])) if "count" in block.attrs else 1

    def attr(self, block: Block, name: str) -> Any:
        return self.value(block.attrs[name])

    # Expressions ------------------------------------------------------------------------------------------------

    def value(self, node: Tree[Any], scope: Mapping[str, Any] | None = None) -> Any:
        scope = scope or {}
        kind = node.data
        parts = _trees(node)
        if kind == "expr_term":
            if len(parts) != 1:
                raise Unsupported(f"unexpected expr_term {node}")
            inner = parts[0]
            if inner.data == "identifier":
                name = _token_text(inner)
                if name in scope:
                    return scope[name]
                return self._root(name, scope)
            return self.value(inner, scope)
        if kind == "identifier":
            return self._root(_token_text(node), scope)
        if kind == "int_lit":
            return int(_token_text(node))
        if kind == "float_lit":
            return float(_token_text(node))
        if kind == "literal_value":
            return {"true": True, "false": False, "null": None}[_token_text(node)]
        if kind == "string":
            return self._string(node, scope)
        if kind == "tuple":
            return [self.value(p, scope) for p in parts]
        if kind == "object":
            return {self._key(elem, scope): self.value(_trees(elem)[1], scope) for elem in parts}
        if kind == "get_attr_expr_term":
            return self._get_attr(self.value(parts[0], scope), _token_text(_trees(parts[1])[0]))
        if kind == "index_expr_term":
            base = self.value(parts[0], scope)
            index = self.value(_trees(parts[1])[0], scope)
            try:
                return base[index]
            except (KeyError, IndexError, TypeError):
                raise EvalError(f"invalid index {index!r} into {type(base).__name__}") from None
        if kind in ("full_splat_expr_term", "attr_splat_expr_term"):
            base = self.value(parts[0], scope)
            items = base if isinstance(base, list) else ([] if base is None else [base])
            out = []
            for item in items:
                value = item
                for step in _trees(parts[1]):
                    value = self._get_attr(value, _token_text(_trees(step)[0]))
                out.append(value)
            return out
        if kind == "function_call":
            return self._call(node, scope)
        if kind == "conditional":
            cond, yes, no = parts
            test = self.value(cond, scope)
            if not isinstance(test, bool):
                raise EvalError("condition is not a bool")
            return self.value(yes if test else no, scope)  # Terraform ignores errors in the branch not taken
        if kind == "binary_op":
            return self._binary(parts, scope)
        if kind == "unary_op":
            op = _token_text(node)
            operand = self.value(parts[0], scope)
            return (not operand) if op == "!" else -operand
        if kind in ("for_object_expr", "for_tuple_expr"):
            return self._for(node, scope)
        raise Unsupported(f"the test's evaluator does not support {kind!r}; extend it")

    def _get_attr(self, base: Any, name: str) -> Any:
        if isinstance(base, _Namespace):
            return base.attr(name)
        if isinstance(base, dict):
            if name not in base:
                raise EvalError(f"object has no attribute {name!r}")
            return base[name]
        raise EvalError(f"cannot take .{name} of {type(base).__name__}")

    def _string(self, node: Tree[Any], scope: Mapping[str, Any]) -> str:
        out: list[str] = []
        for part in _trees(node):
            inner = _trees(part)
            if inner and inner[0].data == "interpolation":
                out.append(_tf_str(self.value(_trees(inner[0])[0], scope)))
            else:
                out.append(_unescape(_token_text(part)))
        return "".join(out)

    def _key(self, elem: Tree[Any], scope: Mapping[str, Any]) -> str:
        key = _trees(_trees(elem)[0])[0]
        if key.data == "expr_term" and _trees(key)[0].data == "identifier":
            return _token_text(_trees(key)[0])
        return str(self.value(key, scope))

    def _call(self, node: Tree[Any], scope: Mapping[str, Any]) -> Any:
        parts = _trees(node)
        name = _token_text(parts[0])
        args = _trees(parts[1]) if len(parts) > 1 else []
        if name == "can":
            try:
                self.value(args[0], scope)
            except EvalError:
                return False
            return True
        if name not in FUNCTIONS:
            raise Unsupported(f"the test's evaluator does not know function {name}(); extend it")
        values = [self.value(a, scope) for a in args]
        try:
            return FUNCTIONS[name](*values)
        except (TypeError, ValueError, re.error) as exc:  # a function given the wrong kind of value, as in Terraform
            raise EvalError(f"{name}(): {exc}") from None

    def _binary(self, parts: list[Tree[Any]], scope: Mapping[str, Any]) -> Any:
        left = self.value(parts[0], scope)
        term = parts[1]
        op = _token_text(_trees(term)[0])
        right = self.value(_trees(term)[1], scope)
        operations: dict[str, Callable[[Any, Any], Any]] = {
            "==": lambda a, b: (a == b and type(a) is type(b)) or (a is None and b is None),
            "!=": lambda a, b: not ((a == b and type(a) is type(b)) or (a is None and b is None)),
            "&&": lambda a, b: a and b,
            "||": lambda a, b: a or b,
            "<": lambda a, b: a < b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            ">=": lambda a, b: a >= b,
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            "*": lambda a, b: a * b,
            "/": lambda a, b: a / b,
            "%": lambda a, b: a % b,
        }
        if op in ("&&", "||") and not (isinstance(left, bool) and isinstance(right, bool)):
            raise EvalError(f"{op} needs bools")
        if isinstance(left, int | float) and isinstance(right, int | float) and op in ("==", "!="):
            return (left == right) == (op == "==")
        try:
            return operations[op](left, right)
        except TypeError:
            raise EvalError(f"{op} of {type(left).__name__} and {type(right).__name__}") from None

    def _for(self, node: Tree[Any], scope: Mapping[str, Any]) -> Any:
        parts = _trees(node)
        intro = parts[0]
        names = [_token_text(p) for p in _trees(intro) if p.data == "identifier"]
        collection = self.value(_trees(intro)[-1], scope)
        cond = next((p for p in parts if p.data == "for_cond"), None)
        body = [p for p in parts[1:] if p.data != "for_cond"]
        items = collection.items() if isinstance(collection, dict) else enumerate(collection)
        out_map: dict[str, Any] = {}
        out_list: list[Any] = []
        for key, item in items:
            inner = {**scope, **(dict(zip(names, (key, item), strict=True)) if len(names) == 2 else {names[0]: item})}
            if cond is not None and not self.value(_trees(cond)[0], inner):
                continue
            if node.data == "for_object_expr":
                out_map[str(self.value(body[0], inner))] = self.value(body[1], inner)
            else:
                out_list.append(self.value(body[0], inner))
        return out_map if node.data == "for_object_expr" else out_list

    # Checks -----------------------------------------------------------------------------------------------------

    def all_locals(self) -> dict[str, Any]:
        """Every local's value: Terraform evaluates each one in every plan, used or not, so an error in any fails it."""
        return {name: self._local(name) for name in self._local_exprs}

    def validation_errors(self) -> list[str]:
        """Error messages of every variable validation that rejects the current values."""
        errors = []
        for name, block in self.stack.variables.items():
            if name not in self.vars:
                continue
            for rule in block.all("validation"):
                if self.value(rule.attrs["condition"]) is not True:
                    errors.append(f"{name}: {self.value(rule.attrs['error_message'])}")
        return errors

    def precondition_errors(self) -> list[str]:
        errors = []
        for block in self.stack.of("resource"):
            for lifecycle in block.all("lifecycle"):
                for rule in lifecycle.all("precondition"):
                    if self.value(rule.attrs["condition"]) is not True:
                        errors.append(self.value(rule.attrs["error_message"]))
        return errors
