"""A self-made OCI resource principal (RPST v2.2), so the real SDK signer works on a laptop.

On OCI Functions the platform writes a resource-principal session token (a JWT) and a session private key into the
container and points ``OCI_RESOURCE_PRINCIPAL_RPST`` / ``OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM`` at the files.
``oci.auth.signers.get_resource_principals_signer()`` decodes the token *without* verifying it (it needs only an
``exp`` claim, plus ``res_tenant``/``res_compartment`` for its claims) and signs requests with the key as
``keyId="ST$<token>"``. So a key we generate and a token we write make the production code path run unchanged;
the Object Storage stand-in then verifies those signatures against the key of the token they name.

Session tokens are short-lived on the platform, which rotates them (and their key) in those files. A
:class:`Principal` does the same: :meth:`Principal.rotate` issues a new session and writes it where the
environment points; every token it issued is honoured until its ``exp`` by the identity service's clock
(:meth:`Principal.now`), which a test moves forward with :meth:`Principal.advance` instead of waiting for it.
"""

from __future__ import annotations

import base64
import json
import os
import threading
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
class _Session:
    """One issued session: the token, its key pair, and when it expires (``exp``, epoch seconds)."""

    token: str
    private_key: rsa.RSAPrivateKey
    expires: int


class Principal:
    """A resource principal: its current session (token, key pair), the files the platform would mount, and every
    session it issued, each honoured until it expires."""

    def __init__(
        self,
        directory: Path,
        *,
        tenancy_id: str,
        compartment_id: str,
        region: str = REGION,
        lifetime_s: float = _TEN_YEARS,
    ) -> None:
        self.rpst_path = directory / "rpst"
        self.private_pem_path = directory / "private.pem"
        self.tenancy_id = tenancy_id
        self.compartment_id = compartment_id
        self.region = region
        self._lock = threading.Lock()
        self._skew = 0.0
        self._sessions: dict[str, _Session] = {}
        self._current: _Session | None = None
        self.rotate(lifetime_s)

    # ----- the current session ----------------------------------------------------------------------------------

    @property
    def _session(self) -> _Session:
        with self._lock:
            assert self._current is not None
            return self._current

    @property
    def token(self) -> str:
        """The current RPST (JWT); the signer sends it as ``keyId="ST$<token>"``."""
        return self._session.token

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        return self._session.private_key

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self._session.private_key.public_key()

    @property
    def key_id(self) -> str:
        """The ``keyId`` a request signed with the current session carries."""
        return "ST$" + self.token

    @property
    def public_pem(self) -> bytes:
        """The public key in PEM, for code that wants to verify signatures itself."""
        return self.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    # ----- sessions over time -----------------------------------------------------------------------------------

    def now(self) -> float:
        """The identity service's clock (epoch seconds): the real one, moved on by :meth:`advance`."""
        with self._lock:
            return time.time() + self._skew

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the services that check tokens, at once: tokens expire as if time had passed."""
        with self._lock:
            self._skew += seconds

    def rotate(self, lifetime_s: float = _TEN_YEARS) -> None:
        """Issue a new session (key and token, ``exp`` = :meth:`now` + ``lifetime_s``) and write it into the files,
        as the platform does; earlier sessions stay valid until they expire. Each file is replaced atomically."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issued = int(self.now())
        expires = issued + int(lifetime_s)
        token = _jwt(
            private_key, _claims(private_key.public_key(), self.tenancy_id, self.compartment_id, issued, expires)
        )
        with self._lock:  # known to the services before the function can read it
            self._sessions["ST$" + token] = self._current = _Session(token, private_key, expires)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _replace(self.private_pem_path, pem, mode=0o600)
        _replace(self.rpst_path, token.encode("ascii"), mode=0o644)

    def session_key(self, key_id: str) -> rsa.RSAPublicKey | None:
        """The public key of the session a ``keyId`` names, or None when this principal did not issue it; raises
        ``ValueError`` when that session has expired (by :meth:`now`)."""
        with self._lock:
            session = self._sessions.get(key_id)
        if session is None:
            return None
        now = self.now()
        if now >= session.expires:
            raise ValueError(f"the session token expired {now - session.expires:.0f} s ago")
        return session.private_key.public_key()

    # ----- what the function sees -------------------------------------------------------------------------------

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


def _replace(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half of one."""
    partial = path.with_name(path.name + ".new")
    partial.write_bytes(data)
    partial.chmod(mode)
    os.replace(partial, path)


def _claims(
    public_key: rsa.RSAPublicKey, tenancy: str, compartment: str, issued: int, expires: int
) -> dict[str, object]:
    """Claims shaped like a real RPST: the SDK reads ``exp``, ``res_tenant`` and ``res_compartment``."""
    numbers = public_key.public_numbers()
    return {
        "sub": "ocid1.fnfunc.oc1.eu-amsterdam-1.standin",
        "iss": "authService.oracle.com",
        "aud": "oci",
        "iat": issued,
        "exp": expires,
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
    lifetime_s: float = _TEN_YEARS,
) -> Principal:
    """Generate a key and token and write them under ``directory`` (files ``rpst`` and ``private.pem``).

    ``lifetime_s`` sets ``exp``; it defaults far in the future so the token never expires during a test run.
    """
    directory = Path(directory).resolve()  # the SDK treats only absolute values as file paths
    directory.mkdir(parents=True, exist_ok=True)
    return Principal(
        directory, tenancy_id=tenancy_id, compartment_id=compartment_id, region=region, lifetime_s=lifetime_s
    )
