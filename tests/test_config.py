"""Function configuration: every key's parsing, default and error, and the token kept out of every text."""

from __future__ import annotations

import pytest

from logzio_forwarder.config import (
    DEFAULT_BATCH_MAX_BYTES,
    KEYS,
    LOGZIO_MAX_BODY,
    LOGZIO_MAX_LINE,
    Secret,
    Settings,
    load_settings,
)
from logzio_forwarder.errors import ConfigError

TOKEN = "cfgTOKENvalue9f8e7d6c5b4a"
BASE = {
    "input-bucket": "logfile_download_bucket",
    "logzio-url": "listener-eu.logz.io:8071",
    "logzio-token": TOKEN,
}


def load(**overrides: str | None) -> Settings:
    env = {**BASE, **{k.replace("_", "-"): v for k, v in overrides.items()}}
    return load_settings({k: v for k, v in env.items() if v is not None})


def error(**overrides: str | None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(**overrides)
    assert TOKEN not in str(caught.value)
    return caught.value


def test_minimal_config_and_defaults() -> None:
    settings = load()
    assert settings.input_bucket == "logfile_download_bucket"
    assert settings.listener_url == "https://listener-eu.logz.io:8071/"
    assert settings.token == Secret(TOKEN)
    assert settings.token is not None
    assert settings.token.reveal() == TOKEN
    assert settings.token_secret_id is None
    assert settings.logzio_type == "oci-audit"
    assert settings.input_prefix == "audit"
    assert settings.state_prefix == "forwarder-state/"
    assert settings.namespace is None
    assert settings.objectstorage_endpoint is None
    assert settings.secrets_endpoint is None
    assert settings.batch_max_bytes == DEFAULT_BATCH_MAX_BYTES
    assert settings.deadline_margin_s == 10.0
    assert settings.max_line_bytes == LOGZIO_MAX_LINE
    assert (settings.catch_up, settings.catch_up_after_s) == (True, 600)
    assert (settings.metrics, settings.metrics_namespace) == (True, "logzio_forwarder")
    assert (settings.metrics_compartment_id, settings.monitoring_endpoint) == (None, None)
    assert (settings.reshape, settings.unwrap, settings.region) == (True, True, None)


def test_every_key_is_read() -> None:
    settings = load(
        input_bucket=" in-bucket ",
        logzio_type="audit-trail",
        reshape="off",
        unwrap="Off",
        input_prefix="logs/audit/",
        state_prefix="progress",
        namespace="axyz",
        objectstorage_endpoint="https://objectstorage.eu-amsterdam-1.oraclecloud.com/",
        secrets_endpoint="https://secrets.vaults.eu-amsterdam-1.oci.oraclecloud.com",
        batch_max_bytes="2_000_000",
        deadline_margin_seconds="12.5",
        catch_up="OFF",
        catch_up_after_seconds="90",
        metrics="off",
        metrics_namespace="audit_shipping",
        metrics_compartment_id="ocid1.compartment.oc1..aaaaops",
        monitoring_endpoint="https://telemetry-ingestion.eu-amsterdam-1.oraclecloud.com/",
    )
    assert settings.input_bucket == "in-bucket"
    assert settings.logzio_type == "audit-trail"
    assert (settings.reshape, settings.unwrap) == (False, False)
    assert settings.input_prefix == "logs/audit/"
    assert settings.state_prefix == "progress/"
    assert settings.namespace == "axyz"
    assert settings.objectstorage_endpoint == "https://objectstorage.eu-amsterdam-1.oraclecloud.com"
    assert settings.secrets_endpoint == "https://secrets.vaults.eu-amsterdam-1.oci.oraclecloud.com"
    assert settings.batch_max_bytes == 2_000_000
    assert settings.deadline_margin_s == 12.5
    assert (settings.catch_up, settings.catch_up_after_s) == (False, 90)
    assert (settings.metrics, settings.metrics_namespace) == (False, "audit_shipping")
    assert settings.metrics_compartment_id == "ocid1.compartment.oc1..aaaaops"
    assert settings.monitoring_endpoint == "https://telemetry-ingestion.eu-amsterdam-1.oraclecloud.com"
    assert set(KEYS) >= {"input-bucket", "logzio-url", "logzio-token", "batch-max-bytes", "deadline-margin-seconds"}


@pytest.mark.parametrize("key", ["input-bucket"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_required_key_is_named(key: str, value: str | None) -> None:
    err = error(**{key.replace("-", "_"): value})
    assert err.key == key
    assert key in str(err)
    assert "required" in str(err)


def test_missing_listener_names_both_ways_to_set_it() -> None:
    err = error(logzio_url=None)
    assert err.key == "logzio-url"
    assert "logzio-region" in str(err)


# --- logzio-url --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("listener-eu.logz.io:8071", "https://listener-eu.logz.io:8071/"),
        ("listener.logz.io", "https://listener.logz.io/"),
        ("https://listener-uk.logz.io:8071", "https://listener-uk.logz.io:8071/"),
        ("https://listener-uk.logz.io:8071/", "https://listener-uk.logz.io:8071/"),
        ("  https://Listener-CA.logz.io:8071/  ", "https://listener-ca.logz.io:8071/"),
        ("http://127.0.0.1:8070", "http://127.0.0.1:8070/"),
        ("http://127.9.8.7:9", "http://127.9.8.7:9/"),
        ("http://localhost:8070/", "http://localhost:8070/"),
        ("http://[::1]:8070", "http://[::1]:8070/"),
        ("https://[2001:db8::1]:8071", "https://[2001:db8::1]:8071/"),
    ],
)
def test_logzio_url_forms(value: str, expected: str) -> None:
    assert load(logzio_url=value).listener_url == expected


@pytest.mark.parametrize(
    "value", ["http://listener.logz.io:8070", "http://10.0.0.1:8070", "http://localhost.example.com", "http://[::2]"]
)
def test_plain_http_is_refused_except_for_loopback(value: str) -> None:
    err = error(logzio_url=value)
    assert err.key == "logzio-url"
    assert "https" in str(err)


@pytest.mark.parametrize(
    "value",
    [
        f"https://listener.logz.io:8071/?token={TOKEN}",
        f"listener.logz.io:8071?token={TOKEN}&type=http-bulk",
        f"http://127.0.0.1:8070/?token={TOKEN}",
        "https://listener.logz.io:8071/?type=oci",
    ],
)
def test_a_query_or_token_in_the_url_is_refused_without_echoing_it(value: str) -> None:
    err = error(logzio_url=value)
    assert err.key == "logzio-url"
    assert "token" in str(err)


@pytest.mark.parametrize("value", ["ftp://listener.logz.io", "https://", "https://listener.logz.io:port", "://x"])
def test_invalid_urls_are_refused(value: str) -> None:
    assert error(logzio_url=value).key == "logzio-url"


# --- logzio-region -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us", "listener.logz.io"),
        ("eu", "listener-eu.logz.io"),
        ("EU", "listener-eu.logz.io"),
        ("uk", "listener-uk.logz.io"),
        ("ca", "listener-ca.logz.io"),
        ("au", "listener-au.logz.io"),
        ("nl", "listener-nl.logz.io"),
        ("wa", "listener-wa.logz.io"),
    ],
)
def test_region_shortcut(region: str, host: str) -> None:
    assert load(logzio_url=None, logzio_region=region).listener_url == f"https://{host}:8071/"


def test_unknown_region_lists_the_known_ones() -> None:
    err = error(logzio_url=None, logzio_region="mars")
    assert err.key == "logzio-region"
    assert "'mars'" in str(err)
    assert "eu" in str(err)
    assert "us" in str(err)


def test_url_and_region_together_are_refused() -> None:
    err = error(logzio_region="eu")
    assert err.key == "logzio-region"
    assert "logzio-url" in str(err)


# --- token -------------------------------------------------------------------------------------------------------


def test_token_from_vault_secret() -> None:
    settings = load(logzio_token=None, logzio_token_secret_id="ocid1.vaultsecret.oc1..x")
    assert settings.token is None
    assert settings.token_secret_id == "ocid1.vaultsecret.oc1..x"


@pytest.mark.parametrize(
    "overrides",
    [
        {"logzio_token": None},
        {"logzio_token": "  "},
        {"logzio_token_secret_id": "ocid1.vaultsecret.oc1..x"},
    ],
)
def test_exactly_one_token_key_must_be_set(overrides: dict[str, str | None]) -> None:
    err = error(**overrides)
    assert err.key == "logzio-token"
    assert "logzio-token-secret-id" in str(err)


def test_token_is_stripped() -> None:
    settings = load(logzio_token=f"  {TOKEN}\n")
    assert settings.token is not None
    assert settings.token.reveal() == TOKEN


def test_token_never_shows_in_repr_or_str() -> None:
    settings = load()
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
    assert settings.token is not None
    assert TOKEN not in repr(settings.token)
    assert TOKEN not in f"{settings.token}"


@pytest.mark.parametrize(
    "overrides",
    [
        {"input_bucket": None},
        {"logzio_url": "http://listener.logz.io"},
        {"logzio_url": "https://listener.logz.io:bad"},
        {"logzio_region": "eu"},
        {"logzio_token_secret_id": "ocid1.vaultsecret.oc1..x"},
        {"logzio_type": "has spaces"},
        {"batch_max_bytes": "lots"},
        {"batch_max_bytes": "99999999"},
        {"deadline_margin_seconds": "soon"},
        {"state_prefix": "audit-state/"},
        {"objectstorage_endpoint": "http://objectstorage.example.com"},
    ],
)
def test_token_never_appears_in_config_errors(overrides: dict[str, str | None]) -> None:
    error(**overrides)  # error() asserts the token is absent from the text


# --- other keys --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["http-bulk", "oci_audit", "a.b@c:d-e", "  oci-audit  "])
def test_logzio_type_accepts_listener_safe_names(value: str) -> None:
    assert load(logzio_type=value).logzio_type == value.strip()


def test_empty_logzio_type_means_the_default() -> None:
    assert load(logzio_type="  ").logzio_type == "oci-audit"


@pytest.mark.parametrize("value", ["two words", "a/b", "type?x=1", "a&b", "ü"])
def test_logzio_type_refuses_what_breaks_the_query(value: str) -> None:
    err = error(logzio_type=value)
    assert err.key == "logzio-type"
    assert "spaces" in str(err)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1024", 1024), ("4000000", 4_000_000), ("10_485_760", LOGZIO_MAX_BODY), (" 65536 ", 65536)],
)
def test_batch_max_bytes_within_bounds(value: str, expected: int) -> None:
    settings = load(batch_max_bytes=value)
    assert settings.batch_max_bytes == expected
    assert settings.max_line_bytes == min(LOGZIO_MAX_LINE, expected - 1)


@pytest.mark.parametrize("value", ["10485761", "20000000", "1023", "0", "-5"])
def test_batch_max_bytes_out_of_bounds(value: str) -> None:
    err = error(batch_max_bytes=value)
    assert err.key == "batch-max-bytes"
    assert "10485760" in str(err)


@pytest.mark.parametrize("value", ["4MB", "1.5e6", "four"])
def test_batch_max_bytes_not_a_number(value: str) -> None:
    err = error(batch_max_bytes=value)
    assert err.key == "batch-max-bytes"
    assert "whole number" in str(err)


@pytest.mark.parametrize(("value", "expected"), [("0", 0.0), ("2.5", 2.5), ("290", 290.0)])
def test_deadline_margin(value: str, expected: float) -> None:
    assert load(deadline_margin_seconds=value).deadline_margin_s == expected


@pytest.mark.parametrize("value", ["-1", "291", "ten", "nan"])
def test_deadline_margin_refused(value: str) -> None:
    assert error(deadline_margin_seconds=value).key == "deadline-margin-seconds"


def test_empty_input_prefix_means_the_whole_bucket() -> None:
    assert load(input_prefix="").input_prefix == ""


def test_state_prefix_gets_a_slash_and_may_not_be_empty() -> None:
    assert load(state_prefix="state").state_prefix == "state/"
    assert error(state_prefix=" ").key == "state-prefix"


@pytest.mark.parametrize(("input_prefix", "state_prefix"), [("audit", "audit-state/"), ("audit/", "audit/state/")])
def test_state_prefix_inside_input_prefix_is_refused(input_prefix: str, state_prefix: str) -> None:
    err = error(input_prefix=input_prefix, state_prefix=state_prefix)
    assert err.key == "state-prefix"
    assert "input-prefix" in str(err)


def test_state_objects_are_recognised() -> None:
    settings = load()
    assert settings.is_state_object("forwarder-state/audit/x.log.gz.json")
    assert not settings.is_state_object("audit/forwarder-state/x")


@pytest.mark.parametrize("key", ["catch-up", "metrics", "reshape", "unwrap"])
@pytest.mark.parametrize("value", ["yes", "true", "1", "enabled"])
def test_switches_take_only_on_or_off(key: str, value: str) -> None:
    err = error(**{key.replace("-", "_"): value})
    assert err.key == key
    assert repr(value) in str(err)


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("600", 600), ("3_600", 3600)])
def test_catch_up_after_seconds(value: str, expected: int) -> None:
    assert load(catch_up_after_seconds=value).catch_up_after_s == expected


@pytest.mark.parametrize("value", ["0", "-1", "2592001", "ten", "1.5"])
def test_catch_up_after_seconds_refused(value: str) -> None:
    assert error(catch_up_after_seconds=value).key == "catch-up-after-seconds"


@pytest.mark.parametrize("value", ["1abc", "with-dash", "with space", "oci_custom", "ORACLE_x", "ü"])
def test_metrics_namespace_follows_monitoring_rules(value: str) -> None:
    err = error(metrics_namespace=value)
    assert err.key == "metrics-namespace"
    assert repr(value) in str(err)


@pytest.mark.parametrize("value", ["ocid1.compartment.oc1..aaaa", "ocid1.tenancy.oc1..aaaa"])
def test_metrics_compartment_is_a_compartment_or_the_tenancy(value: str) -> None:
    assert load(metrics_compartment_id=value).metrics_compartment_id == value


@pytest.mark.parametrize("value", ["compartment", "ocid1.bucket.oc1..aaaa"])
def test_metrics_compartment_refused(value: str) -> None:
    assert error(metrics_compartment_id=value).key == "metrics-compartment-id"


@pytest.mark.parametrize("key", ["objectstorage-endpoint", "secrets-endpoint", "monitoring-endpoint"])
def test_endpoints_must_be_https_or_loopback(key: str) -> None:
    name = key.replace("-", "_")
    assert getattr(load(**{name: "http://127.0.0.1:9999/"}), name) == "http://127.0.0.1:9999"
    assert error(**{name: "http://objectstorage.example.com"}).key == key
    assert error(**{name: "objectstorage.example.com"}).key == key


def test_the_region_is_the_resource_principals_and_optional() -> None:
    """OCI Functions names the function's region beside its resource principal; it is not a config key."""
    assert load_settings({**BASE, "OCI_RESOURCE_PRINCIPAL_REGION": "eu-frankfurt-1"}).region == "eu-frankfurt-1"
    assert load().region is None
    assert "OCI_RESOURCE_PRINCIPAL_REGION" not in KEYS
