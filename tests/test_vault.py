"""``logzio-token-secret-id``: the token read from OCI Vault through the real SDK, against a loopback stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from logzio_forwarder import vault
from logzio_forwarder.config import load_settings
from logzio_forwarder.errors import ConfigError, ForwarderError, SecretUnavailable
from logzio_forwarder.token import TokenSource
from logzio_forwarder.vault import VaultToken
from standins.principal import Principal, make_principal
from standins.secrets import SecretsStandIn

SECRET_ID = "ocid1.vaultsecret.oc1.eu-amsterdam-1.amaaaaaastandinsecret"
TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEF"
ROTATED = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvu"


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(vault, "RETRY_BASE_SLEEP_S", 0.05)  # keep retry tests fast; the bounds are what matter
    vault.clear_cache()
    yield
    vault.clear_cache()


@pytest.fixture(scope="module")
def principal(tmp_path_factory: pytest.TempPathFactory) -> Principal:
    return make_principal(tmp_path_factory.mktemp("rp"))


@pytest.fixture
def signer(principal: Principal) -> Any:
    return principal.signer()


@pytest.fixture
def secrets() -> Iterator[SecretsStandIn]:
    with SecretsStandIn({SECRET_ID: TOKEN}) as standin:
        yield standin


def test_is_a_token_source(signer: Any, secrets: SecretsStandIn) -> None:
    source: TokenSource = VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint)
    assert source.token().reveal() == TOKEN


def test_reads_through_the_sdk_with_a_signed_request(signer: Any, secrets: SecretsStandIn) -> None:
    assert VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint).token().reveal() == TOKEN
    assert secrets.requests == [f"/20190301/secretbundles/{SECRET_ID}"]


def test_caches_for_the_container_life(signer: Any, secrets: SecretsStandIn) -> None:
    first = VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint)
    assert first.token().reveal() == TOKEN
    assert first.token().reveal() == TOKEN
    # A new instance (the next invocation in the same container) still hits the module-level cache.
    assert VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint).token().reveal() == TOKEN
    assert secrets.request_count == 1


def test_refresh_rereads_a_rotated_token(signer: Any, secrets: SecretsStandIn) -> None:
    source = VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint)
    assert source.token().reveal() == TOKEN
    secrets.set_secret(SECRET_ID, ROTATED)
    assert source.token().reveal() == TOKEN, "cached until the listener rejects it"
    assert source.refresh() is True
    assert source.token().reveal() == ROTATED
    assert source.token().reveal() == ROTATED
    assert secrets.request_count == 2


def test_trailing_newline_in_the_secret_is_ignored(signer: Any, secrets: SecretsStandIn) -> None:
    secrets.set_secret(SECRET_ID, TOKEN + "\n")
    assert VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint).token().reveal() == TOKEN


def test_missing_secret_names_the_ocid(signer: Any, secrets: SecretsStandIn) -> None:
    missing = "ocid1.vaultsecret.oc1.eu-amsterdam-1.amaaaaaanosuchsecret"
    with pytest.raises(ConfigError) as caught:
        VaultToken(missing, signer, endpoint=secrets.endpoint).token()
    text = str(caught.value)
    assert caught.value.key == "logzio-token-secret-id"
    assert missing in text
    assert "404" in text
    assert "NotAuthorizedOrNotFound" in text
    assert "read secret-bundles" in text
    assert secrets.request_count == 1, "a 404 is not retried"


def test_a_request_the_service_finds_invalid_is_a_config_error_with_its_reason(
    signer: Any, secrets: SecretsStandIn
) -> None:
    secrets.fail_next(1, status=400)
    with pytest.raises(ConfigError) as caught:
        VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint).token()
    assert caught.value.key == "logzio-token-secret-id"
    reason = "HTTP 400 InvalidParameter (stand-in failure (400))"
    assert f"could not read Vault secret {SECRET_ID}: {reason}" in str(caught.value)
    assert secrets.request_count == 1, "a 400 is not retried"


def test_a_secret_that_is_not_utf8_text_is_a_config_error_that_shows_none_of_it(
    signer: Any, secrets: SecretsStandIn
) -> None:
    secrets.set_secret(SECRET_ID, b"\xff\xfe" + TOKEN.encode())  # uploaded from a file in another encoding
    with pytest.raises(ConfigError) as caught:
        VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint).token()
    assert caught.value.key == "logzio-token-secret-id"
    assert f"Vault secret {SECRET_ID} does not hold UTF-8 text (base64 or encoding error)" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.__suppress_context__


def test_unsigned_request_is_rejected_clearly(principal: Principal, secrets: SecretsStandIn) -> None:
    from oci.auth.signers import SecurityTokenSigner

    class NoSignature(SecurityTokenSigner):  # type: ignore[misc]
        """A signer that signs nothing, as a broken principal setup would."""

        def __call__(self, request: Any, enforce_content_headers: bool = True) -> Any:
            return request

    unsigned = NoSignature(principal.token, principal.private_key)
    with pytest.raises(ConfigError, match=r"401 NotAuthenticated") as caught:
        VaultToken(SECRET_ID, unsigned, endpoint=secrets.endpoint).token()
    assert secrets.request_count == 1, "a 401 is not retried"
    assert SECRET_ID in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_token_never_appears_in_error_text(signer: Any, secrets: SecretsStandIn) -> None:
    source = VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint)
    assert source.token().reveal() == TOKEN
    for bad in (TOKEN + " " + TOKEN, "   ", TOKEN + "\x00"):
        secrets.set_secret(SECRET_ID, bad)
        source.refresh()
        with pytest.raises(ConfigError) as caught:
            source.token()
        assert SECRET_ID in str(caught.value)
        assert TOKEN not in str(caught.value)
        assert TOKEN not in repr(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None or caught.value.__suppress_context__
    # The Secret wrapper itself never shows the value either.
    secrets.set_secret(SECRET_ID, TOKEN)
    source.refresh()
    assert TOKEN not in repr(source.token())
    assert TOKEN not in str(source.token())


def test_transient_failure_is_retried_a_bounded_number_of_times(signer: Any, secrets: SecretsStandIn) -> None:
    secrets.fail_next(1, status=503)
    assert VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint).token().reveal() == TOKEN
    assert secrets.request_count == 2


def test_persistent_failure_gives_up_after_max_attempts(
    signer: Any, secrets: SecretsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vault, "MAX_ELAPSED_S", 5)
    secrets.fail_next(10, status=500)
    with pytest.raises(SecretUnavailable) as caught:
        VaultToken(SECRET_ID, signer, endpoint=secrets.endpoint).token()
    assert isinstance(caught.value, ForwarderError)
    assert SECRET_ID in str(caught.value)
    assert secrets.request_count == vault.MAX_ATTEMPTS


def test_unreachable_endpoint_is_a_clear_error(signer: Any) -> None:
    with SecretsStandIn() as gone:
        endpoint = gone.endpoint
    with pytest.raises(SecretUnavailable) as caught:
        VaultToken(SECRET_ID, signer, endpoint=endpoint).token()
    assert SECRET_ID in str(caught.value)


def test_rejects_a_value_that_is_not_an_ocid(signer: Any) -> None:
    with pytest.raises(ConfigError, match="logzio-token-secret-id"):
        VaultToken("my-token-secret", signer)


def test_config_accepts_exactly_one_token_source() -> None:
    base = {"input-bucket": "logfile_download_bucket", "logzio-region": "eu"}
    assert load_settings({**base, "logzio-token-secret-id": SECRET_ID}).token_secret_id == SECRET_ID
    assert load_settings({**base, "logzio-token": TOKEN}).token is not None
    for env in (base, {**base, "logzio-token": TOKEN, "logzio-token-secret-id": SECRET_ID}):
        with pytest.raises(ConfigError, match="exactly one"):
            load_settings(env)
