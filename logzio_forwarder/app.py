"""Carrying out a command: the composition root that wires the bucket, the state, the shipper and the pipeline.

Clients and sessions are cached for the container's life (warm invocations reuse connections); configuration is
not: it is parsed per invocation into a frozen :class:`Settings` by the edge.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any

import requests

from .bucket import ObjectInfo, OciBucket, resource_principal_client
from .commands import ForwardObjects, Replay
from .config import Settings
from .deadline import Deadline
from .forward import Forwarder, ObjectReport
from .metrics import post_invocation_metrics
from .pipeline.ship import Shipper
from .state import BucketState
from .token import StaticToken, TokenSource

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """The answer to one command: per-object reports and the objects left for another invocation."""

    reports: list[ObjectReport] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    """Objects not started before the deadline."""
    bucket: str = ""
    namespace: str = ""
    replay: bool = False
    """A prefix replay works through as much as the deadline allows: running out of time is not a failure."""

    @property
    def unfinished(self) -> list[str]:
        """Objects to forward in another invocation: stopped by the deadline, or not started."""
        return [r.object for r in self.reports if r.status == "stopped"] + self.left

    @property
    def failed(self) -> bool:
        undelivered = any(r.status == "failed" or r.not_delivered for r in self.reports)
        return undelivered or (bool(self.unfinished) and not self.replay)

    def to_json(self) -> dict[str, Any]:
        if len(self.reports) == 1 and not self.left and not self.replay:
            return self.reports[0].to_json()
        totals = {
            key: sum(getattr(r, key) for r in self.reports)
            for key in ("records", "undecodable", "shortened", "batches", "requests", "retries", "not_delivered")
        }
        objects = [r.to_json() for r in self.reports]
        return {"objects": objects, "left": self.unfinished, "complete": not self.unfinished, "totals": totals}

    def failure_message(self) -> str:
        """Names every object that was not completely delivered, how many records, and how to finish."""
        problems: list[str] = []
        unfinished: list[str] = []
        for report in self.reports:
            where = f"oci://{self.bucket}@{self.namespace}/{report.object}"
            if report.status == "stopped":
                problems.append(
                    f"{where}: stopped before the invocation deadline after record {report.delivered_through_record}"
                )
                unfinished.append(report.object)
            elif report.status == "failed" or report.not_delivered:
                at_least = "at least " if report.not_delivered_is_lower_bound else ""
                problems.append(
                    f"{where}: {at_least}{report.not_delivered} records not delivered"
                    f" (delivered through record {report.delivered_through_record}): {report.error or 'rejected'}"
                )
                if report.status == "failed":
                    unfinished.append(report.object)
        unfinished += self.left
        text = "; ".join(problems) or "not every object was forwarded"
        if self.left:
            text += f"; {len(self.left)} objects were not started before the deadline"
        if unfinished:
            payload = '{"objects": [' + ", ".join(f'"{n}"' for n in unfinished[:20]) + "]}"
            text += (
                f". To finish, invoke the function with {payload} (progress is kept; nothing acknowledged is resent)"
            )
        return text


def execute(command: ForwardObjects | Replay, settings: Settings, deadline: Deadline) -> Outcome:
    """Forward what the command names, within the deadline."""
    client = _client(settings.objectstorage_endpoint)
    namespace = command.namespace or settings.namespace or OciBucket.lookup_namespace(client, deadline)
    bucket = OciBucket(client, namespace, settings.input_bucket, deadline)
    state = BucketState(bucket, settings.state_prefix)
    shipper = Shipper(settings.listener_url, settings.logzio_type, _tokens(settings), deadline, session=_session())
    forwarder = Forwarder(bucket, shipper, state, settings, deadline)
    if isinstance(command, ForwardObjects):
        names: tuple[str, ...] | list[str] = command.names
    else:
        names = [info.name for info in replay_names(bucket, state, command.prefix)]
    outcome = Outcome(bucket=bucket.bucket, namespace=namespace, replay=isinstance(command, Replay))
    for index, name in enumerate(names):
        if deadline.near(settings.deadline_margin_s):
            outcome.left = list(names[index:])
            break
        outcome.reports.append(forwarder.forward(name))
    post_invocation_metrics(outcome.reports, settings, deadline)  # after delivery; never fails the invocation
    return outcome


def replay_names(bucket: OciBucket, state: BucketState, prefix: str) -> list[ObjectInfo]:
    """Objects under ``prefix``, oldest first, skipping progress objects and those done for the same ETag."""
    listing = sorted(bucket.list(prefix), key=lambda o: (o.created is None, o.created, o.name))
    todo = []
    for info in listing:
        if info.name.startswith(state.prefix):  # the forwarder's own progress objects
            continue
        progress = state.load(info.name)
        if progress is not None and progress.done and progress.etag == info.etag:
            continue
        todo.append(info)
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
