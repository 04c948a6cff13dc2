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
import importlib.util
import json
import math
import re
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
from logzio_forwarder.metrics import DIMENSIONS, METRIC_NAMES

ROOT = Path(__file__).resolve().parent.parent
TF_DIR = ROOT / "deploy" / "terraform"
REGISTRY_DIR = TF_DIR / "registry"
EVENTS = ROOT / "tests" / "fixtures" / "events"

TENANCY = "ocid1.tenancy.oc1..aaaaaaaastandintenancy"
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandincompartment"
NETWORK_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandinnetwork"
SECRET_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandinsecrets"
SUBNET = "ocid1.subnet.oc1.eu-amsterdam-1.aaaaaaaastandinsubnet"
NAMESPACE = "standinns"
FUNCTION_ID = "ocid1.fnfunc.oc1.eu-amsterdam-1.aaaaaaaastandinfunction"
TOPIC_ID = "ocid1.onstopic.oc1.eu-amsterdam-1.aaaaaaaastandintopic"
HOME_REGION = "eu-frankfurt-1"
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
    "data.oci_identity_region_subscriptions.this.region_subscriptions": [
        {"region_name": "eu-amsterdam-1", "region_key": "AMS", "is_home_region": False},
        {"region_name": HOME_REGION, "region_key": "FRA", "is_home_region": True},
    ],
    "oci_ons_notification_topic.alarms.id": TOPIC_ID,
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
    "oci_vault_secret",
    "oci_ons_notification_topic",
    "oci_ons_subscription",
    "oci_monitoring_alarm",
    "oci_logging_log_group",
    "oci_logging_log",
}
DOCUMENTED_DATA_SOURCES = {
    "oci_objectstorage_namespace",
    "oci_vault_secret",
    "oci_core_subnet",
    "oci_identity_region_subscriptions",
}
REGISTRY_RESOURCES = {
    "oci_artifacts_container_repository",
    "oci_identity_user",
    "oci_identity_user_capabilities_management",
    "oci_identity_group",
    "oci_identity_user_group_membership",
    "oci_identity_policy",
}
"""The separate registry stack (deploy/terraform/registry): the push identity must exist before the image does."""


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


def load_stack(directory: Path = TF_DIR) -> Stack:
    blocks: list[Block] = []
    for path in sorted(directory.glob("*.tf")):
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
    "join": lambda sep, items: sep.join(_tf_str(i) for i in items),
    "concat": lambda *lists: [item for items in lists for item in items],
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
            "%": lambda a, b: a % b,
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


@pytest.mark.parametrize("directory", [TF_DIR, REGISTRY_DIR], ids=["forwarder", "registry"])
def test_identity_resources_are_written_in_the_home_region(directory: Path) -> None:
    """IAM writes fail outside the home region: a stack in another region must still find it on its own."""
    stack = load_stack(directory)
    for block in stack.of("resource"):
        if block.labels[0].startswith("oci_identity_"):
            assert ev_str(block.attrs.get("provider")) == "oci.home", f"{block.labels} must use provider = oci.home"
    inputs = {name: value for name, value in REQUIRED_INPUTS.items() if name in stack.variables}
    home = next(b for b in stack.of("provider") if "alias" in b.attrs)
    derived = Evaluator(stack, inputs)
    assert derived.vars["region"] == "eu-amsterdam-1"
    assert derived.attr(home, "region") == HOME_REGION, "derived from the region subscriptions (is_home_region)"
    assert Evaluator(stack, {**inputs, "home_region": "eu-zurich-1"}).attr(home, "region") == "eu-zurich-1"
    outputs = {b.labels[0]: b for b in stack.of("output")}
    assert derived.attr(outputs["home_region"], "value") == HOME_REGION


def ev_str(node: Tree[Any] | None) -> str:
    """An attribute written as a bare reference (``provider = oci.home``), as text."""
    assert node is not None
    return ".".join(str(t) for t in node.scan_values(lambda v: isinstance(v, Token) and v.type == "NAME"))


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
        ({"home_region": "FRA"}, "home_region"),
        ({"bucket_kms_key_ocid": "ocid1.vault.oc1..x"}, "bucket_kms_key_ocid"),
        ({"catch_up": "yes"}, "catch_up"),
        ({"catch_up_after_seconds": 0}, "catch_up_after_seconds"),
        ({"metrics": "true"}, "metrics"),
        ({"metrics_namespace": "oci_logzio"}, "metrics_namespace"),
        ({"metrics_namespace": "Oracle_logzio"}, "metrics_namespace"),
        ({"metrics_namespace": "logzio-forwarder"}, "metrics_namespace"),
        ({"metrics_compartment_ocid": TENANCY}, "metrics_compartment_ocid"),
        ({"monitoring_endpoint": "http://telemetry-ingestion.eu-amsterdam-1.oraclecloud.com"}, "monitoring_endpoint"),
        ({"alarm_email": "oncall-at-example.com"}, "alarm_email"),
        ({"alarm_topic_name": "logzio alarms"}, "alarm_topic_name"),
        ({"silence_alarm_minutes": 90}, "silence_alarm_minutes"),
        ({"silence_alarm_minutes": 4}, "silence_alarm_minutes"),
        ({"silence_alarm_minutes": 1500}, "silence_alarm_minutes"),
        ({"delivery_lag_alarm_seconds": 30}, "delivery_lag_alarm_seconds"),
        ({"log_group_name": "logzio logs"}, "log_group_name"),
        ({"function_log_retention_days": 45}, "function_log_retention_days"),
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
        ("config", {"metrics": "off"}, "create_alarms = false"),
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
    default = function_config(evaluator(stack))
    assert "batch-max-bytes" not in default
    optional = ("catch-up", "catch-up-after-seconds", "metrics", "metrics-compartment-id", "monitoring-endpoint")
    assert not set(optional) & set(default), "the forwarder's own defaults apply unless a variable is set"
    assert default["metrics-namespace"] == "logzio_forwarder", "always set: the alarms and the IAM grant name it"


def test_function_config_catch_up_and_metrics_keys(stack: Stack) -> None:
    endpoint = "https://telemetry-ingestion.eu-frankfurt-1.oraclecloud.com"
    ev = evaluator(
        stack,
        catch_up="off",
        catch_up_after_seconds=1800,
        metrics="on",
        metrics_namespace="audit_prod",
        metrics_compartment_ocid=METRICS_COMPARTMENT,
        monitoring_endpoint=endpoint,
    )
    settings = load_settings(function_config(ev))
    assert settings.catch_up is False
    assert settings.catch_up_after_s == 1800
    assert settings.metrics is True
    assert settings.metrics_namespace == "audit_prod"
    assert settings.metrics_compartment_id == METRICS_COMPARTMENT
    assert settings.monitoring_endpoint == endpoint


def test_every_metrics_namespace_the_stack_accepts_the_code_accepts_too(stack: Stack) -> None:
    for namespace in ("logzio_forwarder", "A", "audit_Prod_2", "oci_x", "ORACLE_x", "2fast", "with-dash", "ocix"):
        ev = evaluator(stack, metrics_namespace=namespace)
        accepted = not [e for e in ev.validation_errors() if e.startswith("metrics_namespace:")]
        try:
            load_settings(function_config(ev))
        except ConfigError:
            assert not accepted, namespace
        else:
            assert accepted, namespace


def test_function_log_is_the_applications_invocation_log(stack: Stack) -> None:
    ev = evaluator(stack, function_log_retention_days=90)
    log = stack.resource("oci_logging_log", "invocations")
    source = log.one("configuration").one("source")
    assert ev.attr(source, "service") == "functions"
    assert ev.attr(source, "category") == "invoke"
    assert ev.attr(source, "resource") == "<oci_functions_application.logzio.id>"
    assert ev.attr(log, "retention_duration") == 90
    assert ev.attr(log, "display_name") == "logzio-invoke"


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
    assert func["memory"] == ev.vars["function_memory_mb"] == 256
    assert func["timeout"] == ev.vars["function_timeout_seconds"] == 300
    # How the image is built (runtime, Dockerfile, what it holds): tests/test_image.py.


# ---------------------------------------------------------------------------------------------------------------------
# Events rule
# ---------------------------------------------------------------------------------------------------------------------


def _matches(condition: Any, event: Any) -> bool:
    """OCI Events matching: every key of the condition is in the event; a list means any one of its values; in a
    string, ``*`` matches any run of characters (the documented wildcard)."""
    if isinstance(condition, dict):
        return isinstance(event, dict) and all(k in event and _matches(v, event[k]) for k, v in condition.items())
    if isinstance(condition, list):
        return any(_matches(c, event) for c in condition)
    if isinstance(condition, str) and "*" in condition:
        pattern = ".*".join(re.escape(part) for part in condition.split("*"))
        return isinstance(event, str) and re.fullmatch(pattern, event, re.DOTALL) is not None
    return bool(condition == event)


def _event(fixture: str, bucket: str, compartment: str, name: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{fixture}.json").read_text())
    event["data"]["additionalDetails"]["bucketName"] = bucket
    event["data"]["compartmentId"] = compartment
    if name is not None:
        event["data"]["resourceName"] = name
    return event


CONNECTOR_OBJECT = "ocid1.serviceconnector.oc1.eu-amsterdam-1.x/20261101T095300Z_20261101T100000Z.0.log.gz"


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
        _event("createobject-outside-prefix", settings.input_bucket, COMPARTMENT),
    ):
        assert not _matches(condition, other)


@pytest.mark.parametrize(("input_prefix", "state_prefix"), [("audit", "forwarder-state/"), ("logs/audit/", "state/")])
def test_rule_invokes_the_function_only_for_objects_it_forwards(
    stack: Stack, input_prefix: str, state_prefix: str
) -> None:
    """Every progress object the forwarder writes would otherwise cost an invocation that is then ignored."""
    ev = evaluator(stack, input_prefix=input_prefix, state_prefix=state_prefix)
    condition = json.loads(ev.attr(stack.resource("oci_events_rule", "object_created"), "condition"))
    settings = load_settings(function_config(ev))
    names = {
        f"{input_prefix}/{CONNECTOR_OBJECT}".replace("//", "/"): True,
        f"{state_prefix}{input_prefix}/{CONNECTOR_OBJECT}".replace("//", "/"): False,
        f"{state_prefix}progress.json": False,
        f"exports/{CONNECTOR_OBJECT}": False,
        f"x{input_prefix}/{CONNECTOR_OBJECT}": False,
    }
    for name, forwarded in names.items():
        event = _event("createobject", settings.input_bucket, COMPARTMENT, name)
        command = parse_command(json.dumps(event).encode(), settings)
        assert isinstance(command, ForwardObjects) == forwarded, (name, command)
        assert _matches(condition, event) == forwarded, name


def test_rule_action_invokes_the_function(stack: Stack) -> None:
    ev = evaluator(stack)
    rule = stack.resource("oci_events_rule", "object_created")
    actions = rule.one("actions")
    assert not actions.all("actions"), "the inner actions block is deprecated since provider 8.22.0: use action"
    (action,) = actions.all("action")
    assert ev.attr(action, "action_type") == "FAAS"
    assert ev.attr(action, "is_enabled") is True
    assert ev.attr(action, "function_id") == FUNCTION_ID
    assert ev.attr(rule, "compartment_id") == COMPARTMENT


def test_provider_version_allows_only_releases_with_every_argument_used() -> None:
    """shape on the application exists from 5.2.0, the events rule's action block from 8.22.0; 9.x may break."""
    for directory in (TF_DIR, REGISTRY_DIR):
        stack = load_stack(directory)
        (terraform,) = stack.of("terraform")
        oci = Evaluator(stack, {}).value(terraform.one("required_providers").attrs["oci"])
        assert oci["source"] == "oracle/oci"
        assert oci["version"] == ">= 8.22.0, < 9.0.0", directory


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
    "metrics": "target.metrics.namespace",
    "keys": "target.key.id",
}
"""Resource types a where-clause can narrow to one bucket, secret, repository, metric namespace or key: it must."""
NOT_NARROWABLE = {
    ("service cloudEvents", "use", "functions-family"),
    ("service faas", "use", "virtual-network-family"),
    ("group function_admins", "read", "objectstorage-namespaces"),
}
"""The only other statements allowed (subject, verb, resource type)."""
TENANCY_WIDE = {"objectstorage-namespaces", "keys"}
"""Resource types granted in the tenancy: the namespace name (not narrowable), and one key by its OCID (the key's
compartment is not known to the stack)."""
BUCKET_KEY = "ocid1.key.oc1.eu-amsterdam-1.aaaaaaaastandinbucketkey"
METRICS_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandinmetrics"


def _statements(ev: Evaluator) -> list[str]:
    statements: list[str] = []
    for policy in ev.stack.resources_of("oci_identity_policy"):
        if ev.count(policy):
            assert ev.attr(policy, "compartment_id") == TENANCY
            statements.extend(ev.attr(policy, "statements"))
    return statements


def _all_variants(stack: Stack) -> Iterator[tuple[str, Evaluator]]:
    """Every token mode, with every optional grant on; and the registry stack."""
    for mode in TOKEN_MODES:
        yield mode, evaluator(stack, mode, bucket_kms_key_ocid=BUCKET_KEY, metrics_namespace="audit_prod")
    registry = load_stack(REGISTRY_DIR)
    yield "registry", Evaluator(registry, {k: v for k, v in REQUIRED_INPUTS.items() if k in registry.variables})


def test_every_policy_statement_is_narrowed(stack: Stack) -> None:
    for mode, ev in _all_variants(stack):
        expected = {
            "target.bucket.name": "logfile_download_bucket",
            "target.secret.id": CREATED_SECRET if mode == "new-secret" else GIVEN_SECRET,
            "target.repo.name": "logzio/logzio-from-bucket",
            "target.metrics.namespace": "audit_prod",
            "target.key.id": BUCKET_KEY,
        }
        statements = _statements(ev)
        assert statements
        for statement in statements:
            match = STATEMENT.match(statement)
            assert match, f"unrecognised statement: {statement}"
            subject, verb, resource = match["subject"], match["verb"], match["resource"]
            assert resource != "all-resources", statement
            if match["scope"] == "tenancy":
                assert resource in TENANCY_WIDE, f"tenancy-wide: {statement}"
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


def _grants(ev: Evaluator) -> dict[str, list[tuple[str, str]]]:
    by_subject: dict[str, list[tuple[str, str]]] = {}
    for statement in _statements(ev):
        match = STATEMENT.match(statement)
        assert match
        by_subject.setdefault(match["subject"], []).append((match["verb"], match["resource"]))
    return by_subject


def test_each_principal_gets_only_its_grant(stack: Stack) -> None:
    by_subject = _grants(evaluator(stack, "existing-secret"))
    dg = "dynamic-group logzio-from-bucket-fn"
    assert sorted(by_subject[dg]) == [("manage", "objects"), ("read", "secret-bundles"), ("use", "metrics")]
    assert by_subject["any-user"] == [("manage", "objects")]  # the connector, by the where-clause
    assert by_subject["service cloudEvents"] == [("use", "functions-family")]
    assert by_subject["service objectstorage-eu-amsterdam-1"] == [("manage", "object-family")]
    assert by_subject["service faas"] == [("use", "virtual-network-family")]
    assert not any(s.startswith("group ") for s in by_subject), "the OCIR push identity is a stack of its own"
    config_mode = [s for s in _statements(evaluator(stack, "config")) if "secret" in s]
    assert config_mode == [], "no Vault grant when the token is in the function config"
    keyed = _grants(evaluator(stack, bucket_kms_key_ocid=BUCKET_KEY))
    assert keyed["service objectstorage-eu-amsterdam-1"] == [("manage", "object-family"), ("use", "keys")]


def test_function_may_post_exactly_where_its_config_says(stack: Stack) -> None:
    """PostMetricData needs `use metrics` in the compartment and namespace the code posts to, and only there."""
    for overrides in ({}, {"metrics_namespace": "audit_prod", "metrics_compartment_ocid": METRICS_COMPARTMENT}):
        ev = evaluator(stack, **overrides)
        settings = load_settings(function_config(ev))
        compartment = settings.metrics_compartment_id or COMPARTMENT  # default: the function's own compartment
        (statement,) = [s for s in _statements(ev) if " metrics " in s]
        assert statement == (
            f"Allow dynamic-group logzio-from-bucket-fn to use metrics in compartment id {compartment} "
            f"where target.metrics.namespace = '{settings.metrics_namespace}'"
        )
    off = evaluator(stack, metrics="off", create_alarms=False)
    assert load_settings(function_config(off)).metrics is False
    assert not [s for s in _statements(off) if " metrics " in s], "no grant when the function posts no metrics"


def test_dynamic_group_matches_only_this_function(stack: Stack) -> None:
    ev = evaluator(stack)
    group = stack.resource("oci_identity_dynamic_group", "function")
    assert ev.attr(group, "compartment_id") == TENANCY
    rule = ev.attr(group, "matching_rule")
    assert rule == f"ALL {{resource.type = 'fnfunc', resource.id = '{FUNCTION_ID}'}}"


def test_bucket_key_is_optional_and_granted_before_the_bucket(stack: Stack) -> None:
    bucket = stack.resource("oci_objectstorage_bucket", "audit")
    policy = stack.resource("oci_identity_policy", "bucket_key")
    assert evaluator(stack).attr(bucket, "kms_key_id") is None
    assert evaluator(stack).count(policy) == 0
    keyed = evaluator(stack, bucket_kms_key_ocid=BUCKET_KEY)
    assert keyed.attr(bucket, "kms_key_id") == BUCKET_KEY
    assert keyed.count(policy) == 1
    assert "oci_identity_policy.bucket_key" in _dependency_graph()["oci_objectstorage_bucket.audit"]


def test_push_identity_is_a_stack_of_its_own_and_auth_token_only(stack: Stack) -> None:
    """The image must exist before the function, and the repository before the first push (which would otherwise
    create it in the root compartment, outside the push policy): so the registry identity is applied first."""
    assert not {b.labels[0] for b in stack.of("resource")} & (REGISTRY_RESOURCES - {"oci_identity_policy"})
    registry = load_stack(REGISTRY_DIR)
    assert {b.labels[0] for b in registry.of("resource")} == REGISTRY_RESOURCES
    assert {b.labels[0] for b in registry.of("data")} <= DOCUMENTED_DATA_SOURCES
    ev = Evaluator(registry, {k: v for k, v in REQUIRED_INPUTS.items() if k in registry.variables})
    assert ev.attr(registry.resource("oci_identity_user", "ocir"), "name") == "logzio_user"
    assert ev.attr(registry.resource("oci_identity_group", "ocir"), "name") == "function_admins"
    assert ev.attr(registry.resource("oci_identity_policy", "ocir"), "name") == "Functions_Repo_Policy"
    caps = registry.resource("oci_identity_user_capabilities_management", "ocir")
    flags = {k: ev.attr(caps, k) for k in caps.attrs if k.startswith("can_use_")}
    assert flags == {
        "can_use_api_keys": False,
        "can_use_auth_tokens": True,
        "can_use_console_password": False,
        "can_use_customer_secret_keys": False,
        "can_use_smtp_credentials": False,
    }
    repository = registry.resource("oci_artifacts_container_repository", "function")
    assert ev.attr(repository, "is_public") is False
    assert ev.attr(repository, "compartment_id") == COMPARTMENT
    outputs = {b.labels[0]: b for b in registry.of("output")}
    image = ev.attr(outputs["image_repository"], "value") + ":0.1.0"
    assert image == f"eu-amsterdam-1.ocir.io/{NAMESPACE}/logzio/logzio-from-bucket:0.1.0"
    assert Evaluator(stack, {**REQUIRED_INPUTS, "function_image": image}).validation_errors() == []


# ---------------------------------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------------------------------

MQL = re.compile(
    r"^(?P<metric>[A-Za-z]\w*)\[(?P<interval>\d+)(?P<unit>[mh])\]\{(?P<dims>[^}]*)\}"
    r"(?P<calls>(?:\.\w+\([^)]*\))+)(?:\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<threshold>\d+(?:\.\d+)?))?$"
)
"""The MQL shape the alarms use: metric[interval]{dimensions}.grouping().statistic() [predicate]."""
STATISTICS = {"absent", "count", "max", "mean", "min", "percentile", "rate", "sum"}
ALARMS = {
    "records_not_delivered": ("logzio-from-bucket: records not delivered", "CRITICAL"),
    "function_errors": ("logzio-from-bucket: function errors or throttling", "ERROR"),
    "forwarding_silent": ("logzio-from-bucket: no records forwarded", "ERROR"),
    "delivery_lag": ("logzio-from-bucket: delivery lag", "WARNING"),
}
"""Resource name -> display name and severity; docs/operations.md describes the alarms by these names."""


@dataclass
class Query:
    metric: str
    interval_minutes: int
    dimensions: dict[str, tuple[str, str]]
    calls: list[tuple[str, str]]
    predicate: tuple[str, float] | None


def _mql(query: str) -> Query:
    """Parse an alarm query and hold it to the documented MQL: intervals 1m-60m or 1h-24h, grouping before the one
    statistic, a trigger rule (a threshold, or absent() with a detection period of at most 3 days)."""
    match = MQL.match(query)
    assert match, f"not the MQL shape the alarms use: {query}"
    interval = int(match["interval"])
    assert 1 <= interval <= (60 if match["unit"] == "m" else 24), query
    dimensions: dict[str, tuple[str, str]] = {}
    for part in filter(None, (p.strip() for p in match["dims"].split(","))):
        dim = re.fullmatch(r'(\w+)\s*(=~|=)\s*"([^"]*)"', part)
        assert dim, f"dimension {part!r} in {query}"
        dimensions[dim[1]] = (dim[2], dim[3])
    calls = re.findall(r"\.(\w+)\(([^)]*)\)", match["calls"])
    *grouping, (statistic, argument) = calls
    assert all(name in ("grouping", "groupBy") for name, _ in grouping), query
    assert statistic in STATISTICS, query
    if statistic == "absent":
        assert match["op"] is None, "absent() is the trigger rule itself"
        period = re.fullmatch(r"(\d+)([mhd])", argument)
        assert argument == "" or (period and int(period[1]) * {"m": 1, "h": 60, "d": 1440}[period[2]] <= 72 * 60)
    else:
        assert match["op"], f"a threshold alarm needs a predicate: {query}"
    predicate = (match["op"], float(match["threshold"])) if match["op"] else None
    minutes = interval * (60 if match["unit"] == "h" else 1)
    return Query(match["metric"], minutes, dimensions, calls, predicate)


def _alarm(ev: Evaluator, name: str) -> tuple[Block, Query]:
    alarm = ev.stack.resource("oci_monitoring_alarm", name)
    return alarm, _mql(ev.attr(alarm, "query"))


@pytest.mark.parametrize(
    "overrides", [{}, {"metrics_namespace": "audit_prod", "metrics_compartment_ocid": METRICS_COMPARTMENT}]
)
def test_alarms_watch_the_metrics_the_code_posts(stack: Stack, overrides: dict[str, Any]) -> None:
    ev = evaluator(stack, **overrides)
    settings = load_settings(function_config(ev))
    metrics_compartment = settings.metrics_compartment_id or COMPARTMENT  # default: the function's own compartment
    watched = {}
    for name in ("records_not_delivered", "forwarding_silent", "delivery_lag"):
        alarm, query = _alarm(ev, name)
        assert ev.attr(alarm, "namespace") == settings.metrics_namespace, name
        assert ev.attr(alarm, "metric_compartment_id") == metrics_compartment, name
        assert query.metric in METRIC_NAMES, f"{name} queries {query.metric}, which the code does not post"
        assert set(query.dimensions) <= set(DIMENSIONS), f"{name} filters on a dimension the code does not post"
        assert query.dimensions["resourceId"] == ("=", FUNCTION_ID), "this function's datapoints only"
        watched[name] = query
    assert watched["records_not_delivered"].metric == "RecordsNotDelivered"
    assert watched["records_not_delivered"].calls[-1] == ("sum", "")
    assert watched["records_not_delivered"].predicate == (">", 0)
    assert watched["forwarding_silent"].metric == "RecordsForwarded"
    assert watched["forwarding_silent"].calls[-1][0] == "absent"
    assert watched["forwarding_silent"].interval_minutes == 60
    assert watched["delivery_lag"].metric == "DeliveryLagSeconds"
    assert watched["delivery_lag"].calls[-1] == ("max", "")
    assert watched["delivery_lag"].predicate == (">", 1800)


def test_function_errors_alarm_watches_the_functions_own_metrics(stack: Stack) -> None:
    ev = evaluator(stack, metrics_compartment_ocid=METRICS_COMPARTMENT)
    alarm, query = _alarm(ev, "function_errors")
    assert ev.attr(alarm, "namespace") == "oci_faas"
    assert ev.attr(alarm, "metric_compartment_id") == COMPARTMENT, "oci_faas metrics are in the function's compartment"
    assert query.metric == "FunctionResponseCount"
    assert query.dimensions == {"resourceId": ("=", FUNCTION_ID), "responseType": ("=~", "Error|Throttled")}
    assert query.calls == [("grouping", ""), ("sum", "")]
    assert query.predicate == (">", 0)


def test_alarms_names_severities_topic_and_bodies(stack: Stack) -> None:
    ev = evaluator(stack)
    topic = stack.resource("oci_ons_notification_topic", "alarms")
    assert ev.count(topic) == 1
    assert ev.attr(topic, "name") == "logzio-forwarder-alarms"
    outputs = {b.labels[0]: b for b in stack.of("output")}
    replay = ev.attr(outputs["replay_command"], "value")
    assert replay == "make replay APP=logzio FN=logzio-from-bucket PREFIX=audit/"
    for name, (display_name, severity) in ALARMS.items():
        alarm = stack.resource("oci_monitoring_alarm", name)
        assert ev.count(alarm) == 1
        assert ev.attr(alarm, "display_name") == display_name
        assert ev.attr(alarm, "severity") == severity
        assert ev.attr(alarm, "is_enabled") is True
        assert ev.attr(alarm, "destinations") == [TOPIC_ID]
        body = ev.attr(alarm, "body")
        lines = body.splitlines()
        assert 2 <= len(lines) <= 4, f"{name}: a few lines"
        assert "First: " in body, f"{name}: says what to do first"
        assert "Read the function's invocation log (log group logzio-forwarder, log logzio-invoke)" in body, name
        assert "logzio-from-bucket" in lines[0], f"{name}: the first line says which forwarder and what it means"
    assert replay in ev.attr(stack.resource("oci_monitoring_alarm", "records_not_delivered"), "body")


@pytest.mark.parametrize(("minutes", "interval"), [(5, "[5m]"), (60, "[60m]"), (120, "[2h]"), (1440, "[24h]")])
def test_silence_alarm_interval(stack: Stack, minutes: int, interval: str) -> None:
    ev = evaluator(stack, silence_alarm_minutes=minutes)
    assert ev.validation_errors() == []
    alarm, query = _alarm(ev, "forwarding_silent")
    assert query.interval_minutes == minutes
    assert f"RecordsForwarded{interval}" in ev.attr(alarm, "query")
    assert f"for {minutes} minutes" in ev.attr(alarm, "body")


def test_alarms_can_be_turned_off_and_mail_is_optional(stack: Stack) -> None:
    subscription = stack.resource("oci_ons_subscription", "alarm_email")
    assert evaluator(stack).count(subscription) == 0
    mailed = evaluator(stack, alarm_email="oncall@example.com")
    assert mailed.count(subscription) == 1
    assert mailed.attr(subscription, "protocol") == "EMAIL"
    assert mailed.attr(subscription, "endpoint") == "oncall@example.com"
    assert mailed.attr(subscription, "topic_id") == TOPIC_ID
    off = evaluator(stack, create_alarms=False, alarm_email="oncall@example.com")
    for rtype in ("oci_ons_notification_topic", "oci_ons_subscription", "oci_monitoring_alarm"):
        for block in stack.resources_of(rtype):
            assert off.count(block) == 0, block.labels
    assert off.validation_errors() == off.precondition_errors() == []


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
    """A tfvars file's values (literals: evaluated without any variable)."""
    attrs, blocks = _body(_trees(hcl2.parses_to_tree(path.read_text()))[0], path.name)
    assert not blocks
    ev = Evaluator(Stack([]), {})
    return {name: ev.value(expr) for name, expr in attrs.items()}


def test_example_tfvars_is_complete_and_valid(stack: Stack) -> None:
    values = _tfvars(TF_DIR / "example.tfvars")
    assert set(values) <= set(stack.variables)
    assert set(REQUIRED_INPUTS) <= set(values)
    ev = Evaluator(stack, values)
    assert ev.validation_errors() == []
    assert ev.precondition_errors() == []
    load_settings(function_config(ev))


def test_registry_example_tfvars_is_complete_and_valid() -> None:
    registry = load_stack(REGISTRY_DIR)
    values = _tfvars(REGISTRY_DIR / "example.tfvars")
    assert set(values) <= set(registry.variables)
    required = {name for name, block in registry.variables.items() if "default" not in block.attrs}
    assert required == {"tenancy_ocid", "region", "compartment_ocid"} <= set(values)
    assert Evaluator(registry, values).validation_errors() == []
    forwarder = _tfvars(TF_DIR / "example.tfvars")
    assert {k: forwarder[k] for k in required} == {k: values[k] for k in required}, "the same place as the forwarder"


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
