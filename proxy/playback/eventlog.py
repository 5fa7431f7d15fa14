"""What happened to one session's beacons: a bounded record a player page can read while it plays.

With server-side beacons every URL the proxy queues for the session is a record whose outcome the beacon queue
updates (queued → retrying → fired, failed, refused or dropped); with client-side reporting the player fires them,
and the record lists each beacon URL the tracking document handed it (`listed`). VAST Error URLs of ads skipped for
the session are fired by the proxy in both modes. The record lives on the `Session` (created on first use, so an
idle session stays small) and expires with it; past `cap` records the oldest is dropped and counted.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from proxy.ads.models import Ad

QUEUED, RETRYING, FIRED, FAILED, REFUSED, DROPPED = "queued", "retrying", "fired", "failed", "refused", "dropped"
LISTED = "listed"  # client-side reporting: handed to the player by the tracking document, for it to fire


def ad_id_of(ad: Ad) -> str:
    """The id a player knows the ad by: the tracking document's `adId` (its creative's id, else the ad's)."""
    return ad.creative_id or ad.ad_id


class BeaconRecord:
    """One beacon URL of the session: which event, for which ad of which break, when, and how it went."""

    __slots__ = ("event", "ad_id", "break_id", "at", "outcome")

    def __init__(self, event: str, ad_id: str | None, break_id: str | None, at: float, outcome: str) -> None:
        self.event, self.ad_id, self.break_id, self.at, self.outcome = event, ad_id, break_id, at, outcome

    def to_json(self) -> dict[str, Any]:
        moment = datetime.fromtimestamp(self.at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {
            "event": self.event,
            "adId": self.ad_id,
            "break": self.break_id,
            "outcome": self.outcome,
            "time": moment,
        }


class EventLog:
    """A session's last records, oldest first; `dropped` counts those pushed out by newer ones."""

    __slots__ = ("records", "dropped")

    def __init__(self, cap: int) -> None:
        self.records: deque[BeaconRecord] = deque(maxlen=cap)
        self.dropped = 0

    def add(self, record: BeaconRecord) -> None:
        if len(self.records) == self.records.maxlen:
            self.dropped += 1
        self.records.append(record)


class LoggedSession(Protocol):
    """What the recorder reads of a session and the log it keeps on it (proxy/playback/sessions.py `Session`)."""

    id: str
    channel: str
    server_beacons: bool
    events: EventLog | None


class EventRecorder:
    """Makes the records of every session, each session's log holding at most `cap` of them."""

    def __init__(self, cap: int, clock: Callable[[], float] = time.time) -> None:
        self.cap, self.clock = cap, clock

    def record(
        self, session: LoggedSession, event: str, ad_id: str | None, break_id: str | None, outcome: str = QUEUED
    ) -> BeaconRecord:
        """A new record in `session`'s log; the beacon queue updates its outcome as the call goes."""
        record = BeaconRecord(event, ad_id, break_id, self.clock(), outcome)
        if session.events is None:
            session.events = EventLog(self.cap)
        session.events.add(record)
        return record

    def document(self, session: LoggedSession) -> dict[str, Any]:
        """The session's record as the player route answers it."""
        log = session.events
        mode = "server" if session.server_beacons else "client"
        return {
            "channel": session.channel,
            "session": session.id,
            "reportingMode": mode,
            "firedBy": "proxy" if session.server_beacons else "player",
            "events": [record.to_json() for record in log.records] if log is not None else [],
            "dropped": log.dropped if log is not None else 0,
            "cap": self.cap,
        }
