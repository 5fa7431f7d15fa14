"""Beacons fired by the server: a bounded queue and a few workers, never awaited by a request.

They go out through the ad server client, so the egress policy applies to every beacon URL.

Issue #2/#3 use it for VAST Error URLs; every outcome is counted (fired, failed, dropped on overflow).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping

from proxy.adrequests import AdServerClient
from proxy.errors import OriginError

log = logging.getLogger("proxy.beacons")
BEACON_TIMEOUT = 3.0  # MediaTailor's beacon timeout


class BeaconQueue:
    def __init__(self, client: AdServerClient, *, workers: int = 4, maxsize: int = 10_000) -> None:
        self.client = client
        self.counts: Counter[str] = Counter()
        self._queue: asyncio.Queue[tuple[str, Mapping[str, str]]] = asyncio.Queue(maxsize)
        self._workers = [asyncio.ensure_future(self._work()) for _ in range(workers)]

    def fire(self, url: str, headers: Mapping[str, str] | None = None) -> None:
        try:
            self._queue.put_nowait((url, headers or {}))
        except asyncio.QueueFull:
            self.counts["dropped"] += 1
            log.warning("beacon queue full: dropped %s", url[:200])

    async def _work(self) -> None:
        while True:
            url, headers = await self._queue.get()
            try:
                await self.client.beacon(url, timeout=BEACON_TIMEOUT, headers=headers)
            except OriginError as error:
                self.counts["failed"] += 1
                log.info("beacon failed: %s", error.message)
            else:
                self.counts["fired"] += 1
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
