"""The environment of a child process the tests, the demo or ``make try`` start: built from scratch, so nothing of
the caller's environment (a real ``LOGZIO_TOKEN``, an OCI CLI profile, proxies) leaks into what is being tested.

It keeps what a shell would always have (``PATH``, ``HOME``, locale, ``TMPDIR``) and coverage's own variables:
under ``make test`` coverage measures every Python child (``patch = subprocess`` in ``pyproject.toml``) through the
``COVERAGE_PROCESS_CONFIG`` it sets in the test process, and a child started without it would go unmeasured.
"""

from __future__ import annotations

import os

__all__ = ["fresh_env"]

_KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def fresh_env(**variables: str) -> dict[str, str]:
    """The kept variables of this process, coverage's, then ``variables`` (which may override ``PATH``)."""
    env = {name: os.environ[name] for name in _KEPT if name in os.environ}
    env.setdefault("HOME", "/tmp")
    env.update({name: value for name, value in os.environ.items() if name.startswith("COVERAGE_")})
    env.update(variables)
    return env
