"""Run the REAL fdk server as a child process and invoke it the way the Fn agent on OCI Functions does.

The child is ``fdk <repo>/func.py handler`` with ``FN_FORMAT=http-stream`` and ``FN_LISTENER=unix:<dir>/fn.sock``
— the same entry point the Python image runs — so fdk's own request parsing, context building, deadline header,
exception-to-502 mapping and logging are all in the loop. Invocations are ``POST /call`` over the unix socket
with a chunked body, ``Fn-Deadline`` in RFC 3339 ``...Z`` form and the agent's other headers.

Readiness needs no sleeping: a thread reads the child's stderr line by line (``FDK_DEBUG=1`` makes fdk log its
start-up) and signals once fdk has created the socket symlink. fdk logs "sym-linking ..." *before* calling
``os.symlink``, so the signal is the next line, "socket permissions: ...", which fdk logs after ``os.stat`` of the
symlink succeeded.

fdk imports ``func.py`` lazily, on the first request: an import error shows up as a 502 from the first
:meth:`FdkServer.invoke`, not at start.

Two variables of the test process change how the child runs, for every server started (the suite, the demo, the
benchmark alike):

- ``FDK_IMAGE=<root>``: as in the function's image. ``<root>/python`` is what the image's ``/python`` holds
  (``make image-tree``) and ``<root>/function`` its ``/function``; the child is ``python3 -S <root>/python/bin/fdk
  <root>/function/func.py handler`` with ``PYTHONPATH=<root>/function:<root>/python``. ``-S`` leaves out every
  site-packages directory, so nothing outside those two can help (``make image-test``).
- ``FDK_IMPORT_TRACE=<dir>``: the child runs under :mod:`standins.importtrace`, which writes every module it imports
  to ``<dir>`` (``deploy/image_tree.py trace``).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from .childenv import fresh_env

__all__ = ["FUNCTION_OCID", "REPO_ROOT", "FdkServer", "FdkStartError", "Invocation", "fn_deadline"]

REPO_ROOT = Path(__file__).resolve().parents[1]
_READY_MARKERS = (" - socket permissions: ", " - starting infinite loop")
"""Logged by ``fdk.start`` right after ``os.symlink`` + ``os.stat`` of the socket path succeeded (the leading
`` - `` tells "socket permissions" from the earlier "phony socket permissions")."""
_CHUNK = 64 * 1024
FUNCTION_OCID = "ocid1.fnfunc.oc1.eu-amsterdam-1.standin"


class FdkStartError(RuntimeError):
    """The fdk child did not come up; the message carries everything it printed."""


@dataclass(frozen=True)
class Invocation:
    """fdk's answer to one ``/call``."""

    status: int
    headers: Mapping[str, str]
    """Response headers, names lower-cased."""
    body: bytes
    call_id: str = ""

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def fn_deadline(deadline: datetime) -> str:
    """``Fn-Deadline`` as the agent on OCI sends it: RFC 3339, UTC, ``Z``, whole seconds."""
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=UTC)
    return deadline.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id() -> str:
    """A 26-character Crockford-base32 id shaped like the agent's ULID call ids."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(26))


class _UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over an ``AF_UNIX`` stream socket: what the Fn agent uses to reach the function."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._socket_path)
        self.sock = sock


@dataclass
class _Output:
    """Lines the child printed, gathered by reader threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    stderr: list[str] = field(default_factory=list)
    combined: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)

    def add(self, line: str, *, is_stderr: bool) -> None:
        with self.lock:
            self.combined.append(line)
            if is_stderr:
                self.stderr.append(line)
        if is_stderr and any(marker in line for marker in _READY_MARKERS):
            self.ready.set()


class FdkServer:
    """The function under the real fdk, reachable over a unix socket.

    ``env`` is the function's config (``input-bucket``...); ``principal_env`` the resource-principal variables.
    The child's environment is built from scratch (:func:`~.childenv.fresh_env`), so nothing from the test process
    leaks in by accident.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        principal_env: Mapping[str, str] | None = None,
        func_path: Path | None = None,
        entrypoint: str = "handler",
        cwd: Path | None = None,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.config_env = dict(env)
        self.principal_env = dict(principal_env or {})
        self.image = _image_root()
        home = REPO_ROOT if self.image is None else self.image / "function"
        self.func_path = Path(func_path) if func_path is not None else home / "func.py"
        self.entrypoint = entrypoint
        self.cwd = Path(cwd) if cwd is not None else home
        self.start_timeout_s = start_timeout_s
        self._dir: Path | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._out = _Output()
        self._readers: list[threading.Thread] = []

    # ----- lifecycle ------------------------------------------------------------------------------------------

    @property
    def socket_path(self) -> Path:
        """Where fdk's socket (a symlink to ``phonyfn.sock``) lives."""
        if self._dir is None:
            raise RuntimeError("FdkServer is not started")
        return self._dir / "fn.sock"

    def command(self) -> list[str]:
        """The child's argv: the ``fdk`` console script of this interpreter's environment (or of ``FDK_IMAGE``'s
        tree, under a bare ``python3 -S``), like the image runs; under ``FDK_IMPORT_TRACE``, through the tracer."""
        args = [str(self.func_path), self.entrypoint]
        if self.image is not None:
            python = [getattr(sys, "_base_executable", sys.executable), "-S"]
            script = self.image / "python" / "bin" / "fdk"
        else:
            python = [sys.executable]
            script = Path(sys.executable).parent / "fdk"
        trace = os.environ.get("FDK_IMPORT_TRACE")
        if trace:
            return [*python, str(REPO_ROOT / "standins" / "importtrace.py"), trace, str(script), *args]
        if script.exists() or self.image is not None:
            return [*python, str(script), *args]
        # ``python -m fdk.scripts.fdk`` would do nothing: that module has no ``__main__`` guard calling main().
        bootstrap = "import sys; from fdk.scripts.fdk import main; sys.argv[0] = 'fdk'; main()"
        return [*python, "-c", bootstrap, *args]

    def child_env(self) -> dict[str, str]:
        """The environment the child gets: platform variables, principal, then the function's config."""
        base = fresh_env(
            **{
                "PYTHONPATH": str(self.cwd) if self.image is None else f"{self.cwd}{os.pathsep}{self.image / 'python'}",
                "PYTHONUNBUFFERED": "1",
                "FN_FORMAT": "http-stream",
                "FN_LISTENER": f"unix:{self.socket_path}",
                "FDK_DEBUG": "1",
                "FN_APP_ID": "ocid1.fnapp.oc1.eu-amsterdam-1.standin",
                "FN_FN_ID": FUNCTION_OCID,
                "FN_APP_NAME": "logzio",
                "FN_FN_NAME": "logzio-from-bucket",
                "FN_MEMORY": "256",
                "FN_TYPE": "sync",
            }
        )
        if self.image is not None:
            base["PYTHONDONTWRITEBYTECODE"] = "1"  # the image's files are read-only: leave the tree as built
        base.update(self.principal_env)
        base.update(self.config_env)
        return base

    def start(self) -> Self:
        """Spawn fdk and block until its socket exists; raise :class:`FdkStartError` with its output otherwise."""
        if self._proc is not None:
            return self
        # A short private directory: unix socket paths are limited to ~107 bytes.
        self._dir = Path(tempfile.mkdtemp(prefix="fn-"))
        self._out = _Output()
        self._proc = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self.child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        assert self._proc.stdout is not None
        assert self._proc.stderr is not None
        self._readers = [
            self._reader(self._proc.stderr, is_stderr=True),
            self._reader(self._proc.stdout, is_stderr=False),
        ]
        self._wait_ready()
        return self

    def _reader(self, stream: IO[str], *, is_stderr: bool) -> threading.Thread:
        """Drain one pipe line by line (an undrained pipe would block the child once its buffer fills)."""

        def run() -> None:
            for line in stream:
                self._out.add(line.rstrip("\n"), is_stderr=is_stderr)
            if is_stderr:
                self._out.exited.set()
                self._out.ready.set()  # wake the waiter; it checks whether the child died

        thread = threading.Thread(target=run, name=f"fdk-{'stderr' if is_stderr else 'stdout'}", daemon=True)
        thread.start()
        return thread

    def _wait_ready(self) -> None:
        ok = self._out.ready.wait(self.start_timeout_s)
        if ok and not self._out.exited.is_set():
            return
        reason = "exited" if self._out.exited.is_set() else f"did not open its socket within {self.start_timeout_s} s"
        self.stop()
        raise FdkStartError(f"fdk {reason}; command {self.command()}; output:\n{self.logs()}")

    def stop(self) -> None:
        """Terminate the child (kill if it lingers), join the readers, remove the socket directory; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            for thread in self._readers:
                thread.join(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def kill(self) -> None:
        """SIGKILL the child, as the platform does at the deadline: no cleanup, no last words."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=5)

    @property
    def returncode(self) -> int | None:
        """The child's exit status, ``None`` while it runs (or before start)."""
        return None if self._proc is None else self._proc.poll()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- output ---------------------------------------------------------------------------------------------

    @property
    def stderr_lines(self) -> list[str]:
        """Everything the child wrote to stderr so far (a copy)."""
        with self._out.lock:
            return list(self._out.stderr)

    def logs(self) -> str:
        """stderr and stdout interleaved in arrival order, as one text."""
        with self._out.lock:
            return "\n".join(self._out.combined)

    # ----- invocation -----------------------------------------------------------------------------------------

    def invoke(
        self,
        body: bytes | Mapping[str, Any] | list[Any],
        *,
        deadline: datetime | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Invocation:
        """``POST /call`` like the agent: chunked body, Content-Type JSON, Fn-Call-Id, Fn-Deadline, Date,
        Oci-Subject-Id/-Type, Opc-Request-Id. ``headers`` override or add to those (a value of ``""`` removes one).
        The socket timeout defaults to the deadline plus 30 s."""
        if self._proc is None:
            raise RuntimeError("FdkServer is not started")
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        now = datetime.now(UTC)
        deadline = deadline or now + timedelta(seconds=120)
        call_id = _new_id()
        request_headers = self._agent_headers(call_id, deadline, now)
        for name, value in (headers or {}).items():
            request_headers = {k: v for k, v in request_headers.items() if k.lower() != name.lower()}
            if value != "":
                request_headers[name] = value
        if timeout_s is None:
            deadline_utc = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)
            timeout_s = max((deadline_utc - now).total_seconds(), 0.0) + 30.0
        return self._post(payload, request_headers, call_id, timeout_s)

    @staticmethod
    def _agent_headers(call_id: str, deadline: datetime, now: datetime) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Fn-Call-Id": call_id,
            "Fn-Deadline": fn_deadline(deadline),
            "Date": format_datetime(now, usegmt=True),
            "Oci-Subject-Id": FUNCTION_OCID,
            "Oci-Subject-Type": "resource",
            "Opc-Request-Id": f"/{_new_id()}/{call_id}",
        }

    def _post(self, payload: bytes, headers: Mapping[str, str], call_id: str, timeout_s: float) -> Invocation:
        conn = _UnixHTTPConnection(str(self.socket_path), timeout_s)
        try:
            # An iterable body and no Content-Length: http.client sends Transfer-Encoding: chunked.
            conn.request("POST", "/call", body=_chunks(payload), headers=dict(headers), encode_chunked=True)
            response = conn.getresponse()
            data = response.read()
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
            return Invocation(response.status, answer_headers, data, call_id)
        finally:
            conn.close()


def _image_root() -> Path | None:
    """``FDK_IMAGE``, checked: a root holding the image's ``python/bin/fdk`` and ``function/func.py``."""
    value = os.environ.get("FDK_IMAGE")
    if not value:
        return None
    root = Path(value).resolve()
    for needed in ("python/bin/fdk", "function/func.py"):
        if not (root / needed).is_file():
            raise FdkStartError(f"FDK_IMAGE={value}: {root / needed} is missing (make image-tree, then stage)")
    return root


def _chunks(payload: bytes) -> Iterator[bytes]:
    """The body in chunks, as a streamed (not sized) request sends it."""
    for start in range(0, len(payload), _CHUNK):
        yield payload[start : start + _CHUNK]
