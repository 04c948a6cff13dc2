"""Catch-up: after the work it was invoked for, an invocation finishes what earlier ones left or never saw.

Two kinds of work, oldest first, while time remains before the deadline margin:

* **unfinished**: forwarding started and did not finish (failed, stopped by the deadline, holder killed). Each has
  a pending marker under the state prefix (:mod:`.state`), so one listing finds them all however many objects are
  finished. An object in the middle of its retry wait (``retry_at``) or leased by a live holder is left alone.
* **missed**: objects under ``input-prefix`` with no progress at all, older than ``catch-up-after-seconds`` (their
  event should have come by then) and newer than the forwarder's first invocation on the bucket (older ones are
  left to an explicit replay, so deploying onto a bucket of old logs ships nothing by surprise). That starting
  line is drawn at the start of the first invocation, whatever becomes of it (:meth:`CatchUp.begin`).

Finding missed objects must not cost more as finished objects pile up. The connector names objects
``<prefix>/<connector>/<start time>_<end time>…``, so within one connector's folder (a *partition*) names grow
with time. A cursor object (``<state-prefix>.catch-up.json``) keeps, per partition, a *mark*: the last name up to
which every object is accounted for (it has progress, or predates the starting line). A pass lists only what lies
after the marks, jumping over each partition's accounted names with one request, and asks the state prefix once
per page which of the new names have progress. So a pass that finds nothing to do costs a few requests whatever
the bucket holds, and a pass never spends more than :data:`LIST_BUDGET` listing requests (it continues from its
marks next time). An object written later with a name below its partition's mark is not caught up (its event, or
a replay, still forwards it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .bucket import ObjectInfo, OciBucket
from .config import Settings
from .deadline import Deadline, parse_time
from .errors import Conflict, ForwarderError, StateError, UnreadableState
from .forward import ObjectReport
from .lease import Leases
from .state import GONE, BucketState, Stored, iso, utcnow

log = logging.getLogger(__name__)

CURSOR = ".catch-up.json"
"""Under the state prefix: the starting line (the first invocation's time) and the per-partition marks."""
CURSOR_VERSION = 1
LIST_BUDGET = 16
"""Most ListObjects requests one pass spends looking for missed objects."""
PAGE = 1000
MIN_SHARE_S = 30.0
"""An object of the catch-up gets at least this long (or what is left), at most half of the time left: one
object that hangs cannot take a whole invocation from the others."""

Forward = Callable[[str, Stored, Deadline], ObjectReport]
"""Forwards one object (its record just read) under the given deadline: the app's Forwarder."""


@dataclass
class CatchUpReport:
    """What one catch-up pass did, for the answer and the summary line."""

    finished: int = 0
    """Objects this pass finished (all delivered, or settled for good)."""
    records: int = 0
    """Records this pass delivered."""
    left: int = 0
    """Unfinished objects still waiting after this pass (in their retry wait, or not reached before the deadline)."""
    gave_up: list[str] = field(default_factory=list)
    """Objects this pass tried and gave up on: failed (retried later) or settled with a loss (each report says why);
    an object stopped by the deadline made progress and is only ``left``."""
    error: str | None = None
    """Why the pass itself stopped early (Object Storage could not be listed); the next invocation tries again."""
    reports: list[ObjectReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"finished": self.finished, "records": self.records, "left": self.left}
        if self.gave_up:
            value["gave_up"] = self.gave_up
        if self.error:
            value["error"] = self.error
        if self.reports:
            value["objects"] = [r.to_json() for r in self.reports]
        return value


@dataclass
class _Cursor:
    first_seen: datetime
    marks: dict[str, str]
    version: str | None
    changed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"version": CURSOR_VERSION, "first_seen": iso(self.first_seen), "marks": self.marks}


@dataclass(frozen=True)
class _Work:
    name: str
    since: datetime
    """When the object was created (missed) or its forwarding started (unfinished): the order of the pass."""


class CatchUp:
    """One pass over the input bucket's unfinished and missed objects."""

    def __init__(
        self,
        bucket: OciBucket,
        state: BucketState,
        leases: Leases,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._bucket = bucket
        self._state = state
        self._leases = leases
        self._settings = settings
        self._clock = clock
        self._began: _Cursor | None = None
        self._notice: str | None = None
        """Said in the pass's report: the cursor could not be read and started again."""

    def begin(self) -> None:
        """Read the cursor, or create it if this is the first invocation on the bucket: called before the
        invocation's own work, so the starting line is drawn even if that work fails or runs out of time. Never
        raises: the pass tries again."""
        try:
            self._began = self._cursor()
        except ForwarderError as exc:
            log.warning("catch-up cursor not read (%s); the catch-up pass tries again", exc)

    def run(self, forward: Forward, deadline: Deadline, done_here: Iterable[str] = ()) -> CatchUpReport:
        """Forward what is waiting, oldest first, until the deadline margin; ``done_here``: objects this
        invocation already dealt with."""
        cursor = self._began or self._cursor()
        report = CatchUpReport(error=self._notice)
        skip = set(done_here)
        unfinished, more = self._state.pending(PAGE)
        work = [_Work(i.name, i.created or cursor.first_seen) for i in unfinished if i.name not in skip]
        work += self._missed(cursor, skip | {w.name for w in work})
        work.sort(key=lambda w: (w.since, w.name))
        report.left = len(work) + (1 if more else 0)
        for item in work:
            if deadline.near(self._settings.deadline_margin_s):
                break
            report.left -= 1
            self._one(item.name, forward, self._share(deadline), report)
        self._save(cursor)
        return report

    def _one(self, name: str, forward: Forward, deadline: Deadline, report: CatchUpReport) -> None:
        try:
            stored = self._leases.look(name)
        except StateError as exc:  # this object's record, not the pass: the others go on
            report.reports.append(ObjectReport(name, status="failed", error=str(exc)))
            report.gave_up.append(name)
            report.left += 1
            return
        progress = stored.progress
        if progress is not None and progress.done:  # finished while its marker stayed behind
            self._clear(name)
            return
        if self._leases.busy(stored):
            return  # its holder is at it
        if progress is not None and not progress.due(self._clock()):
            report.left += 1  # in its retry wait
            return
        result = forward(name, stored, deadline)
        if result.status == GONE and progress is None:  # a marker without a record, of an object not there
            self._clear(name)
        report.reports.append(result)
        report.records += result.delivered_through_record - result.resumed_at_record
        if result.status in ("forwarded", "damaged", "gone"):
            report.finished += 1
        if result.status in ("failed", "damaged", "gone"):
            report.gave_up.append(name)
        report.left += result.status in ("failed", "stopped")

    def _clear(self, name: str) -> None:
        """Remove a pending marker nothing is waiting for; if that fails, the next pass tries again."""
        try:
            self._state.clear_pending(name)
        except StateError as exc:
            log.warning("pending marker of %s not removed (%s); the next pass tries again", name, exc)

    def _share(self, deadline: Deadline) -> Deadline:
        margin = self._settings.deadline_margin_s
        return deadline.capped(margin + max(MIN_SHARE_S, (deadline.remaining() - margin) / 2))

    # ----- the cursor -----------------------------------------------------------------------------------------

    def _cursor(self, *, created_by_another: bool = False) -> _Cursor:
        """The cursor, created by the first invocation: from then on, new objects are the forwarder's to catch up."""
        key = self._state.prefix + CURSOR
        try:
            found = self._bucket.get_json(key)
        except UnreadableState as exc:
            return self._restart(key, exc.version, str(exc))
        if found is not None:
            value, version = found
            first_seen = parse_time(str(value.get("first_seen", "")))
            marks = value.get("marks")
            if value.get("version") == CURSOR_VERSION and first_seen is not None and isinstance(marks, dict):
                return _Cursor(first_seen, {str(k): str(v) for k, v in marks.items()}, version)
            return self._restart(key, version, f"version {value.get('version')!r}, not a cursor this forwarder reads")
        cursor = _Cursor(self._clock(), {}, None)
        try:
            cursor.version = self._bucket.put_json(key, cursor.to_json(), None)
        except Conflict:  # another invocation created it a moment ago: its starting line holds
            if created_by_another:
                raise
            return self._cursor(created_by_another=True)
        log.info("catch-up starts on %s: objects created from now on are caught up", self._bucket.bucket)
        return cursor

    def _restart(self, key: str, version: str, why: str) -> _Cursor:
        """A cursor that cannot be read loses its starting line: start again from now (written at once, so later
        invocations keep this line), and say so in the pass's report."""
        self._notice = (
            f"the catch-up cursor {self._bucket.where(key)} could not be read ({why}); it starts again from now: "
            "objects created before now that have no progress are not caught up (replay them)"
        )
        log.warning("%s", self._notice)
        cursor = _Cursor(self._clock(), {}, version, changed=True)
        try:
            cursor.version, cursor.changed = self._bucket.put_json(key, cursor.to_json(), version), False
        except ForwarderError as exc:  # the pass's save tries again
            log.warning("catch-up cursor not rewritten (%s)", exc)
        return cursor

    def _save(self, cursor: _Cursor) -> None:
        """Keep the marks for the next pass; if another pass wrote first, its marks do as well (they only grow)."""
        if not cursor.changed:
            return
        try:
            self._bucket.put_json(self._state.prefix + CURSOR, cursor.to_json(), cursor.version)
        except (Conflict, ForwarderError) as exc:
            log.info("catch-up marks not saved (%s); the next pass looks again", type(exc).__name__)

    # ----- missed objects -------------------------------------------------------------------------------------

    def _missed(self, cursor: _Cursor, skip: set[str]) -> list[_Work]:
        """Objects with no progress, old enough and newer than the starting line; advances the marks on the way."""
        prefix = self._settings.input_prefix
        old_before = self._clock() - timedelta(seconds=self._settings.catch_up_after_s)
        found: list[_Work] = []
        held: set[str] = set()  # partitions whose mark stops at an object without progress
        after: str | None = None
        spent = 0
        while spent < LIST_BUDGET:
            page, more = self._bucket.list_page(prefix, limit=PAGE, start_after=after)
            spent += 1
            fresh, jump = self._beyond_marks(page, cursor.marks)
            known, cost = self._with_progress([i for i in fresh if _created(i) >= cursor.first_seen])
            spent += cost
            for info in fresh:
                part = partition(info.name, prefix)
                if _created(info) < cursor.first_seen or info.name in known:
                    if part not in held and cursor.marks.get(part, "") < info.name:
                        cursor.marks[part], cursor.changed = info.name, True
                    continue
                held.add(part)
                if _created(info) <= old_before and info.name not in skip:
                    found.append(_Work(info.name, _created(info)))
            if jump is not None:
                after = jump
            elif more and page:
                after = page[-1].name
            else:
                break
        return found

    def _beyond_marks(self, page: list[ObjectInfo], marks: dict[str, str]) -> tuple[list[ObjectInfo], str | None]:
        """The page's objects past their partition's mark, up to the first one at or before a mark (where the
        listing jumps to that mark)."""
        prefix = self._settings.input_prefix
        fresh: list[ObjectInfo] = []
        for info in page:
            if info.name.startswith(self._state.prefix):
                continue
            mark = marks.get(partition(info.name, prefix))
            if mark is not None and info.name <= mark:
                return fresh, mark
            fresh.append(info)
        return fresh, None

    def _with_progress(self, infos: list[ObjectInfo]) -> tuple[set[str], int]:
        """Which of these objects (a name-ordered run) have a progress record, by listing the state prefix over
        the same range; and how many requests that took."""
        if not infos:
            return set(), 0
        low, high = infos[0].name, infos[-1].name
        prefix = self._state.key(_common_prefix(low, high))[: -len(".json")]
        known: set[str] = set()
        after: str | None = self._state.key(low)[: -len(".json")]  # keys of names >= low sort after this
        spent = 0
        while True:
            page, more = self._bucket.list_page(prefix, limit=PAGE, start_after=after, end=self._state.key(high) + "~")
            spent += 1
            known.update(n for n in (self._state.name_of(i.name) for i in page) if n is not None)
            if not more or not page or spent >= LIST_BUDGET:
                return known, spent
            after = page[-1].name


def partition(name: str, prefix: str) -> str:
    """The folder right under ``prefix`` that holds ``name`` (a connector's folder), or the name itself when it
    sits directly under the prefix. Everything in a partition is contiguous in name order."""
    rest = name[len(prefix) :]
    lead = len(rest) - len(rest.lstrip("/"))
    cut = rest.find("/", lead)
    return name if cut < 0 else name[: len(prefix) + cut + 1]


def _created(info: ObjectInfo) -> datetime:
    """An object's creation time (a listing without one counts as older than the starting line: left to a replay)."""
    return info.created if info.created is not None else datetime.min.replace(tzinfo=utcnow().tzinfo)


def _common_prefix(low: str, high: str) -> str:
    size = 0
    for a, b in zip(low, high, strict=False):
        if a != b:
            break
        size += 1
    return low[:size]
