"""Carrying out a command: the composition root that wires the bucket, the state, the leases, the shipper, the
pipeline and the catch-up for one invocation.

Clients and sessions are cached for the container's life (warm invocations reuse connections); configuration is
not: it is parsed per invocation into a frozen :class:`Settings` by the edge.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from .bucket import ObjectInfo, OciBucket, resource_principal_client
from .catchup import CatchUp, CatchUpReport
from .commands import ForwardObjects, Replay
from .config import Settings
from .deadline import Deadline
from .errors import ForwarderError, StateError
from .forward import Forwarder, ObjectReport, report_earlier
from .lease import Holder, Leases
from .metrics import post_invocation_metrics
from .pipeline.ship import Shipper
from .state import BucketState, Stored
from .token import StaticToken, TokenSource

log = logging.getLogger(__name__)

TOTALS = ("records", "undecodable", "shortened", "reshaped", "batches", "requests", "retries", "not_delivered")


@dataclass
class Outcome:
    """The answer to one command: per-object reports, the objects left for another invocation, and what the
    catch-up pass did after them."""

    reports: list[ObjectReport] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    """Objects not started before the deadline."""
    bucket: str = ""
    namespace: str = ""
    replay: bool = False
    """A prefix replay works through as much as the deadline allows: running out of time is not a failure."""
    catch_up: CatchUpReport | None = None
    catching_up: bool = True
    """Whether catch-up is on (it finishes unfinished objects in later invocations)."""

    @property
    def every_report(self) -> list[ObjectReport]:
        """The command's reports and the catch-up pass's."""
        return self.reports + (self.catch_up.reports if self.catch_up is not None else [])

    @property
    def unfinished(self) -> list[str]:
        """Objects to forward in another invocation: stopped by the deadline, or not started."""
        return [r.object for r in self.reports if r.status == "stopped"] + self.left

    @property
    def promised(self) -> list[str]:
        """Objects the failure message says catch-up (or the ``objects`` payload) finishes: stopped or failed, and,
        outside a replay (whose answer lists them to call again), those not started."""
        started = [r.object for r in self.reports if r.status in ("stopped", "failed")]
        return started + ([] if self.replay else self.left)

    @property
    def failed(self) -> bool:
        """The invocation fails when the work it was invoked for is not all delivered, or when it found a loss that
        nothing can finish; a catch-up object that fails for a passing reason is only retried later."""
        caught_up = self.catch_up.reports if self.catch_up is not None else []
        return (
            any(r.failing for r in self.reports)
            or (bool(self.unfinished) and not self.replay)
            or any(r.lost_now for r in caught_up)
        )

    def to_json(self) -> dict[str, Any]:
        if len(self.reports) == 1 and not self.left and not self.replay:
            body = self.reports[0].to_json()
        else:
            totals = {key: sum(getattr(r, key) for r in self.reports) for key in TOTALS}
            objects = [r.to_json() for r in self.reports]
            body = {"objects": objects, "left": self.unfinished, "complete": not self.unfinished, "totals": totals}
        if self.catch_up is not None:
            body["catch_up"] = self.catch_up.to_json()
        return body

    def failure_message(self) -> str:
        """Names every object that was not completely delivered, how many records, what becomes of them, and how
        to finish now rather than wait for catch-up."""
        problems = [_problem(f"oci://{self.bucket}@{self.namespace}/{r.object}", r) for r in self.reports]
        caught_up = self.catch_up.reports if self.catch_up is not None else []
        problems += [
            "catch-up: " + _problem(f"oci://{self.bucket}@{self.namespace}/{r.object}", r)
            for r in caught_up
            if r.lost_now
        ]
        unfinished = self.promised
        text = "; ".join(p for p in problems if p) or "not every object was forwarded"
        if self.left:
            text += f"; {len(self.left)} objects were not started before the deadline"
        if unfinished:
            payload = '{"objects": [' + ", ".join(f'"{n}"' for n in unfinished[:20]) + "]}"
            later = "Catch-up finishes them in later invocations; to finish now" if self.catching_up else "To finish"
            text += f". {later}, invoke the function with {payload} (progress is kept; nothing acknowledged is resent)"
        return text


def _problem(where: str, report: ObjectReport) -> str:
    """One object's problem, in words (empty when it has none)."""
    if report.status == "stopped":
        return f"{where}: stopped before the invocation deadline after record {report.delivered_through_record}"
    if report.status == "gone" and report.error is not None and report.loss is None:
        return f"{where}: gone: {report.error}; nothing was read or sent, and nothing will try it again"
    if report.status in ("damaged", "gone") and report.error is not None:
        return (
            f"{where}: {report.status}: {report.error}; everything readable was delivered (through record "
            f"{report.delivered_through_record}), the rest is lost and the object is not tried again"
        )
    if report.status == "failed" or report.not_delivered:
        at_least = "at least " if report.not_delivered_is_lower_bound else ""
        text = (
            f"{where}: {at_least}{report.not_delivered} records not delivered"
            f" (delivered through record {report.delivered_through_record}): {report.error or 'rejected'}"
        )
        if report.rejected:
            text += f"; {report.rejected} of them were refused by the listener (HTTP 400) and are lost"
        return text
    return ""


def execute(command: ForwardObjects | Replay, settings: Settings, deadline: Deadline, holder: str) -> Outcome:
    """Forward what the command names, within the deadline, then catch up on what earlier invocations left.
    ``holder`` names this invocation in the leases it takes."""
    client = _client(settings.objectstorage_endpoint)
    namespace = command.namespace or settings.namespace or OciBucket.lookup_namespace(client, deadline)
    bucket = OciBucket(client, namespace, settings.input_bucket, deadline)
    state = BucketState(bucket, settings.state_prefix)
    leases = Leases(state, Holder(holder, deadline))
    forward = _forwarding(bucket, leases, settings)
    catch_up = CatchUp(bucket, state, leases, settings) if settings.catch_up else None
    if catch_up is not None:
        catch_up.begin()  # the starting line, whatever becomes of this invocation: catch-up covers what comes after
    outcome = Outcome(
        bucket=bucket.bucket, namespace=namespace, replay=isinstance(command, Replay), catching_up=settings.catch_up
    )
    if isinstance(command, ForwardObjects):
        work: list[tuple[str, Stored | None, str | None]] = [(name, None, None) for name in command.names]
    else:
        work = [(info.name, stored, info.etag) for info, stored in replay_names(bucket, state, command.prefix)]
    for index, (name, stored, etag) in enumerate(work):
        if deadline.near(settings.deadline_margin_s):
            outcome.left = [n for n, _, _ in work[index:]]
            break
        outcome.reports.append(settled_report(name, stored, etag) or forward(name, stored, deadline))
    if catch_up is not None:
        _mark_unfinished(state, outcome.promised)
    if catch_up is not None and not deadline.near(settings.deadline_margin_s):
        outcome.catch_up = _catch_up(catch_up, forward, deadline, work)
    post_invocation_metrics(outcome.every_report, settings, deadline)  # after delivery; never fails the invocation
    return outcome


def _catch_up(
    catch_up: CatchUp, forward: Callable[[str, Stored, Deadline], ObjectReport], deadline: Deadline, work: list[Any]
) -> CatchUpReport:
    """A catch-up pass that cannot list the bucket is logged and reported; it never fails the command's work."""
    try:
        return catch_up.run(forward, deadline, done_here=[item[0] for item in work])
    except ForwarderError as exc:
        log.warning("catch-up stopped: %s", exc)
        return CatchUpReport(error=str(exc))


def _mark_unfinished(state: BucketState, names: list[str]) -> None:
    """Objects the failure message says catch-up finishes get a pending marker (most have one already), so it does:
    one that failed before its lease (its record unreadable) or was not started, and landed before the first
    invocation on the bucket, would otherwise be no one's."""
    for name in names:
        try:
            state.mark_pending(name)
        except ForwarderError as exc:
            log.warning("%s could not be marked for catch-up: %s", name, exc)


def _forwarding(
    bucket: OciBucket, leases: Leases, settings: Settings
) -> Callable[[str, Stored | None, Deadline], ObjectReport]:
    """Forward one object under a deadline (the invocation's, or a catch-up object's share of it)."""
    tokens = _tokens(settings)

    def forward(name: str, stored: Stored | None, deadline: Deadline) -> ObjectReport:
        shipper = Shipper(settings.listener_url, settings.logzio_type, tokens, deadline, session=_session())
        return Forwarder(bucket, shipper, leases, settings, deadline).forward(name, stored)

    return forward


def settled_report(name: str, stored: Stored | None, etag: str | None) -> ObjectReport | None:
    """A replayed object (of the listed ``etag``) given up for good earlier: reported as such, not read again."""
    progress = stored.progress if stored is not None else None
    if progress is None or not progress.settled or progress.etag != etag:
        return None
    return report_earlier(progress, ObjectReport(name))


def replay_names(bucket: OciBucket, state: BucketState, prefix: str) -> list[tuple[ObjectInfo, Stored | None]]:
    """Objects under ``prefix``, oldest first, with their progress records; progress objects and objects done for
    the same ETag are left out, except those settled with a loss (a replay reports them). ``None``: the record
    could not be read (forwarding the object says why)."""
    listing = sorted(bucket.listing(prefix), key=lambda o: (o.created is None, o.created, o.name))
    todo: list[tuple[ObjectInfo, Stored | None]] = []
    for info in listing:
        if info.name.startswith(state.prefix):  # the forwarder's own progress objects
            continue
        try:
            stored = state.load(info.name)
        except StateError as exc:  # forwarding it reads the record again and reports why it cannot
            log.warning("replay: %s", exc)
            todo.append((info, None))
            continue
        progress = stored.progress
        if progress is not None and progress.done and progress.etag == info.etag and not progress.settled:
            continue
        todo.append((info, stored))
    return todo


@functools.lru_cache(maxsize=4)
def _client(endpoint: str | None) -> Any:
    return resource_principal_client(endpoint)


@functools.lru_cache(maxsize=1)
def _session() -> requests.Session:
    return requests.Session()


def _tokens(settings: Settings) -> TokenSource:
    if settings.token is not None:
        return StaticToken(settings.token)
    from .bucket import resource_principal_signer
    from .vault import VaultToken

    assert settings.token_secret_id is not None  # load_settings guarantees exactly one of the two
    return VaultToken(settings.token_secret_id, resource_principal_signer(), settings.secrets_endpoint)
