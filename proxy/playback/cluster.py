"""What a process shares with the other processes of a cluster through Redis (`SSAI_REDIS_URL`): one client, the
parts of decisions (creatives, ad lists), the beacon journal, the decisions made once for the cluster, the
leases that run each media job in one process and each channel version's timeline. Without Redis there is none of
it, and a process keeps everything to itself."""

from __future__ import annotations

from collections import Counter
from typing import Any

from proxy.media.job_lease import LEASE_SECONDS, JobLease
from proxy.media.job_requests import JobRequests
from proxy.net.redis_client import redis_client
from proxy.playback.beacon_journal import BeaconJournal
from proxy.playback.beacons import BeaconQueue
from proxy.playback.decision_flights import DecisionFlights
from proxy.playback.store import SharedCreatives
from proxy.playback.timeline import TimelineAnchor
from proxy.settings import Settings


class Cluster:
    def __init__(self, settings: Settings, beacons: BeaconQueue) -> None:
        self.redis = redis_client(settings.redis_url)
        self.creatives = SharedCreatives(self.redis, settings.redis_prefix)
        self.journal = BeaconJournal(self.redis, beacons, prefix=settings.redis_prefix)
        self.flights = DecisionFlights(self.creatives, prefix=settings.redis_prefix)
        self.job_lease = JobLease(self.redis, settings.redis_prefix)  # media jobs once per cluster
        # An edge's media jobs, run by another process: waited for as long as the longest job may take.
        wait = settings.creative_download_timeout + settings.transcode_timeout + LEASE_SECONDS
        self.job_requests = JobRequests(self.redis, settings.redis_prefix, self.job_lease, wait=wait)
        self.prefix = settings.redis_prefix
        self.anchors: dict[tuple[str, str], TimelineAnchor] = {}

    def timeline(self, key: tuple[str, str]) -> TimelineAnchor:
        """The shared timeline of a channel version (`ChannelConfig.key`)."""
        anchor = self.anchors[key] = TimelineAnchor(self.redis, self.prefix, key)
        return anchor

    @classmethod
    def of(cls, settings: Settings, beacons: BeaconQueue) -> Cluster | None:
        return cls(settings, beacons) if settings.redis_url else None

    async def start(self) -> None:
        """The beacon journal's heartbeat and its take-over of stopped processes."""
        await self.journal.start()

    async def stop(self) -> None:
        """Stop taking part; what is not sent yet stays journaled for another process."""
        await self.job_requests.stop()
        await self.flights.close()
        await self.journal.close()

    async def close(self) -> None:
        """Let go of the connections (after the session store's last flush)."""
        await self.redis.aclose()

    @staticmethod
    def figures(cluster: Cluster | None) -> dict[str, Any]:
        """The beacon journal's, decision flights' and job leases' counts, for /metrics (empty without a cluster)."""
        if cluster is None:
            return {"beacon_journal": {}, "decision_flights": {}, "job_leases": {}, "job_requests": {}, "timelines": {}}
        timelines: Counter[str] = Counter()
        for anchor in cluster.anchors.values():
            timelines.update(anchor.counts)
        return {
            "beacon_journal": cluster.journal.figures(),
            "decision_flights": cluster.flights.figures(),
            "job_leases": cluster.job_lease.figures(),
            "job_requests": cluster.job_requests.figures(),
            "timelines": dict(timelines),
        }
