"""Small helpers the unit and end-to-end tests share, one per purpose: a port that refuses connections, a byte
string in chunks, a deadline on a clock only the test moves, children Ctrl-C reaches, the Hypothesis profiles and
the JSON values the property tests draw.

Hypothesis: ``conftest.py`` loads the ``ci`` profile (:func:`hypothesis_profiles`), so every property test runs the
same derandomized examples on every machine; ``pytest --hypothesis-profile=long`` runs thousands of random ones.
A test names its example count for the suite with :func:`examples`; the long profile ignores it.
"""

from __future__ import annotations

import itertools
import signal
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from logzio_forwarder.deadline import Deadline

__all__ = [
    "ClockDeadline",
    "chunked",
    "closed_port",
    "cut",
    "examples",
    "hypothesis_profiles",
    "interruptible",
    "json_scalars",
    "json_values",
]


def hypothesis_profiles() -> None:
    """Register ``ci`` and ``long`` and load ``ci``: before pytest configures Hypothesis, which loads the profile
    ``--hypothesis-profile`` names. No example database: nothing is written to ``.hypothesis/``."""
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile("ci", derandomize=True, deadline=None, database=None, suppress_health_check=quiet)
    settings.register_profile("long", max_examples=3000, deadline=None, database=None, suppress_health_check=quiet)
    settings.load_profile("ci")


def examples(count: int) -> settings:
    """``count`` examples under the ``ci`` profile; under any other, as many as that profile says."""
    if settings.get_current_profile_name() != "ci":
        return settings()
    return settings(max_examples=count)


def json_scalars(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """A JSON leaf: null, a boolean, an integer beyond 64 bits too, a finite float, or ``text``."""
    return (
        st.none()
        | st.booleans()
        | st.integers(-(10**30), 10**30)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )


def json_values(
    scalars: st.SearchStrategy[Any], names: st.SearchStrategy[str], *, width: int, leaves: int
) -> st.SearchStrategy[Any]:
    """Any JSON value built of ``scalars``, nested in lists of up to three items and objects of up to ``width``
    members named by ``names``, at most ``leaves`` leaves in all."""
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=width),
        max_leaves=leaves,
    )


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound and never listening (the kernel answers a connect with RST).
    It stays bound while the block runs, so nothing else can start listening on it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


@contextmanager
def interruptible() -> Iterator[None]:
    """Children started in the block get SIGINT as a shell's foreground job does, so Ctrl-C (a SIGINT) reaches them.
    A suite started in the background by a non-interactive shell has SIGINT ignored, and an ignored signal stays
    ignored in every child; one this process handles is reset to the default when a child execs."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if before is None else before)


def chunked(data: bytes, size: int) -> list[bytes]:
    """``data`` in chunks of ``size`` bytes (the last one shorter); no chunk for no data."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def cut(data: bytes, at: Iterable[int]) -> list[bytes]:
    """``data`` cut at the offsets ``at`` (any order; repeats and offsets past the end ignored)."""
    bounds = sorted({0, len(data), *(c for c in at if 0 < c < len(data))})
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


class ClockDeadline(Deadline):
    """A deadline on a clock that only the test moves: ``sleep`` (inject it where the code under test sleeps)
    advances it, ``leave`` sets the time left."""

    def __init__(self, seconds: float = float("inf")) -> None:
        super().__init__(None)
        self.now = 0.0
        self.at = seconds

    def remaining(self) -> float:
        return self.at - self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def leave(self, seconds: float) -> None:
        self.at = self.now + seconds
