"""Keeping the shipping token out of every log line and error text.

The Logz.io listener takes the token in the query string, and fdk sets the root logger to DEBUG, so urllib3's
debug lines (``"POST /?token=… HTTP/1.1" 200``) and requests' exception texts (``Max retries exceeded with url:
/?token=…``) would carry it. Two layers: the chatty libraries are turned down to WARNING, and a filter on every
root handler scrubs any registered secret from whatever is still written.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
_secrets: set[str] = set()
_QUIET = {"urllib3": logging.WARNING, "oci": logging.INFO, "requests": logging.WARNING}


def register(secret: str) -> None:
    """Remember a value that must never be written (its URL-encoded forms too)."""
    if len(secret) >= 4:
        _secrets.update({secret, quote(secret, safe=""), quote_plus(secret)})


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``[REDACTED]``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record whose message or traceback contains a secret; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        message = record.getMessage()
        clean = redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactingFilter()


def protect_logging() -> None:
    """Quieten the libraries that log URLs and put the filter on every root handler (idempotent, cheap)."""
    for name, level in _QUIET.items():
        logger = logging.getLogger(name)
        if logger.level < level:
            logger.setLevel(level)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
