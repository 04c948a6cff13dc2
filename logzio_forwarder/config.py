"""Function configuration: parsed once from the environment into a frozen, typed :class:`Settings`.

OCI Functions hands application and function config to the container as environment variables, and fdk's
``ctx.Config()`` is ``os.environ``; so the same parser serves the function, the CLI and the tests. Every error
names the key; none ever repeats the token's value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ConfigError

LOGZIO_MAX_BODY = 10_485_760
"""Largest request body the Logz.io bulk listener accepts (bytes, uncompressed)."""
LOGZIO_MAX_LINE = 500_000
"""Largest single log line the listener accepts (bytes)."""
DEFAULT_BATCH_MAX_BYTES = 4_000_000
"""Default cap on one uncompressed request body; see README "Choosing batch-max-bytes" for the measurement."""

REGION_HOSTS = {
    "us": "listener.logz.io",
    "eu": "listener-eu.logz.io",
    "uk": "listener-uk.logz.io",
    "ca": "listener-ca.logz.io",
    "au": "listener-au.logz.io",
    "nl": "listener-nl.logz.io",
    "wa": "listener-wa.logz.io",
}

KEYS = (
    "input-bucket",
    "logzio-url",
    "logzio-region",
    "logzio-token",
    "logzio-token-secret-id",
    "logzio-type",
    "reshape",
    "unwrap",
    "input-prefix",
    "state-prefix",
    "namespace",
    "objectstorage-endpoint",
    "secrets-endpoint",
    "batch-max-bytes",
    "deadline-margin-seconds",
    "catch-up",
    "catch-up-after-seconds",
    "metrics",
    "metrics-namespace",
    "metrics-compartment-id",
    "monitoring-endpoint",
    "reshape",
    "unwrap",
)
"""Every config key the forwarder reads (the Terraform stack and ``make configure`` are checked against it)."""

_TYPE_RE = re.compile(r"^[A-Za-z0-9_.@:-]+$")
_METRICS_NAMESPACE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
DEFAULT_METRICS_NAMESPACE = "logzio_forwarder"
DEFAULT_LOGZIO_TYPE = "oci-audit"
"""The Logz.io log type every line is filed under unless ``logzio-type`` says otherwise (docs/indexing.md: why)."""
REGION_ENV = "OCI_RESOURCE_PRINCIPAL_REGION"
"""Set by OCI Functions to the function's region (with the resource principal); not a config key."""
DEFAULT_CATCH_UP_AFTER_S = 600
MAX_CATCH_UP_AFTER_S = 30 * 24 * 3600


def max_line_bytes(batch_max_bytes: int = DEFAULT_BATCH_MAX_BYTES) -> int:
    """Longest NDJSON line we may send: the listener's limit, and never more than fits in one body."""
    return min(LOGZIO_MAX_LINE, batch_max_bytes - 1)


class Secret:
    """A string that never shows itself in ``repr``/``str``, so it cannot leak through logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Everything the forwarder needs to know about its deployment."""

    input_bucket: str
    listener_url: str
    token: Secret | None
    token_secret_id: str | None
    logzio_type: str = DEFAULT_LOGZIO_TYPE
    reshape: bool = True
    """Make every line keep Logz.io's invalid-log rules and move the record's ``type`` to ``eventType``
    (docs/indexing.md); off ships records as decoded."""
    unwrap: bool = True
    """Ship a Logging entry ``{"datetime", "logContent"}`` as its inner record; off ships it whole."""
    input_prefix: str = "audit"
    state_prefix: str = "forwarder-state/"
    namespace: str | None = None
    objectstorage_endpoint: str | None = None
    secrets_endpoint: str | None = None
    batch_max_bytes: int = DEFAULT_BATCH_MAX_BYTES
    deadline_margin_s: float = 10.0
    catch_up: bool = True
    """After its own work, finish unfinished objects of the bucket (docs/guarantees.md)."""
    catch_up_after_s: int = DEFAULT_CATCH_UP_AFTER_S
    """An object with no progress at all is caught up once it is this old."""
    metrics: bool = True
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    metrics_compartment_id: str | None = None
    """None: the compartment of the function's resource principal."""
    monitoring_endpoint: str | None = None
    region: str | None = None
    """The function's region (``OCI_RESOURCE_PRINCIPAL_REGION``), shipped in every line as ``forwarder.region``;
    None outside OCI Functions."""

    @property
    def max_line_bytes(self) -> int:
        return max_line_bytes(self.batch_max_bytes)

    def is_state_object(self, name: str) -> bool:
        return name.startswith(self.state_prefix)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse the function's config (``ctx.Config()`` / ``os.environ``) into :class:`Settings`."""
    token = _optional(env, "logzio-token")
    secret_id = _optional(env, "logzio-token-secret-id")
    if (token is None) == (secret_id is None):
        raise ConfigError(
            "logzio-token",
            "set exactly one of 'logzio-token' (the shipping token) and 'logzio-token-secret-id' (a Vault secret OCID)",
        )
    settings = Settings(
        input_bucket=_required(env, "input-bucket"),
        listener_url=_listener_url(env),
        token=Secret(token) if token is not None else None,
        token_secret_id=secret_id,
        logzio_type=_logzio_type(env),
        reshape=_switch(env, "reshape"),
        unwrap=_switch(env, "unwrap"),
        input_prefix=env.get("input-prefix", "audit").strip(),
        state_prefix=_state_prefix(env),
        namespace=_optional(env, "namespace"),
        objectstorage_endpoint=_endpoint(env, "objectstorage-endpoint"),
        secrets_endpoint=_endpoint(env, "secrets-endpoint"),
        batch_max_bytes=_int(env, "batch-max-bytes", DEFAULT_BATCH_MAX_BYTES, 1024, LOGZIO_MAX_BODY),
        deadline_margin_s=_float(env, "deadline-margin-seconds", 10.0, 0.0, 290.0),
        catch_up=_switch(env, "catch-up"),
        catch_up_after_s=_int(
            env, "catch-up-after-seconds", DEFAULT_CATCH_UP_AFTER_S, 1, MAX_CATCH_UP_AFTER_S, unit="seconds"
        ),
        metrics=_switch(env, "metrics"),
        metrics_namespace=_metrics_namespace(env),
        metrics_compartment_id=_ocid(env, "metrics-compartment-id", "ocid1.compartment.", "ocid1.tenancy."),
        monitoring_endpoint=_endpoint(env, "monitoring-endpoint"),
        region=_optional(env, REGION_ENV),
    )
    if settings.input_prefix and settings.state_prefix.startswith(settings.input_prefix):
        raise ConfigError(
            "state-prefix",
            f"must lie outside input-prefix {settings.input_prefix!r}, or the forwarder would ship its own state",
        )
    return settings


def _optional(env: Mapping[str, str], key: str) -> str | None:
    value = env.get(key, "").strip()
    return value or None


def _required(env: Mapping[str, str], key: str) -> str:
    value = _optional(env, key)
    if value is None:
        raise ConfigError(key, "is required and not set")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listener_url(env: Mapping[str, str]) -> str:
    """Normalise ``logzio-url`` (or ``logzio-region``) to ``scheme://host:port/``.

    The seed wrote the host and port only (``listener-eu.logz.io:8071``) and implied https; a full URL works too.
    Plain http would send the token in clear text, so it is accepted only for loopback stand-ins.
    """
    url = _optional(env, "logzio-url")
    region = _optional(env, "logzio-region")
    if url is not None and region is not None:
        raise ConfigError("logzio-region", "set either 'logzio-url' or 'logzio-region', not both")
    if url is None:
        if region is None:
            raise ConfigError("logzio-url", "is required (or set 'logzio-region' to one of us, eu, uk, ca, au, nl, wa)")
        host = REGION_HOSTS.get(region.lower())
        if host is None:
            raise ConfigError("logzio-region", f"unknown region {region!r}; use one of {', '.join(REGION_HOSTS)}")
        return f"https://{host}:8071/"
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.query:
        raise ConfigError("logzio-url", "must not carry a query or the token; put the token in 'logzio-token'")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("logzio-url", f"{url!r} is not an http(s) URL or host:port")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("logzio-url", f"{url!r} has an invalid port") from None
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError("logzio-url", "plain http would send the token unencrypted; use https (port 8071)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}{parts.path or '/'}"


def _logzio_type(env: Mapping[str, str]) -> str:
    value = env.get("logzio-type", DEFAULT_LOGZIO_TYPE).strip() or DEFAULT_LOGZIO_TYPE
    if not _TYPE_RE.match(value):
        raise ConfigError("logzio-type", f"{value!r} may contain only letters, digits and _ . @ : - (no spaces)")
    return value


def _state_prefix(env: Mapping[str, str]) -> str:
    value = env.get("state-prefix", "forwarder-state/").strip()
    if not value:
        raise ConfigError("state-prefix", "must not be empty")
    return value if value.endswith("/") else value + "/"


def _endpoint(env: Mapping[str, str], key: str) -> str | None:
    value = _optional(env, key)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(key, f"{value!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(key, "plain http is accepted only for loopback stand-ins; use https")
    return value.rstrip("/")


def _int(env: Mapping[str, str], key: str, default: int, low: int, high: int, *, unit: str = "bytes") -> int:
    raw = _optional(env, key)
    if raw is None:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(key, f"{raw!r} is not a whole number of {unit}") from None
    if not low <= value <= high:
        raise ConfigError(key, f"{value} is outside {low}..{high}")
    return value


def _float(env: Mapping[str, str], key: str, default: float, low: float, high: float) -> float:
    raw = _optional(env, key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(key, f"{raw!r} is not a number of seconds") from None
    if not low <= value <= high:
        raise ConfigError(key, f"{value} is outside {low}..{high}")
    return value


def _switch(env: Mapping[str, str], key: str, default: bool = True) -> bool:
    """``on`` / ``off`` (the words the docs use; case does not matter)."""
    raw = _optional(env, key)
    if raw is None:
        return default
    value = raw.lower()
    if value not in ("on", "off"):
        raise ConfigError(key, f"{raw!r} is neither 'on' nor 'off'")
    return value == "on"


def _metrics_namespace(env: Mapping[str, str]) -> str:
    """Monitoring's rule for custom namespaces: a letter, then letters, digits and ``_``; ``oci_``/``oracle_`` are
    reserved for Oracle's own."""
    value = _optional(env, "metrics-namespace") or DEFAULT_METRICS_NAMESPACE
    if not _METRICS_NAMESPACE_RE.match(value) or len(value) > 256:
        raise ConfigError(
            "metrics-namespace", f"{value!r} must start with a letter and hold only letters, digits and _"
        )
    if value.lower().startswith(("oci_", "oracle_")):
        raise ConfigError("metrics-namespace", f"{value!r} starts with a prefix reserved for Oracle (oci_, oracle_)")
    return value


def _ocid(env: Mapping[str, str], key: str, *kinds: str) -> str | None:
    value = _optional(env, key)
    if value is not None and not value.startswith(kinds):
        raise ConfigError(key, f"{value!r} is not an OCID of kind {' or '.join(k.rstrip('.') for k in kinds)}")
    return value
