"""Loopback stand-in of the OCI Secrets service (``GET /20190301/secretbundles/{secretId}``).

Answers with the real JSON shape of a ``SecretBundle`` so ``oci.secrets.SecretsClient`` parses it unchanged::

    with SecretsStandIn({"ocid1.vaultsecret.oc1..x": "token"}) as secrets:
        client = SecretsClient(config={}, signer=signer, service_endpoint=secrets.endpoint)

Unknown ids get the service's 404 ``NotAuthorizedOrNotFound``; a request without an ``Authorization: Signature``
header gets 401 ``NotAuthenticated`` (signatures are not verified). ``set_secret`` rotates a secret to a new
version (text, or bytes for a secret uploaded from a binary file); ``fail_next`` makes the next requests answer
with an error; ``requests`` records every path asked.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

API_PREFIX = "/20190301/secretbundles/"
_FAILURE_CODES = {400: "InvalidParameter", 429: "TooManyRequests"}


class SecretsStandIn:
    """A Secrets endpoint on ``127.0.0.1`` (ephemeral port), served from a daemon thread."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, list[tuple[bytes, datetime]]] = {}
        self._failures: list[int] = []
        self.requests: list[str] = []
        for secret_id, value in (secrets or {}).items():
            self.set_secret(secret_id, value)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="secrets-standin", daemon=True
        )

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SecretsStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SecretsStandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def set_secret(self, secret_id: str, value: str | bytes) -> int:
        """Create the secret or rotate it to a new CURRENT version; returns the new version number."""
        with self._lock:
            versions = self._versions.setdefault(secret_id, [])
            versions.append((value.encode("utf-8") if isinstance(value, str) else value, datetime.now(UTC)))
            return len(versions)

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status`` (e.g. 500, 503, 429, or 400 as the service answers a
        request it finds invalid) before serving normally."""
        with self._lock:
            self._failures.extend([status] * count)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(path)
            if self._failures:
                status = self._failures.pop(0)
                code = _FAILURE_CODES.get(status, "InternalServerError")
                return status, _error(code, f"stand-in failure ({status})")
            if not authorization or not authorization.startswith("Signature "):
                return 401, _error(
                    "NotAuthenticated",
                    "The required information to complete authentication was not provided or was incorrect.",
                )
            parts = urlsplit(path)
            if not parts.path.startswith(API_PREFIX) or "/" in parts.path[len(API_PREFIX) :]:
                return 404, _error("NotAuthorizedOrNotFound", f"No route for {parts.path}")
            secret_id = unquote(parts.path[len(API_PREFIX) :])
            versions = self._versions.get(secret_id)
            if not versions:
                return 404, _error(
                    "NotAuthorizedOrNotFound",
                    f"Authorization failed or requested resource not found: secret {secret_id}",
                )
            value, created = versions[-1]
            number = len(versions)
        content = base64.b64encode(value).decode("ascii")
        return 200, {
            "secretId": secret_id,
            "versionNumber": number,
            "versionName": None,
            "timeCreated": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "timeOfDeletion": None,
            "timeOfExpiry": None,
            "stages": ["CURRENT", "LATEST"],
            "metadata": None,
            "secretBundleContent": {"contentType": "BASE64", "content": content},
        }


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _handler_for(standin: SecretsStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, body = standin._answer(self.path, self.headers.get("Authorization"))
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("opc-request-id", uuid.uuid4().hex.upper())
            if status == 200:
                self.send_header("etag", f"{body['secretId']}--{body['versionNumber']}")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests read ``standin.requests`` instead."""

    return Handler
