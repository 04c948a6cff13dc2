"""The shipping token never reaches a log line: fdk's own stderr handler, urllib3's URL lines, tracebacks."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from logzio_forwarder import secrecy
from logzio_forwarder.secrecy import REDACTED, protect_logging, redact, register

TOKEN = "logTOKENzyxw98765"
ODD_TOKEN = "tok/en+va=lue&x y"
"""A token whose URL-encoded forms differ from it."""


@pytest.fixture
def fdk_stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What fdk's own root handler (added when fdk is imported) writes, captured; secrets and levels restored."""
    import fdk  # noqa: F401  # sets the root logger to DEBUG and adds its stderr handler, as in the function
    from fdk.log import RequestFormatter

    root = logging.getLogger()
    handler = next(h for h in root.handlers if isinstance(h.formatter, RequestFormatter))
    assert isinstance(handler, logging.StreamHandler)
    monkeypatch.setattr(secrecy, "_secrets", set())
    levels = {name: logging.getLogger(name).level for name in ("", "urllib3", "requests", "oci")}
    root.setLevel(logging.DEBUG)  # as fdk left it (other tests may have changed it)
    for name in ("urllib3", "requests", "oci"):
        logging.getLogger(name).setLevel(logging.NOTSET)  # as before any protect_logging() in this process
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for h in root.handlers:
            h.removeFilter(secrecy._FILTER)


def urllib3_debug_line() -> None:
    """The line urllib3's connection pool logs for every request (its real format string)."""
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "listener-eu.logz.io",
        8071,
        "POST",
        f"/?token={TOKEN}&type=http-bulk",
        "HTTP/1.1",
        200,
        0,
    )


def test_without_protection_the_token_would_be_written(fdk_stderr: io.StringIO) -> None:
    """The premise: fdk's DEBUG root logger really writes urllib3's URL line, token and all."""
    urllib3_debug_line()
    assert TOKEN in fdk_stderr.getvalue()


def test_urllib3_debug_lines_are_silenced(fdk_stderr: io.StringIO) -> None:
    protect_logging()
    register(TOKEN)
    urllib3_debug_line()
    assert "POST" not in fdk_stderr.getvalue()  # not written at all, not merely redacted


def test_urllib3_debug_line_is_redacted_if_debugging_is_turned_back_on(fdk_stderr: io.StringIO) -> None:
    protect_logging()
    register(TOKEN)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    urllib3_debug_line()
    out = fdk_stderr.getvalue()
    assert f'"POST /?token={REDACTED}&type=http-bulk HTTP/1.1" 200' in out
    assert TOKEN not in out


def test_urllib3_warning_with_the_url_is_written_redacted(fdk_stderr: io.StringIO) -> None:
    protect_logging()
    register(TOKEN)
    logging.getLogger("urllib3.connectionpool").warning(
        "Retrying (%r) after connection broken by '%r': %s", "Retry(total=2)", "ReadTimeout", f"/?token={TOKEN}"
    )
    out = fdk_stderr.getvalue()
    assert f"/?token={REDACTED}" in out
    assert TOKEN not in out


def test_token_in_the_message_is_redacted(fdk_stderr: io.StringIO) -> None:
    protect_logging()
    register(TOKEN)
    logging.getLogger("logzio_forwarder").info(f"shipping with {TOKEN} now")
    out = fdk_stderr.getvalue()
    assert f"shipping with {REDACTED} now" in out
    assert TOKEN not in out


def test_token_in_the_arguments_is_redacted(fdk_stderr: io.StringIO) -> None:
    protect_logging()
    register(TOKEN)
    logging.getLogger("logzio_forwarder.ship").warning("posting to %s (attempt %d)", f"/?token={TOKEN}", 3)
    out = fdk_stderr.getvalue()
    assert f"posting to /?token={REDACTED} (attempt 3)" in out
    assert TOKEN not in out


def test_token_in_an_exception_traceback_is_redacted(fdk_stderr: io.StringIO) -> None:
    protect_logging()
    register(TOKEN)
    log = logging.getLogger("logzio_forwarder")
    try:
        raise ConnectionError(f"Max retries exceeded with url: /?token={TOKEN}&type=http-bulk")
    except ConnectionError:
        log.exception("delivery failed")
    out = fdk_stderr.getvalue()
    assert "delivery failed" in out
    assert "Traceback" in out
    assert f"url: /?token={REDACTED}&type=http-bulk" in out
    assert TOKEN not in out


@pytest.mark.parametrize("encode", [quote_plus, lambda s: quote(s, safe="")])
def test_url_encoded_token_is_redacted(fdk_stderr: io.StringIO, encode: object) -> None:
    assert callable(encode)
    encoded = encode(ODD_TOKEN)
    assert encoded != ODD_TOKEN
    protect_logging()
    register(ODD_TOKEN)
    logging.getLogger("urllib3").warning("POST /?token=%s&type=http-bulk failed", encoded)
    out = fdk_stderr.getvalue()
    assert f"/?token={REDACTED}&type" in out
    assert encoded not in out


def test_records_without_secrets_are_written_unchanged(fdk_stderr: io.StringIO) -> None:
    protect_logging()
    register(TOKEN)
    logging.getLogger("logzio_forwarder").info("forwarded %d records of %s", 42, "audit/x.log.gz")
    assert "forwarded 42 records of audit/x.log.gz" in fdk_stderr.getvalue()


def test_caplog_sees_the_redacted_record(fdk_stderr: io.StringIO, caplog: pytest.LogCaptureFixture) -> None:
    protect_logging()
    register(TOKEN)
    logging.getLogger("logzio_forwarder").error("token %s refused", TOKEN)
    assert caplog.records[-1].getMessage() == f"token {REDACTED} refused"
    assert TOKEN not in caplog.text


def test_redact_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrecy, "_secrets", set())
    register(TOKEN)
    register(ODD_TOKEN)
    text = f"a {TOKEN} b {quote(ODD_TOKEN, safe='')} c {quote_plus(ODD_TOKEN)} d {ODD_TOKEN}"
    assert redact(text) == f"a {REDACTED} b {REDACTED} c {REDACTED} d {REDACTED}"


def test_very_short_values_are_not_treated_as_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrecy, "_secrets", set())
    register("a")
    register("")
    assert redact("a banana") == "a banana"
