"""OCI Functions entry point: fdk calls ``handler(ctx, data)`` for every invocation."""

from logzio_forwarder.edge import handler

__all__ = ["handler"]
