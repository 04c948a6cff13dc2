"""The shipping token from an OCI Vault secret (config key ``logzio-token-secret-id``).

The secret is read once per container with the function's resource principal and kept for the container's life;
after the listener answers 401 the pipeline calls :meth:`VaultToken.refresh` once and the next
:meth:`VaultToken.token` re-reads the secret, so rotating the token in Vault needs no redeploy.

Only ``oci.secrets`` is imported, and only on the first read, so a container that ships with a plain
``logzio-token`` pays nothing for this module. No message raised here ever contains the token: errors name the
secret OCID, the HTTP status and the service's error code, and decoding errors are raised ``from None``.
"""

from __future__ import annotations

import base64
import binascii
import threading
from typing import Any

from .config import Secret
from .errors import ConfigError, SecretUnavailable
from .secrecy import register

KEY = "logzio-token-secret-id"
"""The config key this module serves; every :class:`ConfigError` raised here names it."""

MAX_ATTEMPTS = 3
"""Attempts per read, including the first (the SDK default is 8)."""
MAX_ELAPSED_S = 20
"""Upper bound on one read including retries (the SDK default of 600 s outlives any function invocation)."""
RETRY_BASE_SLEEP_S: float = 1
"""First back-off between attempts (doubling, capped at 4 s)."""
TIMEOUT_S = (5.0, 10.0)
"""(connect, read) timeout of one HTTP request to the Secrets service."""

_CACHE: dict[str, Secret] = {}
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every cached token (tests; a real container keeps its cache until it is recycled)."""
    with _LOCK:
        _CACHE.clear()


class VaultToken:
    """A :class:`~logzio_forwarder.token.TokenSource` backed by an OCI Vault secret.

    ``signer`` is normally ``oci.auth.signers.get_resource_principals_signer()``; ``endpoint`` overrides the
    regional Secrets endpoint (config key ``secrets-endpoint``, used for loopback stand-ins).
    """

    def __init__(self, secret_id: str, signer: Any, endpoint: str | None = None) -> None:
        if not secret_id.startswith("ocid1."):
            raise ConfigError(KEY, f"{secret_id!r} is not an OCID (expected ocid1.vaultsecret.…)")
        self.secret_id = secret_id
        self._signer = signer
        self._endpoint = endpoint
        self._client: Any = None

    def token(self) -> Secret:
        with _LOCK:
            cached = _CACHE.get(self.secret_id)
        if cached is not None:
            return cached
        secret = self._read()
        with _LOCK:
            _CACHE[self.secret_id] = secret
        return secret

    def refresh(self) -> bool:
        """Drop the cached token; the next :meth:`token` reads the secret's current version again."""
        with _LOCK:
            _CACHE.pop(self.secret_id, None)
        return True

    def _secrets_client(self) -> Any:
        if self._client is None:
            import oci.circuit_breaker
            import oci.retry
            import oci.secrets

            kwargs: dict[str, Any] = {
                "timeout": TIMEOUT_S,
                # As in bucket.py: the SDK's default circuit breaker is shared per service and would turn a few
                # failures into a refusal to even try; the bounded retry below is the only back-off.
                "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
                "retry_strategy": oci.retry.RetryStrategyBuilder(
                    max_attempts_check=True,
                    max_attempts=MAX_ATTEMPTS,
                    total_elapsed_time_check=True,
                    total_elapsed_time_seconds=MAX_ELAPSED_S,
                    retry_base_sleep_time_seconds=RETRY_BASE_SLEEP_S,
                    retry_max_wait_between_calls_seconds=4,
                ).get_retry_strategy(),
            }
            if self._endpoint:
                kwargs["service_endpoint"] = self._endpoint
            self._client = oci.secrets.SecretsClient(config={}, signer=self._signer, **kwargs)
        return self._client

    def _read(self) -> Secret:
        import oci.exceptions

        where = f"Vault secret {self.secret_id}"
        try:
            bundle = self._secrets_client().get_secret_bundle(self.secret_id).data
        except oci.exceptions.ServiceError as exc:
            status, code = exc.status, exc.code
            if status in (401, 403, 404):
                hint = (
                    " (the secret does not exist in this region, or the function's dynamic group lacks "
                    "'read secret-bundles' on it)"
                    if status == 404
                    else ""
                )
                raise ConfigError(KEY, f"could not read {where}: HTTP {status} {code}{hint}") from None
            if status == 400:
                raise ConfigError(KEY, f"could not read {where}: HTTP 400 {code} ({exc.message})") from None
            raise SecretUnavailable(f"could not read {where}: HTTP {status} {code}") from None
        except (oci.exceptions.RequestException, oci.exceptions.ConnectTimeout) as exc:
            raise SecretUnavailable(f"could not reach the Secrets service for {where}: {type(exc).__name__}") from None
        except Exception as exc:  # the SDK's vendored requests raises its own connection errors
            raise SecretUnavailable(f"could not read {where}: {type(exc).__name__}") from None
        value = _decode(bundle, where)
        register(value)  # log lines and error texts that might carry it are scrubbed from now on
        return Secret(value)


def _decode(bundle: Any, where: str) -> str:
    """The token text of a secret bundle; every message names the secret and never the content."""
    content = getattr(bundle, "secret_bundle_content", None)
    content_type = getattr(content, "content_type", None)
    raw = getattr(content, "content", None)
    if content_type != "BASE64" or not isinstance(raw, str):
        raise ConfigError(KEY, f"{where} has no BASE64 text content (content type {content_type!r})")
    try:
        value = base64.b64decode(raw, validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError):
        raise ConfigError(KEY, f"{where} does not hold UTF-8 text (base64 or encoding error)") from None
    if not value:
        raise ConfigError(KEY, f"{where} is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ConfigError(KEY, f"{where} does not look like a shipping token (it holds whitespace inside)")
    return value
