"""A self-made OCI resource principal (RPST v2.2), so the real SDK signer works on a laptop.

On OCI Functions the platform writes a resource-principal session token (a JWT) and a session private key into the
container and points ``OCI_RESOURCE_PRINCIPAL_RPST`` / ``OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM`` at the files.
``oci.auth.signers.get_resource_principals_signer()`` decodes the token *without* verifying it (it needs only an
``exp`` claim, plus ``res_tenant``/``res_compartment`` for its claims) and signs requests with the key as
``keyId="ST$<token>"``. So a key we generate and a token we write make the production code path run unchanged;
the Object Storage stand-in then verifies those signatures against :attr:`Principal.public_key`.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["REGION", "Principal", "make_principal"]

REGION = "eu-amsterdam-1"
_TEN_YEARS = 10 * 365 * 24 * 3600


def _b64url(data: bytes) -> str:
    """JWT's unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int) -> str:
    """A JWK big-endian unsigned integer (RFC 7518 §6.3)."""
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class Principal:
    """A resource principal: session token, key pair, and the files the platform would mount."""

    token: str
    """The RPST (JWT); the signer sends it as ``keyId="ST$<token>"``."""
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    rpst_path: Path
    private_pem_path: Path
    tenancy_id: str
    compartment_id: str
    region: str = REGION

    @property
    def key_id(self) -> str:
        """The ``keyId`` a correctly signed request carries."""
        return "ST$" + self.token

    @property
    def public_pem(self) -> bytes:
        """The public key in PEM, for code that wants to verify signatures itself."""
        return self.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def env(self) -> dict[str, str]:
        """The environment OCI Functions sets for a resource principal (file-path mode, as on the platform)."""
        return {
            "OCI_RESOURCE_PRINCIPAL_VERSION": "2.2",
            "OCI_RESOURCE_PRINCIPAL_RPST": str(self.rpst_path),
            "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM": str(self.private_pem_path),
            "OCI_RESOURCE_PRINCIPAL_REGION": self.region,
        }

    def signer(self) -> Any:
        """The signer ``get_resource_principals_signer()`` builds from :meth:`env`, without touching ``os.environ``."""
        from oci.auth.signers import EphemeralResourcePrincipalSigner

        return EphemeralResourcePrincipalSigner(
            session_token=str(self.rpst_path), private_key=str(self.private_pem_path), region=self.region
        )


def _claims(public_key: rsa.RSAPublicKey, tenancy: str, compartment: str, lifetime_s: int) -> dict[str, object]:
    """Claims shaped like a real RPST: the SDK reads ``exp``, ``res_tenant`` and ``res_compartment``."""
    now = int(time.time())
    numbers = public_key.public_numbers()
    return {
        "sub": "ocid1.fnfunc.oc1.eu-amsterdam-1.standin",
        "iss": "authService.oracle.com",
        "aud": "oci",
        "iat": now,
        "exp": now + lifetime_s,
        "jti": str(uuid.uuid4()),
        "ttype": "res",
        "res_type": "fnfunc",
        "res_tenant": tenancy,
        "res_compartment": compartment,
        "res_id": "ocid1.fnfunc.oc1.eu-amsterdam-1.standin",
        "jwk": {
            "kid": "standin",
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        },
    }


def _jwt(private_key: rsa.RSAPrivateKey, claims: dict[str, object]) -> str:
    """An RS256 JWT self-signed with the session key (nobody verifies it; the SDK decodes it unverified)."""
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "standin"}).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64url(signature)}"


def make_principal(
    directory: Path,
    *,
    tenancy_id: str = "ocid1.tenancy.oc1..standintenancy",
    compartment_id: str = "ocid1.compartment.oc1..standincompartment",
    region: str = REGION,
    lifetime_s: int = _TEN_YEARS,
) -> Principal:
    """Generate a key and token and write them under ``directory`` (files ``rpst`` and ``private.pem``).

    ``lifetime_s`` sets ``exp``; it defaults far in the future so the signer never tries to refresh.
    """
    directory = Path(directory).resolve()  # the SDK treats only absolute values as file paths
    directory.mkdir(parents=True, exist_ok=True)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = _jwt(private_key, _claims(private_key.public_key(), tenancy_id, compartment_id, lifetime_s))
    rpst_path = directory / "rpst"
    pem_path = directory / "private.pem"
    rpst_path.write_text(token)
    pem_path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pem_path.chmod(0o600)
    return Principal(
        token=token,
        private_key=private_key,
        public_key=private_key.public_key(),
        rpst_path=rpst_path,
        private_pem_path=pem_path,
        tenancy_id=tenancy_id,
        compartment_id=compartment_id,
        region=region,
    )
