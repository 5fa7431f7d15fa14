"""Beacons fired by the server: a bounded queue and a few workers, never awaited by a request.

They go out through the ad server client, so the egress policy applies to every beacon URL (also on the
address it resolves to). A call times out after 3 s (MediaTailor's); a network error, a timeout or a 5xx is
tried again `retries` times with doubling backoff, a 4xx never. A URL the egress policy refuses (by its name or
by what the name resolves to) is final and counted `refused`, not tried again. Every outcome is counted:
fired, retried, failed, refused, dropped (the queue was full), and fired per event type. A beacon fired for a
session carries that session's record (`proxy.playback.eventlog`), whose outcome follows the call's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any, Protocol

from proxy.errors import FetchRefused, OriginError
from proxy.net.adserver import AdServerClient
from proxy.playback.eventlog import DROPPED, FAILED, FIRED, REFUSED, RETRYING, BeaconRecord

log = logging.getLogger("proxy.playback.beacons")
BEACON_TIMEOUT = 3.0  # MediaTailor's beacon timeout
BACKOFF = 0.5  # seconds before the first retry; doubled for each next one


Beacon = tuple[str, Mapping[str, str], str, BeaconRecord | None]  # URL, headers, event, the session's record
Entry = tuple[str, str]  # where a journal keeps a beacon until it is sent: (stream, entry id)


class Journal(Protocol):
    """Keeps beacons outside the process until they are sent (beacon_journal.py), so a kill loses none."""

    def hold(self, beacon: Beacon) -> None:
        """Journal the beacon soon, then hand it to the queue (`BeaconQueue.put`) with its entry."""
        ...

    async def journaled(self) -> None:
        """Until every beacon held so far is journaled."""
        ...

    async def done(self, entry: Entry) -> None:
        """The beacon of `entry` is being sent (or was dropped): forget it, so no other process sends it again."""
        ...


def _mark(record: BeaconRecord | None, outcome: str) -> None:
    if record is not None:
        record.outcome = outcome


class BeaconQueue:
    def __init__(
        self,
        client: AdServerClient,
        *,
        workers: int = 4,
        maxsize: int = 10_000,
        retries: int = 2,
        timeout: float = BEACON_TIMEOUT,
        backoff: float = BACKOFF,
    ) -> None:
        self.client = client
        self.retries, self.timeout, self.backoff = retries, timeout, backoff
        self.counts: Counter[str] = Counter()
        self.events: Counter[str] = Counter()  # fired, by event type (impression, start, …, error)
        self._queue: asyncio.Queue[tuple[Beacon, Entry | None]] = asyncio.Queue(maxsize)
        self._workers = [asyncio.ensure_future(self._work()) for _ in range(workers)]
        self.journal: Journal | None = None  # none: a beacon queued is lost if the process dies
        self._forgetting: set[asyncio.Future[None]] = set()

    def figures(self) -> dict[str, Any]:
        """Beacons by outcome and fired by event type, for /metrics."""
        return {"beacons": dict(self.counts), "beacon_events": dict(self.events)}

    def fire(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        event: str = "error",
        record: BeaconRecord | None = None,
    ) -> None:
        beacon = (url, headers or {}, event, record)
        if self.journal is not None:
            self.journal.hold(beacon)
        else:
            self.put(beacon)

    async def journaled(self) -> None:
        """Until the beacons fired so far are safe from this process's death (at once without a journal)."""
        if self.journal is not None:
            await self.journal.journaled()

    def put(self, beacon: Beacon, entry: Entry | None = None) -> None:
        try:
            self._queue.put_nowait((beacon, entry))
        except asyncio.QueueFull:
            self.counts["dropped"] += 1
            _mark(beacon[3], DROPPED)
            log.warning("beacon queue full: dropped %s %s", beacon[2], beacon[0][:200])
            if entry is not None and self.journal is not None:  # dropped here is dropped for good
                forgetting = asyncio.ensure_future(self.journal.done(entry))
                self._forgetting.add(forgetting)
                forgetting.add_done_callback(self._forgetting.discard)

    async def _work(self) -> None:
        while True:
            (url, headers, event, record), entry = await self._queue.get()
            try:
                if entry is not None and self.journal is not None:
                    await self.journal.done(entry)  # leaves the journal as its first try starts
                await self._send(url, headers, event, record)
            finally:
                self._queue.task_done()

    async def _send(self, url: str, headers: Mapping[str, str], event: str, record: BeaconRecord | None) -> None:
        for attempt in range(self.retries + 1):
            try:
                await self.client.beacon(url, timeout=self.timeout, headers=headers)
            except FetchRefused as refused:  # final: the policy refuses it again, whatever the try
                self.counts["refused"] += 1
                _mark(record, REFUSED)
                log.info("beacon %s refused: %s", event, refused.message)
                return
            except OriginError as error:
                if not error.retryable or attempt == self.retries:
                    self.counts["failed"] += 1
                    _mark(record, FAILED)
                    log.info("beacon %s failed after %d tries: %s", event, attempt + 1, error.message)
                    return
                self.counts["retried"] += 1
                _mark(record, RETRYING)
                await asyncio.sleep(self.backoff * 2**attempt)
            else:
                self.counts["fired"] += 1
                self.events[event] += 1
                _mark(record, FIRED)
                return

    async def drain(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
