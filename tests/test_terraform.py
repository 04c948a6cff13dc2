"""The Terraform stack in ``deploy/terraform`` held to the forwarder's own contract.

``terraform`` cannot run in ``make test`` (no provider downloads), so the HCL is parsed with python-hcl2 and the parts
that matter are *evaluated* by ``tests/hcl_eval.py`` (tested on its own in ``tests/test_hcl_eval.py``), with
placeholder values for the variables and for attributes only OCI knows (OCIDs, the namespace, the tenancy's region
subscriptions). The results are then fed to the code itself: the function's config to ``load_settings``, the Events
rule's condition to the matcher below and ``parse_command``, the policies to a statement checker, the alarms to
``METRIC_NAMES``. The stack is applied once per region (each region its own state), the home region's apply writing
the shared IAM: the region tests evaluate it for several regions. ``terraform test`` (``deploy/terraform/tests``)
runs the same stack through Terraform itself when a provider mirror is given (``make check-iac``).
"""

from __future__ import annotations

import base64
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import pytest
import yaml
from lark import Token, Tree

from logzio_forwarder.commands import CREATE_OBJECT, ForwardObjects, Ignore, Replay, parse_command
from logzio_forwarder.config import KEYS, Settings, load_settings
from logzio_forwarder.errors import ConfigError
from logzio_forwarder.metrics import DIMENSIONS, METRIC_NAMES
from tests.fnctl_module import load_fnctl
from tests.hcl_eval import Block, Evaluator, Stack, _body, _tf_str, _trees, load_stack

ROOT = Path(__file__).resolve().parent.parent
TF_DIR = ROOT / "deploy" / "terraform"
REGISTRY_DIR = TF_DIR / "registry"
EVENTS = ROOT / "tests" / "fixtures" / "events"

TENANCY = "ocid1.tenancy.oc1..aaaaaaaastandintenancy"
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandincompartment"
NETWORK_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandinnetwork"
SECRET_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandinsecrets"
HOME_REGION = "eu-frankfurt-1"
OTHER_REGION = "eu-amsterdam-1"
NEW_REGION = "eu-zurich-1"
SUBSCRIBED = {HOME_REGION: "FRA", OTHER_REGION: "AMS", NEW_REGION: "ZRH"}
"""The stand-in tenancy's region subscriptions (region -> key); eu-frankfurt-1 is its home region."""
SUBNET = "ocid1.subnet.oc1.eu-frankfurt-1.aaaaaaaastandinsubnet"
NAMESPACE = "standinns"
FUNCTION_ID = "ocid1.fnfunc.oc1.eu-frankfurt-1.aaaaaaaastandinfunction"
TOPIC_ID = "ocid1.onstopic.oc1.eu-frankfurt-1.aaaaaaaastandintopic"
CREATED_SECRET = "ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaaaaaacreatedsecret"
GIVEN_SECRET = "ocid1.vaultsecret.oc1.eu-frankfurt-1.aaaaaaaagivensecret"
TOKEN = "tfTOKENvalue0123456789abcdefghij"
IMAGE = "{region}.ocir.io/standinns/logzio/logzio-from-bucket:0.1.0"

REQUIRED_INPUTS: dict[str, Any] = {
    "tenancy_ocid": TENANCY,
    "region": HOME_REGION,
    "compartment_ocid": COMPARTMENT,
    "function_image": IMAGE,
}
"""The variables without defaults (what a user must give)."""
PLACEMENT: dict[str, Any] = {**REQUIRED_INPUTS, "subnet_ocid": SUBNET}
"""The required variables and a subnet: where one region's apply goes."""

TOKEN_MODES: dict[str, dict[str, Any]] = {
    "config": {"logzio_token": TOKEN},
    "new-secret": {
        "logzio_token": TOKEN,
        "create_vault_secret": True,
        "vault_ocid": "ocid1.vault.oc1.eu-frankfurt-1.aaaaaaaastandinvault",
        "vault_key_ocid": "ocid1.key.oc1.eu-frankfurt-1.aaaaaaaastandinkey",
    },
    "existing-secret": {"logzio_token_secret_ocid": GIVEN_SECRET},
}
"""Variables for the three ways the function can get the shipping token."""


def function_id(region: str) -> str:
    """The stand-in OCID of a region's forwarder function."""
    return FUNCTION_ID.replace(HOME_REGION, region)


def computed(region: str = HOME_REGION) -> dict[str, Any]:
    """Attributes only OCI knows after apply, for one region's apply; anything else unknown evaluates to
    ``"<type.name.attr>"``."""
    return {
        "data.oci_objectstorage_namespace.this.namespace": NAMESPACE,
        "data.oci_identity_region_subscriptions.this.region_subscriptions": [
            {"region_name": name, "region_key": key, "is_home_region": name == HOME_REGION, "state": "READY"}
            for name, key in SUBSCRIBED.items()
        ],
        "oci_ons_notification_topic.alarms.id": TOPIC_ID.replace(HOME_REGION, region),
        "data.oci_core_subnet.functions.compartment_id": NETWORK_COMPARTMENT,
        "data.oci_vault_secret.given.compartment_id": SECRET_COMPARTMENT,
        "data.oci_vault_secrets.shared.secrets": [{"id": CREATED_SECRET, "secret_name": "logzio-shipping-token"}],
        "oci_functions_function.forwarder.id": function_id(region),
        "oci_vault_secret.logzio_token.id": CREATED_SECRET,
    }


SEED_NAMES = {
    "bucket_name": "logfile_download_bucket",
    "application_name": "logzio",
    "function_name": "logzio-from-bucket",
    "connector_name": "Logfile_audit_archive_connector",
    "rule_name": "Process audit file from audit bucket",
}

REGIONAL_RESOURCES = {
    "oci_objectstorage_bucket",
    "oci_objectstorage_object_lifecycle_policy",
    "oci_sch_service_connector",
    "oci_functions_application",
    "oci_functions_function",
    "oci_events_rule",
    "oci_ons_notification_topic",
    "oci_ons_subscription",
    "oci_monitoring_alarm",
    "oci_logging_log_group",
    "oci_logging_log",
}
"""What every region's apply creates for its own region (the alarms' topic and subscription count as on)."""
DOCUMENTED_RESOURCES = REGIONAL_RESOURCES | {
    "oci_identity_dynamic_group",
    "oci_identity_policy",
    "oci_vault_secret",
    "terraform_data",
}
DOCUMENTED_DATA_SOURCES = {
    "oci_objectstorage_namespace",
    "oci_vault_secret",
    "oci_vault_secrets",
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


@pytest.fixture(scope="module")
def stack() -> Stack:
    return load_stack(TF_DIR)


def evaluator(stack: Stack, mode: str = "config", **overrides: Any) -> Evaluator:
    """The stack as one region's apply evaluates it (the home region's unless ``region`` is given)."""
    inputs = {**PLACEMENT, "logzio_region": "eu", **TOKEN_MODES[mode], **overrides}
    return Evaluator(stack, inputs, computed(inputs["region"]))


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
    assert Evaluator(stack, REQUIRED_INPUTS).value(terraform.attrs["required_version"]) == ">= 1.5.0"


ALL_OPTIONS: dict[str, Any] = {
    "bucket_kms_key_ocids": {HOME_REGION: "ocid1.key.oc1.eu-frankfurt-1.aaaaaaaakey"},
    "metrics_namespace": "audit_prod",
}
"""Variables that turn on every optional IAM resource."""


@pytest.mark.parametrize("directory", [TF_DIR, REGISTRY_DIR], ids=["forwarder", "registry"])
def test_identity_resources_are_written_once_in_the_home_region(directory: Path) -> None:
    """IAM writes fail outside the home region, and the IAM is shared: every region's apply finds the home region on
    its own, and only the home region's apply writes the identity resources."""
    stack = load_stack(directory)
    identity = [b for b in stack.of("resource") if b.labels[0].startswith("oci_identity_")]
    assert identity
    for block in identity:
        assert ev_str(block.attrs.get("provider")) == "oci.home", f"{block.labels} must use provider = oci.home"
    home = next(b for b in stack.of("provider") if "alias" in b.attrs)
    outputs = {b.labels[0]: b for b in stack.of("output")}
    for region in SUBSCRIBED:
        inputs = {**PLACEMENT, **TOKEN_MODES["new-secret"], "logzio_region": "eu", **ALL_OPTIONS, "region": region}
        applied = Evaluator(stack, {k: v for k, v in inputs.items() if k in stack.variables}, computed(region))
        assert applied.attr(home, "region") == HOME_REGION, "derived from the region subscriptions (is_home_region)"
        assert applied.attr(outputs["home_region"], "value") == HOME_REGION
        counts = {block.labels: applied.count(block) for block in identity}
        assert set(counts.values()) == {1 if region == HOME_REGION else 0}, (region, counts)
    given = Evaluator(
        stack, {k: v for k, v in {**PLACEMENT, "home_region": NEW_REGION}.items() if k in stack.variables}
    )
    assert given.attr(home, "region") == NEW_REGION


def ev_str(node: Tree[Any] | None) -> str:
    """An attribute written as a bare reference (``provider = oci.home``), as text."""
    assert node is not None
    return ".".join(str(t) for t in node.scan_values(lambda v: isinstance(v, Token) and v.type == "NAME"))


def test_variables_are_described_typed_and_all_used(stack: Stack) -> None:
    text = "\n".join(p.read_text() for p in TF_DIR.glob("*.tf"))
    referenced = set(re.findall(r"\bvar\.([a-z0-9_]+)", text))
    declared = stack.variables
    assert referenced <= set(declared), f"undeclared: {referenced - set(declared)}"
    form_only = {"vcn_ocid"}
    assert set(declared) - referenced == form_only, "every variable but the form's VCN picker is used"
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


def test_defaults_file_every_line_under_oci_audit_within_two_minutes(stack: Stack) -> None:
    """Issue 14: the connector writes an object every minute (OCI's minimum), every line is filed under oci-audit."""
    ev = evaluator(stack)
    target = stack.resource("oci_sch_service_connector", "audit_archive").one("target")
    assert ev.attr(target, "batch_rollover_time_in_ms") == 60000
    assert load_settings(function_config(ev)).logzio_type == "oci-audit" == ev.vars["logzio_type"]


@pytest.mark.parametrize("region", list(SUBSCRIBED))
@pytest.mark.parametrize("mode", list(TOKEN_MODES))
def test_every_local_evaluates_in_every_regions_apply(stack: Stack, mode: str, region: str) -> None:
    """Terraform evaluates every local in every plan, used or not (the IAM ones too, outside the home region)."""
    for overrides in ({}, ALL_OPTIONS, {"metrics": "off", "create_alarms": False}):
        evaluator(stack, mode, region=region, **overrides).all_locals()


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
        ({"bucket_kms_key_ocids": {HOME_REGION: "ocid1.vault.oc1..x"}}, "bucket_kms_key_ocids"),
        ({"bucket_kms_key_ocids": {"FRA": "ocid1.key.oc1..x"}}, "bucket_kms_key_ocids"),
        ({"regions": [HOME_REGION, "AMS"]}, "regions"),
        ({"subnet_ocids": {"FRA": SUBNET}}, "subnet_ocids"),
        ({"subnet_ocids": {HOME_REGION: "ocid1.vcn.oc1..x"}}, "subnet_ocids"),
        ({"network_compartment_ocid": "ocid1.vcn.oc1..x"}, "network_compartment_ocid"),
        ({"forwarder_function_ids": ["ocid1.fnapp.oc1..x"]}, "forwarder_function_ids"),
        ({"logzio_token_secret_region": "FRA"}, "logzio_token_secret_region"),
        ({"function_image": "{region}/logzio-from-bucket:0.1.0"}, "function_image"),
        ({"connector_batch_rollover_time_ms": 30000}, "connector_batch_rollover_time_ms"),
        ({"reshape": "yes"}, "reshape"),
        ({"unwrap": "true"}, "unwrap"),
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
        ("config", {"subnet_ocid": ""}, "Give the subnet of eu-frankfurt-1"),
        ("config", {"function_image": IMAGE.replace("{region}", OTHER_REGION)}, "pulls only from the function's own"),
        ("config", {"regions": [OTHER_REGION, HOME_REGION], "region": NEW_REGION}, "is not in regions"),
        ("config", {"regions": [HOME_REGION, "us-ashburn-1"]}, "not subscribed to (us-ashburn-1)"),
    ],
)
def test_preconditions_reject(stack: Stack, mode: str, overrides: dict[str, Any], fragment: str) -> None:
    errors = evaluator(stack, mode, **overrides).precondition_errors()
    assert any(fragment in e for e in errors), errors


def test_a_list_without_the_home_region_is_refused_with_the_reason(stack: Stack) -> None:
    """Issue 18: the home region is always deployed; a list without it is refused by every region's apply."""
    for region in (OTHER_REGION, NEW_REGION):
        ev = evaluator(stack, region=region, regions=[OTHER_REGION, NEW_REGION])
        assert ev.precondition_errors() == [
            "The regions list leaves out the tenancy's home region eu-frankfurt-1: OCI records the audit events of IAM "
            "changes (users, groups, policies, dynamic groups) only in the home region, and the forwarder's IAM can "
            "only be written there. Add eu-frankfurt-1 to regions, or leave regions empty for every subscribed region."
        ]
        assert ev.precondition_errors() == [_fnctl().missing_home_region(HOME_REGION)], "make apply says the same"
    assert evaluator(stack, region=OTHER_REGION, regions=[OTHER_REGION, HOME_REGION]).precondition_errors() == []


def test_regions_default_to_every_subscribed_region(stack: Stack) -> None:
    outputs = {b.labels[0]: b for b in stack.of("output")}
    ev = evaluator(stack)
    assert ev.attr(outputs["regions"], "value") == list(SUBSCRIBED)
    assert ev.attr(outputs["is_home_region"], "value") is True
    listed = evaluator(stack, region=OTHER_REGION, regions=[OTHER_REGION, HOME_REGION, OTHER_REGION])
    assert listed.attr(outputs["regions"], "value") == [OTHER_REGION, HOME_REGION]
    assert listed.attr(outputs["is_home_region"], "value") is False


def test_the_image_comes_from_each_regions_own_registry(stack: Stack) -> None:
    """OCI Functions pulls only from the function's own region's OCIR, under its name or its key."""
    fn = stack.resource("oci_functions_function", "forwarder")
    for region, key in SUBSCRIBED.items():
        ev = evaluator(stack, region=region, subnet_ocids={region: SUBNET.replace(HOME_REGION, region)})
        assert ev.attr(fn, "image") == f"{region}.ocir.io/standinns/logzio/logzio-from-bucket:0.1.0"
        assert ev.precondition_errors() == []
        app = stack.resource("oci_functions_application", "logzio")
        assert ev.attr(app, "subnet_ids") == [SUBNET.replace(HOME_REGION, region)]
        by_key = evaluator(stack, region=region, function_image=IMAGE.replace("{region}", key.lower()))
        assert by_key.precondition_errors() == []


def _rendered(ev: Evaluator, block: Block) -> dict[str, Any]:
    """Every attribute and nested block of a resource as one region's apply renders it (what a plan compares: not the
    meta-arguments, nor the lifecycle checks)."""
    meta = {"depends_on", "provider", "count"}
    out: dict[str, Any] = {name: ev.value(expr) for name, expr in block.attrs.items() if name not in meta}
    for nested in block.blocks:
        if nested.kind != "lifecycle":
            out.setdefault(nested.kind, []).append(_rendered(ev, nested))
    return out


def _regional(ev: Evaluator) -> dict[tuple[str, ...], Any]:
    """Every regional resource of one apply, rendered (``None`` where its count is 0)."""
    return {
        block.labels: _rendered(ev, block) if ev.count(block) else None
        for block in ev.stack.of("resource")
        if block.labels[0] in REGIONAL_RESOURCES
    }


def test_two_regions_every_regional_resource_twice_and_iam_once(stack: Stack) -> None:
    """Issue 18: each region's apply creates its region's bucket, connector, rule, application, function, log and
    alarms; the IAM exists once, written by the home region's apply, its dynamic group matching both functions."""
    regions = [HOME_REGION, OTHER_REGION]
    applies = {
        region: evaluator(
            stack,
            "new-secret",
            region=region,
            regions=regions,
            alarm_email="oncall@example.com",
            forwarder_function_ids=[function_id(OTHER_REGION)] if region == HOME_REGION else [],
        )
        for region in regions
    }
    for region, ev in applies.items():
        assert all(_regional(ev).values()), f"{region}: every regional resource once"
        fn = stack.resource("oci_functions_function", "forwarder")
        assert ev.attr(fn, "image").startswith(f"{region}.ocir.io/")
        settings = load_settings(function_config(ev))
        assert settings.input_bucket == "logfile_download_bucket"
        assert settings.token_secret_id == CREATED_SECRET, "one secret for every region"
    identity = [b for b in stack.of("resource") if b.labels[0].startswith("oci_identity_")]
    written = {region: [b.labels for b in identity if ev.count(b)] for region, ev in applies.items()}
    assert written[OTHER_REGION] == []
    assert ("oci_identity_dynamic_group", "function") in written[HOME_REGION]
    group = stack.resource("oci_identity_dynamic_group", "function")
    matched = _matched_ids(applies[HOME_REGION].attr(group, "matching_rule"))
    assert matched == [function_id(HOME_REGION), function_id(OTHER_REGION)]
    assert stack.resource("oci_vault_secret", "logzio_token") is not None
    assert [applies[r].count(stack.resource("oci_vault_secret", "logzio_token")) for r in regions] == [1, 0]


def test_a_secret_outside_the_functions_region_is_read_at_its_regions_endpoint(stack: Stack) -> None:
    """One Vault secret serves every region: OCI Vault secrets are regional, so a function elsewhere is given the
    secret's region's Secrets endpoint (the SDK's own endpoint for that region)."""
    import oci.regions

    expected = oci.regions.endpoint_for(
        "secrets",
        region=HOME_REGION,
        service_endpoint_template="https://secrets.vaults.{region}.oci.{secondLevelDomain}",
    )
    for mode in ("new-secret", "existing-secret"):
        assert "secrets-endpoint" not in function_config(evaluator(stack, mode)), "the home region reads its own"
        config = function_config(evaluator(stack, mode, region=OTHER_REGION))
        assert config["secrets-endpoint"] == expected
        assert load_settings(config).secrets_endpoint == expected
    local = evaluator(stack, "existing-secret", region=OTHER_REGION, logzio_token_secret_region=OTHER_REGION)
    assert "secrets-endpoint" not in function_config(local)
    assert "secrets-endpoint" not in function_config(evaluator(stack, "config", region=OTHER_REGION))


@pytest.mark.parametrize("region", [HOME_REGION, OTHER_REGION])
def test_adding_a_region_changes_nothing_in_the_regions_already_deployed(stack: Stack, region: str) -> None:
    """Issue 18: a newly subscribed region adds its own apply; every region already deployed renders exactly the same
    regional resources, and the home region's apply changes only the IAM (a grant and a function for the new one)."""
    known = [function_id(OTHER_REGION)] if region == HOME_REGION else []
    before = evaluator(stack, region=region, regions=[HOME_REGION, OTHER_REGION], forwarder_function_ids=known)
    after = evaluator(
        stack,
        region=region,
        regions=[HOME_REGION, OTHER_REGION, NEW_REGION],
        forwarder_function_ids=[*known, function_id(NEW_REGION)] if region == HOME_REGION else [],
    )
    assert _regional(after) == _regional(before)
    changed = {
        block.labels
        for block in stack.of("resource")
        if block.labels[0] not in REGIONAL_RESOURCES
        and (after.count(block) and _rendered(after, block)) != (before.count(block) and _rendered(before, block))
    }
    if region == HOME_REGION:
        assert changed == {("oci_identity_dynamic_group", "function"), ("oci_identity_policy", "forwarder")}
    else:
        assert changed == set()


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


@pytest.mark.parametrize("region", [HOME_REGION, OTHER_REGION])
@pytest.mark.parametrize("mode", list(TOKEN_MODES))
def test_function_config_is_what_the_code_reads(stack: Stack, mode: str, region: str) -> None:
    ev = evaluator(stack, mode, region=region)
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


def test_reshape_and_unwrap_reach_the_function_config(stack: Stack) -> None:
    """Contract 6: the variables reshape and unwrap become the config keys of the same names, on or off; unset, the
    forwarder's own defaults apply."""
    default = function_config(evaluator(stack))
    assert "reshape" not in default
    assert "unwrap" not in default
    for reshape, unwrap in (("on", "off"), ("off", "on")):
        config = function_config(evaluator(stack, reshape=reshape, unwrap=unwrap))
        assert (config["reshape"], config["unwrap"]) == (reshape, unwrap)
        assert {"reshape", "unwrap"} <= set(KEYS)
        load_settings(config)


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
    assert ev.attr(fn, "image") == "eu-frankfurt-1.ocir.io/standinns/logzio/logzio-from-bucket:0.1.0"
    assert ev.attr(fn, "memory_in_mbs") == 256
    assert ev.attr(fn, "timeout_in_seconds") == 300
    settings = load_settings(function_config(ev))
    assert settings.deadline_margin_s < ev.attr(fn, "timeout_in_seconds")


def _func_yaml() -> dict[str, Any]:
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
BUCKET_KEY = "ocid1.key.oc1.eu-frankfurt-1.aaaaaaaastandinbucketkey"
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
        yield (
            mode,
            evaluator(stack, mode, bucket_kms_key_ocids={HOME_REGION: BUCKET_KEY}, metrics_namespace="audit_prod"),
        )
    registry = load_stack(REGISTRY_DIR)
    inputs = {k: v for k, v in REQUIRED_INPUTS.items() if k in registry.variables}
    yield "registry", Evaluator(registry, inputs, computed())


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
    for region in SUBSCRIBED:  # every deployed region's Object Storage runs its bucket's lifecycle rule
        assert by_subject[f"service objectstorage-{region}"] == [("manage", "object-family")]
    assert by_subject["service faas"] == [("use", "virtual-network-family")]
    assert not any(s.startswith("group ") for s in by_subject), "the OCIR push identity is a stack of its own"
    config_mode = [s for s in _statements(evaluator(stack, "config")) if "secret" in s]
    assert config_mode == [], "no Vault grant when the token is in the function config"
    other_key = BUCKET_KEY.replace(HOME_REGION, OTHER_REGION)
    keyed = _grants(evaluator(stack, bucket_kms_key_ocids={HOME_REGION: BUCKET_KEY, OTHER_REGION: other_key}))
    assert keyed[f"service objectstorage-{HOME_REGION}"] == [("manage", "object-family"), ("use", "keys")]
    assert keyed[f"service objectstorage-{OTHER_REGION}"] == [("manage", "object-family"), ("use", "keys")]
    assert keyed[f"service objectstorage-{NEW_REGION}"] == [("manage", "object-family")]
    listed = _grants(evaluator(stack, regions=[HOME_REGION, OTHER_REGION]))
    assert {s for s in listed if "objectstorage" in s} == {
        f"service objectstorage-{r}" for r in (HOME_REGION, OTHER_REGION)
    }


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


def _matched_ids(rule: str) -> list[str]:
    """The OCIDs a dynamic-group matching rule of the form ``ANY {resource.id = '…', …}`` matches, and nothing else."""
    match = re.fullmatch(r"ANY \{(.*)\}", rule)
    assert match, rule
    ids = []
    for condition in match.group(1).split(", "):
        term = re.fullmatch(r"resource\.id = '(ocid1\.fnfunc\.[\w.-]+)'", condition)
        assert term, f"{condition!r} in {rule!r} is not resource.id = '<function>'"
        ids.append(term.group(1))
    return ids


def test_dynamic_group_matches_exactly_the_forwarder_functions(stack: Stack) -> None:
    """One dynamic group for every region's function: the home region's apply lists its own and the other regions'
    (their applies' function_id outputs), and nothing else: no other function in the compartment."""
    group = stack.resource("oci_identity_dynamic_group", "function")
    ev = evaluator(stack)
    assert ev.attr(group, "compartment_id") == TENANCY
    assert _matched_ids(ev.attr(group, "matching_rule")) == [FUNCTION_ID]
    others = [function_id(OTHER_REGION), function_id(NEW_REGION)]
    every = evaluator(stack, forwarder_function_ids=[*others, function_id(OTHER_REGION)])
    assert _matched_ids(every.attr(group, "matching_rule")) == [FUNCTION_ID, *others]
    for region in (OTHER_REGION, NEW_REGION):
        assert evaluator(stack, region=region).count(group) == 0, "written once, by the home region's apply"


def test_bucket_key_is_optional_and_granted_before_the_bucket(stack: Stack) -> None:
    bucket = stack.resource("oci_objectstorage_bucket", "audit")
    policy = stack.resource("oci_identity_policy", "bucket_key")
    assert evaluator(stack).attr(bucket, "kms_key_id") is None
    assert evaluator(stack).count(policy) == 0
    keys = {HOME_REGION: BUCKET_KEY, OTHER_REGION: BUCKET_KEY.replace(HOME_REGION, OTHER_REGION)}
    keyed = evaluator(stack, bucket_kms_key_ocids=keys)
    assert keyed.attr(bucket, "kms_key_id") == BUCKET_KEY
    assert keyed.count(policy) == 1
    other = evaluator(stack, region=OTHER_REGION, bucket_kms_key_ocids=keys)
    assert other.attr(bucket, "kms_key_id") == keys[OTHER_REGION], "each region's bucket, its region's key"
    assert evaluator(stack, region=NEW_REGION, bucket_kms_key_ocids=keys).attr(bucket, "kms_key_id") is None
    assert "oci_identity_policy.bucket_key" in _dependency_graph()["oci_objectstorage_bucket.audit"]


def test_push_identity_is_a_stack_of_its_own_and_auth_token_only(stack: Stack) -> None:
    """The image must exist before the function, and the repository before the first push (which would otherwise
    create it in the root compartment, outside the push policy): so the registry identity is applied first."""
    assert not {b.labels[0] for b in stack.of("resource")} & (REGISTRY_RESOURCES - {"oci_identity_policy"})
    registry = load_stack(REGISTRY_DIR)
    assert {b.labels[0] for b in registry.of("resource")} == REGISTRY_RESOURCES
    assert {b.labels[0] for b in registry.of("data")} <= DOCUMENTED_DATA_SOURCES
    ev = Evaluator(registry, {k: v for k, v in REQUIRED_INPUTS.items() if k in registry.variables}, computed())
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
    assert image == f"eu-frankfurt-1.ocir.io/{NAMESPACE}/logzio/logzio-from-bucket:0.1.0"
    template = ev.attr(outputs["image_repository_template"], "value") + ":0.1.0"
    assert template == f"{{region}}.ocir.io/{NAMESPACE}/logzio/logzio-from-bucket:0.1.0"
    for value in (image, template):
        forwarder = evaluator(stack, function_image=value)
        assert forwarder.validation_errors() == forwarder.precondition_errors() == []
    # Every region gets the repository (OCI Functions pulls from its own region); the identity is written once.
    other = Evaluator(registry, {**ev.vars, "region": OTHER_REGION}, computed(OTHER_REGION))
    assert other.count(repository) == 1
    assert {other.count(b) for b in registry.of("resource") if b.labels[0].startswith("oci_identity_")} == {0}
    assert other.attr(outputs["image_repository"], "value").startswith(f"{OTHER_REGION}.ocir.io/")


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
    "records_not_delivered": ("logzio-from-bucket ({region}): records not delivered", "CRITICAL"),
    "function_errors": ("logzio-from-bucket ({region}): function errors or throttling", "ERROR"),
    "forwarding_silent": ("logzio-from-bucket ({region}): no records forwarded", "ERROR"),
    "delivery_lag": ("logzio-from-bucket ({region}): delivery lag", "WARNING"),
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
    assert ev.attr(topic, "name") == "logzio-forwarder-alarms-eu-frankfurt-1", "one topic per region"
    outputs = {b.labels[0]: b for b in stack.of("output")}
    replay = ev.attr(outputs["replay_command"], "value")
    assert replay == "make replay APP=logzio FN=logzio-from-bucket PREFIX=audit/"
    for name, (display_name, severity) in ALARMS.items():
        alarm = stack.resource("oci_monitoring_alarm", name)
        assert ev.count(alarm) == 1
        assert ev.attr(alarm, "display_name") == display_name.format(region=HOME_REGION)
        other = evaluator(stack, region=OTHER_REGION)
        assert other.attr(alarm, "display_name") == display_name.format(region=OTHER_REGION), "names its region"
        assert other.attr(alarm, "destinations") == [TOPIC_ID.replace(HOME_REGION, OTHER_REGION)]
        assert ev.attr(alarm, "severity") == severity
        assert ev.attr(alarm, "is_enabled") is True
        assert ev.attr(alarm, "destinations") == [TOPIC_ID]
        body = ev.attr(alarm, "body")
        lines = body.splitlines()
        assert 2 <= len(lines) <= 4, f"{name}: a few lines"
        assert "First: " in body, f"{name}: says what to do first"
        assert (
            "Read the function's invocation log in eu-frankfurt-1 (log group logzio-forwarder, log logzio-invoke)"
            in body
        )
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
    for region in (HOME_REGION, OTHER_REGION):  # one file serves every region's apply
        ev = Evaluator(stack, {**values, "region": region}, computed(region))
        assert ev.validation_errors() == []
        assert ev.precondition_errors() == []
        load_settings(function_config(ev))


def test_registry_example_tfvars_is_complete_and_valid() -> None:
    registry = load_stack(REGISTRY_DIR)
    values = _tfvars(REGISTRY_DIR / "example.tfvars")
    assert set(values) <= set(registry.variables)
    required = {name for name, block in registry.variables.items() if "default" not in block.attrs}
    assert required == {"tenancy_ocid", "region", "compartment_ocid"} <= set(values)
    assert Evaluator(registry, values, computed()).validation_errors() == []
    forwarder = _tfvars(TF_DIR / "example.tfvars")
    assert {k: forwarder[k] for k in required} == {k: values[k] for k in required}, "the same place as the forwarder"


def test_resource_manager_schema_covers_the_variables(stack: Stack) -> None:
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
    return load_fnctl()


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
    assert any("deploy/fnctl.py deploy" in line for line in targets["deploy"])
    assert any("deploy/fnctl.py apply --stack $(STACK)" in line for line in targets["apply"])
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
