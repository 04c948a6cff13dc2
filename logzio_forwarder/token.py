"""Where the shipping token comes from: function config, or an OCI Vault secret (see :mod:`.vault`)."""

from __future__ import annotations

from typing import Protocol

from .config import Secret
from .secrecy import register


class TokenSource(Protocol):
    """Gives the shipping token; ``refresh`` is called once after a 401 in case the token was rotated."""

    def token(self) -> Secret: ...

    def refresh(self) -> bool:
        """Forget any cached token. True when a new read could give a different token."""
        ...


class StaticToken:
    """The token from the ``logzio-token`` config key; it cannot change during the container's life."""

    def __init__(self, secret: Secret) -> None:
        register(secret.reveal())  # from here on, no log line or error text can carry it
        self._secret = secret

    def token(self) -> Secret:
        return self._secret

    def refresh(self) -> bool:
        return False
