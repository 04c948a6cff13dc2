"""What every signed OCI REST stand-in shares: request signature verification and the error document.

OCI services authenticate every request by its HTTP signature (draft-cavage, as ``oci/signer.py`` builds it) and
answer failures with ``{"code": ..., "message": ...}``. The Object Storage and Monitoring stand-ins both check
signatures with :func:`verify_signature` against the :class:`~standins.principal.Principal`'s public key, so the
function's real signer is exercised the same way on every call it makes. A session token that has expired (by the
principal's clock) is refused like a bad signature: 401 ``NotAuthenticated``.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.request import parse_http_list

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .principal import Principal

__all__ = ["AUTH_MESSAGE", "MAX_CLOCK_SKEW_S", "ServiceError", "TrustsPrincipals", "verify_signature"]

MAX_CLOCK_SKEW_S = 300
"""OCI rejects a signed ``date`` more than five minutes away from its clock."""

_CODES = {
    400: "InvalidParameter",
    401: "NotAuthenticated",
    403: "NotAllowed",
    404: "NotAuthorizedOrNotFound",
    409: "Conflict",
    412: "IfMatchFailed",
    416: "InvalidRange",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
AUTH_MESSAGE = "The required information to complete authentication was not provided or was incorrect."


class ServiceError(Exception):
    """An OCI error answer: status, ``code`` and ``message`` as the JSON body carries them."""

    def __init__(self, status: int, code: str | None = None, message: str = "") -> None:
        self.status = status
        self.code = code or _CODES.get(status, "InternalServerError")
        self.message = message or self.code
        super().__init__(f"{status} {self.code}: {self.message}")

    def body(self) -> bytes:
        """The JSON error document OCI services send."""
        return json.dumps({"code": self.code, "message": self.message}).encode()


class TrustsPrincipals:
    """Whose session tokens a signed stand-in honours: its own principal, and any a test adds with :meth:`trust`
    (a function with a resource principal of its own) until the stand-in is reset."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._also_trusted: list[Principal] = []

    def trust(self, principal: Principal) -> None:
        """Honour ``principal``'s session tokens too (until :meth:`forget_trusted`)."""
        self._also_trusted.append(principal)

    def forget_trusted(self) -> None:
        self._also_trusted.clear()

    @property
    def principals(self) -> list[Principal]:
        return [self.principal, *self._also_trusted]


def _parse_authorization(value: str) -> tuple[str, dict[str, str]]:
    """Split ``Signature k="v",...`` into the scheme and its parameters (quoted values may hold commas)."""
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for item in parse_http_list(rest):
        key, sep, raw = item.strip().partition("=")
        if sep:
            params[key.strip()] = raw.strip()[1:-1] if raw.strip().startswith('"') else raw.strip()
    return scheme, params


def _signing_string(method: str, target: str, headers: Mapping[str, str], signed: list[str]) -> str:
    """The draft-cavage signing string, line by line in the order of ``headers="..."`` (as httpsig_cffi builds it)."""
    lines = []
    for name in signed:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {target}")
        elif name in headers:
            lines.append(f"{name}: {headers[name]}")
        else:
            raise ValueError(f"signed header {name!r} is missing from the request")
    return "\n".join(lines)


def _check_body_headers(headers: Mapping[str, str], signed: list[str], body: bytes) -> None:
    """Signed body headers must describe the body that arrived, or the signature proves nothing about it."""
    if "x-content-sha256" in signed:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if headers.get("x-content-sha256") != digest:
            raise ValueError("x-content-sha256 does not match the body")
    if "content-length" in signed and headers.get("content-length") != str(len(body)):
        raise ValueError("content-length does not match the body")


def _check_date(headers: Mapping[str, str]) -> None:
    raw = headers.get("x-date") or headers.get("date")
    if raw is None:
        raise ValueError("no date header")
    sent = email.utils.parsedate_to_datetime(raw)
    if abs((datetime.now(UTC) - sent).total_seconds()) > MAX_CLOCK_SKEW_S:
        raise ValueError(f"date {raw!r} is more than {MAX_CLOCK_SKEW_S} s from the server clock")


def _session_key(principals: Sequence[Principal], key_id: str) -> rsa.RSAPublicKey | None:
    """The key of the session a ``keyId`` names, if a trusted principal issued it; ``ValueError`` once expired."""
    for principal in principals:
        key = principal.session_key(key_id)
        if key is not None:
            return key
    return None


def verify_signature(
    principals: Sequence[Principal],
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes = b"",
    *,
    api_keys: Mapping[str, rsa.RSAPublicKey] | None = None,
) -> None:
    """Verify an OCI request signature as the service does; raise ``ValueError`` saying why it is refused.

    ``headers`` must have lower-cased names. OCI requires ``date`` (or ``x-date``), ``(request-target)`` and
    ``host`` to be signed; PutObject is signed without the body headers (the SDK passes
    ``enforce_content_headers=False``), so those are checked only when they were signed. A session token
    (``keyId="ST$<token>"``) must be one a trusted principal issued and not yet expired; ``api_keys`` maps the
    ``keyId`` of API-key signers (``<tenancy>/<user>/<fingerprint>``) to their public keys.
    """
    if "authorization" not in headers:
        raise ValueError("no Authorization header")
    scheme, params = _parse_authorization(headers["authorization"])
    if scheme != "Signature":
        raise ValueError(f"authorization scheme {scheme!r} is not 'Signature'")
    if params.get("version", "1") != "1" or params.get("algorithm") != "rsa-sha256":
        raise ValueError("only version 1 rsa-sha256 signatures are accepted")
    key_id = params.get("keyId") or ""
    public_key = _session_key(principals, key_id)
    is_principal = public_key is not None
    if public_key is None:
        public_key = (api_keys or {}).get(key_id)
    if public_key is None:
        raise ValueError("keyId is not a session token of the resource principal, nor a registered API key")
    signed = params.get("headers", "date").lower().split()
    missing = {"(request-target)", "host"} - set(signed)
    if missing or not {"date", "x-date"} & set(signed):
        raise ValueError(f"signature must cover date, (request-target) and host; it covers {signed}")
    _check_body_headers(headers, signed, body)
    _check_date(headers)
    message = _signing_string(method, target, headers, signed).encode("ascii")
    try:
        signature = base64.b64decode(params.get("signature", ""), validate=True)
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        whose = "the principal's" if is_principal else f"API key {key_id!r}'s"
        raise ValueError(f"signature does not verify against {whose} public key") from None
