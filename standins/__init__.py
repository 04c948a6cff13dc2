"""Loopback stand-ins for the services the forwarder talks to, for tests and ``make demo`` only.

Each stand-in is a real HTTP server on ``127.0.0.1`` (port 0, a daemon thread), so the code under test runs its
real HTTP stack — the oci SDK's vendored ``requests``, fdk's unix-socket server — instead of being mocked at a
seam the production code never passes through. The function package must never import this package.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, cast

__all__ = ["LoopbackServer", "OwnedHandler"]

OwnerT = TypeVar("OwnerT")


class _Server(ThreadingHTTPServer, Generic[OwnerT]):
    """A threading server that knows which stand-in owns it, so handlers can reach the stand-in's state."""

    daemon_threads = True  # a hung handler (a "slow" answer) must never keep the test process alive
    block_on_close = False

    def __init__(self, owner: OwnerT, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.owner = owner

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a killed or stopped function's kept-alive connection) is not an error worth a
        traceback; anything else is reported as the standard library does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class OwnedHandler(BaseHTTPRequestHandler, Generic[OwnerT]):
    """Request handler base: HTTP/1.1 keep-alive like the real services, and quiet (tests read state, not logs)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """TCP_NODELAY, as real services answer: http.server writes the headers and the body in two sends, and with Nagle
    the body waits for the client's delayed ACK (~40 ms on Linux), which would charge every small request 40 ms."""

    @property
    def owner(self) -> OwnerT:
        """The stand-in whose state this request reads and changes."""
        return cast("_Server[OwnerT]", self.server).owner

    def log_message(self, format: str, *args: object) -> None:
        """Stay silent: the stand-ins record requests for assertions instead of printing them."""

    def read_body(self) -> bytes:
        """Read the whole request body, sized or chunked, so a keep-alive connection stays in step."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        """Decode a chunked body (RFC 9112 §7.1); trailers are read and ignored."""
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(parts)

    def send_bytes(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Answer with a complete, sized body (HTTP/1.1 keep-alive needs Content-Length on every answer)."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status not in (204, 304):  # RFC 9110 §8.6: no Content-Length on these
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)


class LoopbackServer:
    """Start/stop and context-manager plumbing shared by the stand-ins.

    Subclasses set :attr:`handler_class`. ``url``/``endpoint`` are only valid between :meth:`start` and
    :meth:`stop`.
    """

    handler_class: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._httpd: _Server[Self] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind an ephemeral loopback port and serve from a daemon thread; returns ``self`` for chaining."""
        if self._httpd is not None:
            return self
        self._httpd = _Server(self, self.handler_class)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits for one poll; keep teardown quick
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def port(self) -> int:
        """The bound port (raises if the stand-in is not running)."""
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        """Same as :attr:`url`; the name the oci SDK uses (``service_endpoint``)."""
        return self.url

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
