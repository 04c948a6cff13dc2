"""The Terraform stack in ``deploy/terraform`` held to the forwarder's own contract.

``terraform`` cannot run here (no provider downloads), so the HCL is parsed with python-hcl2 and the parts that
matter are *evaluated* by a small evaluator of the HCL expression subset the stack uses (references, conditionals,
comparisons, ``for`` expressions and a few functions), with placeholder values for the variables and for attributes
only OCI knows (OCIDs, the namespace). The results are then fed to the code itself: the function's config to
``load_settings``, the Events rule's condition to the matcher below and ``parse_command``, the policies to a
statement checker. Everything checked in one place: see the test names.
"""

from __future__ import annotations

import base64
import fnmatch
import importlib.util
import json
import math
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import pytest
from lark import Token, Tree

from logzio_forwarder.commands import CREATE_OBJECT, ForwardObjects, Ignore, Replay, parse_command
from logzio_forwarder.config import KEYS, Settings, load_settings
from logzio_forwarder.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
TF_DIR = ROOT / "deploy" / "terraform"
EVENTS = ROOT / "tests" / "fixtures" / "events"

TENANCY = "ocid1.tenancy.oc1..aaaaaaaastandintenancy"
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandincompartment"
NETWORK_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandinnetwork"
SECRET_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandinsecrets"
SUBNET = "ocid1.subnet.oc1.eu-amsterdam-1.aaaaaaaastandinsubnet"
NAMESPACE = "standinns"
FUNCTION_ID = "ocid1.fnfunc.oc1.eu-amsterdam-1.aaaaaaaastandinfunction"
CREATED_SECRET = "ocid1.vaultsecret.oc1.eu-amsterdam-1.aaaaaaaacreatedsecret"
GIVEN_SECRET = "ocid1.vaultsecret.oc1.eu-amsterdam-1.aaaaaaaagivensecret"
TOKEN = "tfTOKENvalue0123456789abcdefghij"

REQUIRED_INPUTS: dict[str, Any] = {
    "tenancy_ocid": TENANCY,
    "region": "eu-amsterdam-1",
    "compartment_ocid": COMPARTMENT,
    "subnet_ocid": SUBNET,
    "function_image": "eu-amsterdam-1.ocir.io/standinns/logzio/logzio-from-bucket:0.1.0",
}
"""The variables without defaults (what a user must give)."""

TOKEN_MODES: dict[str, dict[str, Any]] = {
    "config": {"logzio_token": TOKEN},
    "new-secret": {
        "logzio_token": TOKEN,
        "create_vault_secret": True,
        "vault_ocid": "ocid1.vault.oc1.eu-amsterdam-1.aaaaaaaastandinvault",
        "vault_key_ocid": "ocid1.key.oc1.eu-amsterdam-1.aaaaaaaastandinkey",
    },
    "existing-secret": {"logzio_token_secret_ocid": GIVEN_SECRET},
}
"""Variables for the three ways the function can get the shipping token."""

COMPUTED: dict[str, Any] = {
    "data.oci_objectstorage_namespace.this.namespace": NAMESPACE,
    "data.oci_core_subnet.functions.compartment_id": NETWORK_COMPARTMENT,
    "data.oci_vault_secret.given.compartment_id": SECRET_COMPARTMENT,
    "oci_functions_function.forwarder.id": FUNCTION_ID,
    "oci_vault_secret.logzio_token.id": CREATED_SECRET,
}
"""Attributes only OCI knows after apply; anything else unknown evaluates to ``"<type.name.attr>"``."""

SEED_NAMES = {
    "bucket_name": "logfile_download_bucket",
    "application_name": "logzio",
    "function_name": "logzio-from-bucket",
    "connector_name": "Logfile_audit_archive_connector",
    "rule_name": "Process audit file from audit bucket",
}

DOCUMENTED_RESOURCES = {
    "oci_objectstorage_bucket",
    "oci_objectstorage_object_lifecycle_policy",
    "oci_sch_service_connector",
    "oci_functions_application",
    "oci_functions_function",
    "oci_events_rule",
    "oci_identity_dynamic_group",
    "oci_identity_policy",
    "oci_identity_user",
    "oci_identity_user_capabilities_management",
    "oci_identity_group",
    "oci_identity_user_group_membership",
    "oci_artifacts_container_repository",
    "oci_vault_secret",
}
DOCUMENTED_DATA_SOURCES = {"oci_objectstorage_namespace", "oci_vault_secret", "oci_core_subnet"}


# ---------------------------------------------------------------------------------------------------------------------
# Loading the stack
# ---------------------------------------------------------------------------------------------------------------------


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


def load_stack() -> Stack:
    blocks: list[Block] = []
    for path in sorted(TF_DIR.glob("*.tf")):
        _, found = _body(_trees(hcl2.parses_to_tree(path.read_text()))[0], path.name)
        blocks.extend(found)
    return Stack(blocks)


@pytest.fixture(scope="module")
def stack() -> Stack:
    return load_stack()


# ---------------------------------------------------------------------------------------------------------------------
# Evaluating the HCL expression subset the stack uses
# ---------------------------------------------------------------------------------------------------------------------


class EvalError(Exception):
    """What Terraform would report as an error evaluating the expression."""


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
}


class Evaluator:
    """Evaluates attributes of the stack for one set of variable values."""

    def __init__(self, stack: Stack, inputs: Mapping[str, Any], computed: Mapping[str, Any] = COMPUTED) -> None:
        self.stack = stack
        self.computed = computed
        self.vars: dict[str, Any] = {}
        for name, block in stack.variables.items():
            if name in inputs:
                self.vars[name] = inputs[name]
            elif "default" in block.attrs:
                self.vars[name] = self.value(block.attrs["default"])
        unknown = set(inputs) - set(stack.variables)
        assert not unknown, f"inputs for undeclared variables: {unknown}"
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
        raise EvalError(f"unknown reference {name!r}")

    def _var(self, name: str) -> Any:
        if name not in self.vars:
            raise EvalError(f"var.{name} is not declared or has no value")
        return self.vars[name]

    def _local(self, name: str) -> Any:
        if name not in self._locals:
            if name not in self._local_exprs:
                raise EvalError(f"local.{name} is not defined")
            self._locals[name] = self.value(self._local_exprs[name])
        return self._locals[name]

    def instances(self, kind: str, rtype: str, name: str) -> Any:
        """A resource or data source: one instance, or a list of instances when it has ``count``."""
        block = self.stack._find(kind, rtype, name)
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
                raise EvalError(f"unexpected expr_term {node}")
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
            return base[self.value(_trees(parts[1])[0], scope)]
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
        raise EvalError(f"the test's evaluator does not support {kind!r}; extend it")

    def _get_attr(self, base: Any, name: str) -> Any:
        if isinstance(base, _Namespace):
            return base.attr(name)
        if isinstance(base, dict):
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
            except (EvalError, KeyError, IndexError, TypeError, ValueError):
                return False
            return True
        if name not in FUNCTIONS:
            raise EvalError(f"the test's evaluator does not know function {name}(); extend it")
        return FUNCTIONS[name](*(self.value(a, scope) for a in args))

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
        }
        if op in ("&&", "||") and not (isinstance(left, bool) and isinstance(right, bool)):
            raise EvalError(f"{op} needs bools")
        if isinstance(left, int | float) and isinstance(right, int | float) and op in ("==", "!="):
            return (left == right) == (op == "==")
        return operations[op](left, right)

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


def evaluator(stack: Stack, mode: str = "config", **overrides: Any) -> Evaluator:
    return Evaluator(stack, {**REQUIRED_INPUTS, "logzio_region": "eu", **TOKEN_MODES[mode], **overrides})


def function_config(ev: Evaluator) -> dict[str, str]:
    config = ev.attr(ev.stack.resource("oci_functions_function", "forwarder"), "config")
    assert isinstance(config, dict)
    return config


# ---------------------------------------------------------------------------------------------------------------------
# The stack as a whole
# ---------------------------------------------------------------------------------------------------------------------


def test_every_file_parses_with_python_hcl2() -> None:
    files = sorted(TF_DIR.glob("*.tf")) + sorted(TF_DIR.glob("*.tfvars"))
    assert len(files) >= 5
    for path in files:
        with path.open() as handle:
            assert isinstance(hcl2.load(handle), dict), path


def test_uses_only_documented_oci_resources(stack: Stack) -> None:
    assert {b.labels[0] for b in stack.of("resource")} <= DOCUMENTED_RESOURCES
    assert {b.labels[0] for b in stack.of("data")} <= DOCUMENTED_DATA_SOURCES
    providers = {b.labels[0] for b in stack.of("provider")}
    assert providers == {"oci"}
    (terraform,) = stack.of("terraform")
    oci = Evaluator(stack, REQUIRED_INPUTS).value(terraform.one("required_providers").attrs["oci"])
    assert oci["source"] == "oracle/oci"


def test_identity_resources_are_written_in_the_home_region(stack: Stack) -> None:
    for block in stack.of("resource"):
        if block.labels[0].startswith("oci_identity_"):
            assert "provider" in block.attrs, f"{block.labels} must use provider = oci.home"
    ev = Evaluator(stack, {**REQUIRED_INPUTS, "home_region": "eu-frankfurt-1"})
    home = next(b for b in stack.of("provider") if "alias" in b.attrs)
    assert ev.attr(home, "region") == "eu-frankfurt-1"
    assert Evaluator(stack, REQUIRED_INPUTS).attr(home, "region") == "eu-amsterdam-1"


def test_variables_are_described_typed_and_all_used(stack: Stack) -> None:
    text = "\n".join(p.read_text() for p in TF_DIR.glob("*.tf"))
    referenced = set(re.findall(r"\bvar\.([a-z0-9_]+)", text))
    declared = stack.variables
    assert referenced <= set(declared), f"undeclared: {referenced - set(declared)}"
    form_only = {"network_compartment_ocid", "vcn_ocid"}
    assert set(declared) - referenced == form_only, "every variable but the form's pickers is used"
    for name, block in declared.items():
        assert "type" in block.attrs, name
        description = Evaluator(stack, REQUIRED_INPUTS).attr(block, "description")
        assert isinstance(description, str), name
        assert len(description) > 20, name
    required = {name for name, block in declared.items() if "default" not in block.attrs}
    assert required == set(REQUIRED_INPUTS)


def _dependency_graph() -> dict[str, set[str]]:
    """Every resource, data source and local -> what it references (expressions and ``depends_on``)."""
    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    ref = re.compile(r"\b(data\.oci_[a-z_]+\.[a-z0-9_]+|local\.[a-z0-9_]+|oci_[a-z_]+\.[a-z0-9_]+)")
    nodes: dict[str, Any] = {}
    for path in sorted(TF_DIR.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=options)
        for kind, prefix in (("resource", ""), ("data", "data.")):
            for entry in parsed.get(kind, []):
                for rtype, named in entry.items():
                    for name, body in named.items():
                        nodes[f"{prefix}{rtype}.{name}"] = body
        for entry in parsed.get("locals", []):
            for name, body in entry.items():
                nodes[f"local.{name}"] = body
    return {node: set(ref.findall(json.dumps(body))) - {node} for node, body in nodes.items()}


def test_references_resolve_and_have_no_cycle() -> None:
    graph = _dependency_graph()
    for node, refs in graph.items():
        assert refs <= set(graph), f"{node} references undeclared {refs - set(graph)}"
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"dependency cycle: {' -> '.join((*path, node))}"
        if node in done:
            return
        for dep in graph[node]:
            visit(dep, (*path, node))
        done.add(node)

    for node in graph:
        visit(node, ())


def test_names_default_to_the_seeds(stack: Stack) -> None:
    ev = Evaluator(stack, REQUIRED_INPUTS)
    for name, seed in SEED_NAMES.items():
        assert ev.vars[name] == seed
    assert ev.vars["retention_days"] == 3


def test_defaults_and_every_token_mode_pass_validation_and_preconditions(stack: Stack) -> None:
    for mode in TOKEN_MODES:
        ev = evaluator(stack, mode)
        assert ev.validation_errors() == [], mode
        assert ev.precondition_errors() == [], mode
    url = evaluator(stack, logzio_region="", logzio_url="listener-eu.logz.io:8071")
    assert url.validation_errors() == url.precondition_errors() == []


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"compartment_ocid": TENANCY}, "compartment_ocid"),
        ({"region": "AMS"}, "region"),
        ({"subnet_ocid": "subnet-1"}, "subnet_ocid"),
        ({"function_image": "logzio-from-bucket"}, "function_image"),
        ({"retention_days": 0}, "retention_days"),
        ({"retention_days": 1.5}, "retention_days"),
        ({"function_timeout_seconds": 301}, "function_timeout_seconds"),
        ({"function_memory_mb": 100}, "function_memory_mb"),
        ({"logzio_region": "de"}, "logzio_region"),
        ({"logzio_url": "https://listener.logz.io:8071/?token=abc"}, "logzio_url"),
        ({"logzio_type": "my type"}, "logzio_type"),
        ({"logzio_token": "abc def"}, "logzio_token"),
        ({"logzio_token_secret_ocid": "my-secret"}, "logzio_token_secret_ocid"),
        ({"state_prefix": "forwarder-state"}, "state_prefix"),
        ({"input_prefix": "/audit"}, "input_prefix"),
        ({"bucket_name": "my bucket"}, "bucket_name"),
        ({"batch_max_bytes": 20_000_000}, "batch_max_bytes"),
        ({"connector_batch_rollover_size_mbs": 500}, "connector_batch_rollover_size_mbs"),
        ({"application_shape": "ARM"}, "application_shape"),
    ],
)
def test_variable_validation_rejects(stack: Stack, overrides: dict[str, Any], fragment: str) -> None:
    errors = evaluator(stack, **overrides).validation_errors()
    assert any(e.startswith(fragment + ":") for e in errors), errors


@pytest.mark.parametrize(
    ("mode", "overrides", "fragment"),
    [
        ("config", {"logzio_token_secret_ocid": GIVEN_SECRET}, "Exactly one of logzio-token"),
        ("existing-secret", {"logzio_token": TOKEN}, "Exactly one of logzio-token"),
        ("config", {"logzio_token": ""}, "Exactly one of logzio-token"),
        ("new-secret", {"logzio_token_secret_ocid": GIVEN_SECRET}, "not both"),
        ("new-secret", {"vault_key_ocid": ""}, "vault_key_ocid"),
        ("config", {"logzio_url": "listener-eu.logz.io:8071"}, "logzio_region and logzio_url"),
        ("config", {"logzio_region": ""}, "logzio_region and logzio_url"),
        ("config", {"deadline_margin_seconds": 120, "function_timeout_seconds": 60}, "deadline_margin_seconds"),
        ("config", {"state_prefix": "audit/state/"}, "outside input_prefix"),
    ],
)
def test_preconditions_reject(stack: Stack, mode: str, overrides: dict[str, Any], fragment: str) -> None:
    errors = evaluator(stack, mode, **overrides).precondition_errors()
    assert any(fragment in e for e in errors), errors


def test_every_precondition_is_also_what_load_settings_would_refuse(stack: Stack) -> None:
    """Where a precondition guards a config rule, the code refuses the same thing (the two cannot drift)."""
    ev = evaluator(stack, "config", state_prefix="audit/state/")
    with pytest.raises(ConfigError, match="state-prefix"):
        load_settings(function_config(ev))


# ---------------------------------------------------------------------------------------------------------------------
# Bucket
# ---------------------------------------------------------------------------------------------------------------------


def test_bucket_is_private_standard_with_object_events(stack: Stack) -> None:
    ev = evaluator(stack)
    bucket = stack.resource("oci_objectstorage_bucket", "audit")
    assert ev.attr(bucket, "access_type") == "NoPublicAccess"
    assert ev.attr(bucket, "storage_tier") == "Standard"
    assert ev.attr(bucket, "object_events_enabled") is True
    assert ev.attr(bucket, "compartment_id") == COMPARTMENT
    assert ev.attr(bucket, "namespace") == NAMESPACE
    assert ev.attr(bucket, "name") == "logfile_download_bucket"


@pytest.mark.parametrize("days", [3, 14])
def test_lifecycle_deletes_input_and_state_objects_after_retention(stack: Stack, days: int) -> None:
    ev = evaluator(stack, retention_days=days)
    policy = stack.resource("oci_objectstorage_object_lifecycle_policy", "retention")
    assert ev.attr(policy, "bucket") == "logfile_download_bucket"
    (rule,) = policy.all("rules")
    assert ev.attr(rule, "action") == "DELETE"
    assert ev.attr(rule, "target") == "objects"
    assert ev.attr(rule, "is_enabled") is True
    assert ev.attr(rule, "time_unit") == "DAYS"
    assert ev.attr(rule, "time_amount") == days
    settings = load_settings(function_config(ev))
    prefixes = ev.attr(rule.one("object_name_filter"), "inclusion_prefixes")
    assert prefixes == [settings.input_prefix, settings.state_prefix] == ["audit", "forwarder-state/"]


# ---------------------------------------------------------------------------------------------------------------------
# Connector
# ---------------------------------------------------------------------------------------------------------------------


def _actions(condition: str) -> list[str]:
    """The request actions of a filter that is exactly a disjunction of ``data.request.action='X'``."""
    terms = condition.split(" or ")
    actions = []
    for term in terms:
        match = re.fullmatch(r"\(?data\.request\.action\s*=\s*'([A-Z]+)'\)?", term.strip())
        assert match, f"filter term {term!r} is not data.request.action='X'"
        actions.append(match.group(1))
    return actions


def test_connector_reads_audit_with_subcompartments_and_the_seed_filter(stack: Stack) -> None:
    ev = evaluator(stack)
    connector = stack.resource("oci_sch_service_connector", "audit_archive")
    assert ev.attr(connector, "display_name") == "Logfile_audit_archive_connector"
    source = connector.one("source")
    assert ev.attr(source, "kind") == "logging"
    (log_source,) = source.all("log_sources")
    assert ev.attr(log_source, "compartment_id") == TENANCY
    assert ev.attr(log_source, "log_group_id") == "_Audit_Include_Subcompartment"
    without = evaluator(stack, audit_include_subcompartments=False)
    assert without.attr(log_source, "log_group_id") == "_Audit"
    (task,) = connector.all("tasks")
    assert ev.attr(task, "kind") == "logRule"
    actions = _actions(ev.attr(task, "condition"))
    assert sorted(actions) == ["DELETE", "POST", "PUT"]
    assert len(actions) == len(set(actions))


def test_connector_target_is_this_bucket_under_the_input_prefix(stack: Stack) -> None:
    ev = evaluator(stack, input_prefix="audit-logs", connector_batch_rollover_time_ms=120000)
    target = stack.resource("oci_sch_service_connector", "audit_archive").one("target")
    settings = load_settings(function_config(ev))
    assert ev.attr(target, "kind") == "objectStorage"
    assert ev.attr(target, "bucket") == settings.input_bucket
    assert ev.attr(target, "namespace") == settings.namespace == NAMESPACE
    assert ev.attr(target, "object_name_prefix") == settings.input_prefix == "audit-logs"
    assert ev.attr(target, "batch_rollover_size_in_mbs") == 100
    assert ev.attr(target, "batch_rollover_time_in_ms") == 120000
    default = evaluator(stack)
    assert default.attr(target, "object_name_prefix") == Settings.input_prefix == "audit"


# ---------------------------------------------------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(TOKEN_MODES))
def test_function_config_is_what_the_code_reads(stack: Stack, mode: str) -> None:
    ev = evaluator(stack, mode)
    config = function_config(ev)
    assert set(config) <= set(KEYS), f"keys the code does not read: {set(config) - set(KEYS)}"
    assert all(isinstance(v, str) for v in config.values())
    settings = load_settings(config)  # every required key is set, and the values parse
    assert settings.input_bucket == "logfile_download_bucket"
    assert settings.namespace == NAMESPACE
    assert settings.listener_url == "https://listener-eu.logz.io:8071/"
    assert settings.input_prefix == "audit"
    assert settings.state_prefix == "forwarder-state/"
    assert settings.deadline_margin_s == 10.0
    if mode == "config":
        assert settings.token is not None
        assert settings.token.reveal() == TOKEN
        assert "logzio-token-secret-id" not in config
    else:
        assert "logzio-token" not in config
        assert TOKEN not in json.dumps(config), "the token must not reach the function config in a Vault mode"
        assert settings.token_secret_id == (CREATED_SECRET if mode == "new-secret" else GIVEN_SECRET)


def test_function_config_listener_by_url_and_optional_keys(stack: Stack) -> None:
    ev = evaluator(stack, logzio_region="", logzio_url="listener-uk.logz.io:8071", batch_max_bytes=2_000_000)
    config = function_config(ev)
    assert "logzio-region" not in config
    settings = load_settings(config)
    assert settings.listener_url == "https://listener-uk.logz.io:8071/"
    assert settings.batch_max_bytes == 2_000_000
    assert "batch-max-bytes" not in function_config(evaluator(stack))


def test_function_resources_and_limits(stack: Stack) -> None:
    ev = evaluator(stack)
    app = stack.resource("oci_functions_application", "logzio")
    fn = stack.resource("oci_functions_function", "forwarder")
    assert ev.attr(app, "display_name") == "logzio"
    assert ev.attr(app, "subnet_ids") == [SUBNET]
    assert ev.attr(fn, "display_name") == "logzio-from-bucket"
    assert ev.attr(fn, "image") == REQUIRED_INPUTS["function_image"]
    assert ev.attr(fn, "memory_in_mbs") == 256
    assert ev.attr(fn, "timeout_in_seconds") == 300
    settings = load_settings(function_config(ev))
    assert settings.deadline_margin_s < ev.attr(fn, "timeout_in_seconds")


def _func_yaml() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    loaded = yaml.safe_load((ROOT / "func.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_func_yaml_matches_the_stack(stack: Stack) -> None:
    func = _func_yaml()
    ev = evaluator(stack)
    assert func["name"] == ev.vars["function_name"]
    assert func["runtime"] == "python"
    assert func["memory"] == ev.vars["function_memory_mb"] == 256
    assert func["timeout"] == ev.vars["function_timeout_seconds"] == 300
    assert func["entrypoint"] == "/python/bin/fdk /function/func.py handler"
    assert (ROOT / "func.py").is_file()
    build = re.fullmatch(r"fnproject/python:(3\.\d+)-dev", func["build_image"])
    run = re.fullmatch(r"fnproject/python:(3\.\d+)", func["run_image"])
    assert build
    assert run
    assert build.group(1) == run.group(1)
    assert tuple(int(x) for x in run.group(1).split(".")) >= (3, 11), "pyproject requires Python 3.11+"


def _funcignore_patterns() -> list[str]:
    lines = (ROOT / ".funcignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(p, pattern[3:]) for p in parts):
                return True
        elif fnmatch.fnmatch(parts[0], pattern) or fnmatch.fnmatch(path, pattern):
            return True
    return False


def _project_files() -> list[str]:
    git = shutil.which("git")
    if git and (ROOT / ".git").exists():
        listed = subprocess.run(
            [git, "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return [p for p in listed if (ROOT / p).exists()]
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]


def test_funcignore_keeps_only_what_runs() -> None:
    patterns = _funcignore_patterns()
    kept = {p for p in _project_files() if not _ignored(p, patterns)}
    runtime = {"func.py", "func.yaml", "requirements.txt", ".funcignore", "LICENSE", "NOTICE"}
    assert {"func.py", "func.yaml", "requirements.txt"} <= kept
    assert any(p.startswith("logzio_forwarder/") for p in kept)
    extra = {p for p in kept if p not in runtime and not p.startswith("logzio_forwarder/")}
    assert not extra, f"the image would hold files that do not run: {sorted(extra)}"
    for never in ("tests/test_vault.py", "standins/secrets.py", "bench/__init__.py", "deploy/terraform/main.tf"):
        assert _ignored(never, patterns), never


# ---------------------------------------------------------------------------------------------------------------------
# Events rule
# ---------------------------------------------------------------------------------------------------------------------


def _matches(condition: Any, event: Any) -> bool:
    """OCI Events matching: every key of the condition is in the event; a list means any one of its values."""
    if isinstance(condition, dict):
        return isinstance(event, dict) and all(k in event and _matches(v, event[k]) for k, v in condition.items())
    if isinstance(condition, list):
        return any(_matches(c, event) for c in condition)
    return bool(condition == event)


def _event(fixture: str, bucket: str, compartment: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{fixture}.json").read_text())
    event["data"]["additionalDetails"]["bucketName"] = bucket
    event["data"]["compartmentId"] = compartment
    return event


def test_rule_matches_exactly_the_events_the_handler_forwards(stack: Stack) -> None:
    ev = evaluator(stack)
    rule = stack.resource("oci_events_rule", "object_created")
    assert ev.attr(rule, "display_name") == "Process audit file from audit bucket"
    assert ev.attr(rule, "is_enabled") is True
    condition = json.loads(ev.attr(rule, "condition"))
    assert condition["eventType"] == [CREATE_OBJECT]
    settings = load_settings(function_config(ev))
    assert condition["data"]["additionalDetails"]["bucketName"] == [settings.input_bucket]
    assert condition["data"]["compartmentId"] == [COMPARTMENT]

    ours = _event("createobject", settings.input_bucket, COMPARTMENT)
    assert _matches(condition, ours)
    command = parse_command(json.dumps(ours).encode(), settings)
    assert isinstance(command, ForwardObjects), command
    for other in (
        _event("createobject", "another_bucket", COMPARTMENT),
        _event("createobject", settings.input_bucket, "ocid1.compartment.oc1..aaaaaaaaother"),
        _event("deleteobject", settings.input_bucket, COMPARTMENT),
    ):
        assert not _matches(condition, other)


def test_rule_action_invokes_the_function(stack: Stack) -> None:
    ev = evaluator(stack)
    rule = stack.resource("oci_events_rule", "object_created")
    (action,) = rule.one("actions").all("actions")
    assert ev.attr(action, "action_type") == "FAAS"
    assert ev.attr(action, "is_enabled") is True
    assert ev.attr(action, "function_id") == FUNCTION_ID
    assert ev.attr(rule, "compartment_id") == COMPARTMENT


# ---------------------------------------------------------------------------------------------------------------------
# IAM
# ---------------------------------------------------------------------------------------------------------------------

STATEMENT = re.compile(
    r"^Allow (?P<subject>any-user|service [\w-]+|dynamic-group [\w.-]+|group [\w.-]+) "
    r"to (?P<verb>inspect|read|use|manage) (?P<resource>[\w-]+) "
    r"in (?P<scope>tenancy|compartment id (?P<compartment>ocid1\.[\w.-]+))"
    r"(?: where (?P<where>.+))?$"
)
NARROWED_BY = {
    "objects": "target.bucket.name",
    "object-family": "target.bucket.name",
    "buckets": "target.bucket.name",
    "secret-bundles": "target.secret.id",
    "secrets": "target.secret.id",
    "secret-family": "target.secret.id",
    "repos": "target.repo.name",
}
"""Resource types a where-clause can narrow to one bucket, secret or repository: it must."""
NOT_NARROWABLE = {
    ("service cloudEvents", "use", "functions-family"),
    ("service faas", "use", "virtual-network-family"),
    ("group function_admins", "read", "objectstorage-namespaces"),
}
"""The only other statements allowed (subject, verb, resource type)."""


def _statements(ev: Evaluator) -> list[str]:
    statements: list[str] = []
    for policy in ev.stack.resources_of("oci_identity_policy"):
        if ev.count(policy):
            assert ev.attr(policy, "compartment_id") == TENANCY
            statements.extend(ev.attr(policy, "statements"))
    return statements


def _all_modes(stack: Stack) -> Iterator[tuple[str, Evaluator]]:
    for mode in TOKEN_MODES:
        yield mode, evaluator(stack, mode, create_ocir_push_user=True)


def test_every_policy_statement_is_narrowed_to_this_bucket_or_secret(stack: Stack) -> None:
    for mode, ev in _all_modes(stack):
        expected = {
            "target.bucket.name": "logfile_download_bucket",
            "target.secret.id": CREATED_SECRET if mode == "new-secret" else GIVEN_SECRET,
            "target.repo.name": "logzio/logzio-from-bucket",
        }
        statements = _statements(ev)
        assert statements
        for statement in statements:
            match = STATEMENT.match(statement)
            assert match, f"unrecognised statement: {statement}"
            subject, verb, resource = match["subject"], match["verb"], match["resource"]
            assert resource != "all-resources", statement
            if match["scope"] == "tenancy":
                assert resource == "objectstorage-namespaces", f"tenancy-wide: {statement}"
            else:
                allowed = {COMPARTMENT, NETWORK_COMPARTMENT, SECRET_COMPARTMENT}
                assert match["compartment"] in allowed, statement
            if resource in NARROWED_BY:
                variable = NARROWED_BY[resource]
                assert match["where"], f"not narrowed: {statement}"
                assert f"{variable} = '{expected[variable]}'" in match["where"], statement
            else:
                assert (subject, verb, resource) in NOT_NARROWABLE, statement
            if subject == "any-user":
                assert "request.principal.type = 'serviceconnector'" in (match["where"] or ""), statement
                assert f"request.principal.compartment.id = '{COMPARTMENT}'" in (match["where"] or ""), statement


def test_each_principal_gets_only_its_grant(stack: Stack) -> None:
    ev = evaluator(stack, "existing-secret")
    by_subject: dict[str, list[tuple[str, str]]] = {}
    for statement in _statements(ev):
        match = STATEMENT.match(statement)
        assert match
        by_subject.setdefault(match["subject"], []).append((match["verb"], match["resource"]))
    dg = "dynamic-group logzio-from-bucket-fn"
    assert sorted(by_subject[dg]) == [("manage", "objects"), ("read", "secret-bundles")]
    assert by_subject["any-user"] == [("manage", "objects")]  # the connector, by the where-clause
    assert by_subject["service cloudEvents"] == [("use", "functions-family")]
    assert by_subject["service objectstorage-eu-amsterdam-1"] == [("manage", "object-family")]
    assert by_subject["service faas"] == [("use", "virtual-network-family")]
    assert not any(s.startswith("group ") for s in by_subject), "the OCIR push identity is optional, off by default"
    config_mode = [s for s in _statements(evaluator(stack, "config")) if "secret" in s]
    assert config_mode == [], "no Vault grant when the token is in the function config"


def test_dynamic_group_matches_only_this_function(stack: Stack) -> None:
    ev = evaluator(stack)
    group = stack.resource("oci_identity_dynamic_group", "function")
    assert ev.attr(group, "compartment_id") == TENANCY
    rule = ev.attr(group, "matching_rule")
    assert rule == f"ALL {{resource.type = 'fnfunc', resource.id = '{FUNCTION_ID}'}}"


def test_ocir_push_identity_is_optional_and_auth_token_only(stack: Stack) -> None:
    off = evaluator(stack)
    ocir_types = (
        "oci_identity_user",
        "oci_identity_group",
        "oci_identity_user_group_membership",
        "oci_identity_user_capabilities_management",
        "oci_artifacts_container_repository",
    )
    for rtype in ocir_types:
        for block in stack.resources_of(rtype):
            assert off.count(block) == 0, block.labels
    on = evaluator(stack, create_ocir_push_user=True)
    assert on.attr(stack.resource("oci_identity_user", "ocir"), "name") == "logzio_user"
    assert on.attr(stack.resource("oci_identity_group", "ocir"), "name") == "function_admins"
    assert on.attr(stack.resource("oci_identity_policy", "ocir"), "name") == "Functions_Repo_Policy"
    caps = stack.resource("oci_identity_user_capabilities_management", "ocir")
    flags = {k: on.attr(caps, k) for k in caps.attrs if k.startswith("can_use_")}
    assert flags == {
        "can_use_api_keys": False,
        "can_use_auth_tokens": True,
        "can_use_console_password": False,
        "can_use_customer_secret_keys": False,
        "can_use_smtp_credentials": False,
    }
    assert on.attr(stack.resource("oci_artifacts_container_repository", "function"), "is_public") is False


# ---------------------------------------------------------------------------------------------------------------------
# Vault secret
# ---------------------------------------------------------------------------------------------------------------------


def test_vault_secret_is_created_only_in_new_secret_mode(stack: Stack) -> None:
    secret = stack.resource("oci_vault_secret", "logzio_token")
    assert evaluator(stack, "config").count(secret) == 0
    assert evaluator(stack, "existing-secret").count(secret) == 0
    ev = evaluator(stack, "new-secret")
    assert ev.count(secret) == 1
    content = secret.one("secret_content")
    assert ev.attr(content, "content_type") == "BASE64"
    assert base64.b64decode(ev.attr(content, "content")).decode() == TOKEN
    assert ev.attr(secret, "vault_id") == TOKEN_MODES["new-secret"]["vault_ocid"]
    assert ev.attr(secret, "key_id") == TOKEN_MODES["new-secret"]["vault_key_ocid"]
    assert stack.variables["logzio_token"].attrs.get("sensitive") is not None
    assert Evaluator(stack, REQUIRED_INPUTS).attr(stack.variables["logzio_token"], "sensitive") is True


# ---------------------------------------------------------------------------------------------------------------------
# Outputs, example tfvars, Resource Manager schema, stack zip, Makefile helpers
# ---------------------------------------------------------------------------------------------------------------------


def test_outputs(stack: Stack) -> None:
    outputs = {b.labels[0]: b for b in stack.of("output")}
    assert {"bucket_name", "function_id", "events_rule_id", "service_connector_id", "token_secret_id"} <= set(outputs)
    ev = evaluator(stack, "new-secret")
    assert ev.attr(outputs["bucket_name"], "value") == "logfile_download_bucket"
    assert ev.attr(outputs["function_id"], "value") == FUNCTION_ID
    assert ev.attr(outputs["token_secret_id"], "value") == CREATED_SECRET
    for block in outputs.values():
        assert ev.attr(block, "description")


def _tfvars(path: Path) -> dict[str, Any]:
    attrs, blocks = _body(_trees(hcl2.parses_to_tree(path.read_text()))[0], path.name)
    assert not blocks
    stack = load_stack()
    ev = Evaluator(stack, REQUIRED_INPUTS)
    return {name: ev.value(expr) for name, expr in attrs.items()}


def test_example_tfvars_is_complete_and_valid(stack: Stack) -> None:
    values = _tfvars(TF_DIR / "example.tfvars")
    assert set(values) <= set(stack.variables)
    assert set(REQUIRED_INPUTS) <= set(values)
    ev = Evaluator(stack, values)
    assert ev.validation_errors() == []
    assert ev.precondition_errors() == []
    load_settings(function_config(ev))


def test_resource_manager_schema_covers_the_variables(stack: Stack) -> None:
    yaml = pytest.importorskip("yaml")
    schema = yaml.safe_load((TF_DIR / "schema.yaml").read_text())
    grouped = [name for group in schema["variableGroups"] for name in group["variables"]]
    assert len(grouped) == len(set(grouped)), "a variable is in two groups"
    assert set(grouped) == set(stack.variables)
    assert set(schema["variables"]) <= set(stack.variables)
    filled_by_rm = {"tenancy_ocid", "region", "compartment_ocid"}
    for name, block in stack.variables.items():
        if "default" not in block.attrs and name not in filled_by_rm:
            assert schema["variables"][name]["required"] is True, name
    assert schema["variables"]["logzio_token"]["type"] == "password"
    ev = Evaluator(stack, REQUIRED_INPUTS)
    for name, spec in schema["variables"].items():
        if "default" in spec:
            default = ev.vars[name]
            assert str(spec["default"]).lower() == _tf_str(default).lower(), name


def _fnctl() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fnctl", ROOT / "deploy" / "fnctl.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_stack_zips_the_terraform_for_resource_manager(tmp_path: Path) -> None:
    out = tmp_path / "stack.zip"
    names = _fnctl().build_stack(out)
    with zipfile.ZipFile(out) as archive:
        listed = sorted(archive.namelist())
        assert listed == names
        assert "schema.yaml" in listed
        assert sorted(n for n in listed if n.endswith(".tf")) == sorted(p.name for p in TF_DIR.glob("*.tf"))
        assert not [n for n in listed if "tfvars" in n or "/" in n or n.endswith(".tfstate")]
        for name in listed:
            if name.endswith(".tf"):
                assert isinstance(hcl2.loads(archive.read(name).decode()), dict)
    _fnctl().build_stack(tmp_path / "again.zip")
    assert out.read_bytes() == (tmp_path / "again.zip").read_bytes(), "the zip is reproducible"


def _make_targets() -> dict[str, list[str]]:
    targets: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("\t") and current is not None:
            current.append(line.strip())
            continue
        match = re.match(r"^([a-z][\w-]*):(?!=)", line)
        current = targets.setdefault(match.group(1), []) if match else None
    return targets


def test_makefile_deploy_targets() -> None:
    targets = _make_targets()
    assert targets["deploy"] == ["fn -v deploy --app $(APP)"]
    assert any("deploy/fnctl.py stack deploy/stack.zip" in line for line in targets["stack"])
    assert any("deploy/fnctl.py configure --app $(APP) --fn $(FN)" in line for line in targets["configure"])
    assert any("deploy/fnctl.py replay --app $(APP) --fn $(FN)" in line for line in targets["replay"])


def test_configure_sets_the_stacks_config_and_never_prints_the_token(stack: Stack) -> None:
    fnctl = _fnctl()
    config = function_config(evaluator(stack, "config"))
    environ = {fnctl.env_name(key): value for key, value in config.items()}
    commands = fnctl.config_commands("logzio", "logzio-from-bucket", environ)
    sets = {c[5]: c[6] for c in commands if c[1] == "config"}
    assert sets == config
    deletes = {c[6] for c in commands if c[1] == "delete"}
    assert deletes == {"logzio-token-secret-id", "logzio-url"}
    setting = ["fn", "config", "function", "logzio", "logzio-from-bucket"]
    deleting = ["fn", "delete", "config", "function", "logzio", "logzio-from-bucket"]
    for command in commands:
        assert command[:5] == setting or command[:6] == deleting, command
        assert TOKEN not in fnctl.shown(command)
    with pytest.raises(ConfigError, match="logzio-token"):
        fnctl.config_commands("logzio", "logzio-from-bucket", {"INPUT_BUCKET": "b", "LOGZIO_REGION": "eu"})


def test_replay_payloads_are_what_the_handler_accepts(stack: Stack) -> None:
    fnctl = _fnctl()
    settings = load_settings(function_config(evaluator(stack)))
    replay = fnctl.replay_payload("audit/", [])
    assert json.loads(replay) == {"replay": {"prefix": "audit/"}}
    command = parse_command(replay.encode(), settings)
    assert isinstance(command, Replay)
    assert command.prefix == "audit/"
    objects = fnctl.replay_payload(None, ["audit/a.log.gz", "audit/b.log.gz"])
    command = parse_command(objects.encode(), settings)
    assert isinstance(command, ForwardObjects)
    assert command.names == ("audit/a.log.gz", "audit/b.log.gz")
    assert not isinstance(command, Ignore)
