"""`/metrics` in the Prometheus text format (prometheus_client).

Latencies are histograms observed where the time is spent: the media playlist request (here, in the web layer),
the origin client's fetches and the decision service's ad decisions (each told through its `observe` hook). The
playlist request, the hot path, counts its latency in a plain list of bucket counts (`BucketCounts`) moved into
its histogram at each look.
Counts are the parts' own figures (sessions made and alive, decisions, ads chosen and skip reasons per channel,
beacons by outcome, origin failures by kind), brought into Prometheus counters by their increase since the last
look, so the hot path counts once, in the part that owns the count.

With `serve --workers N` each worker writes its values to files under `PROMETHEUS_MULTIPROC_DIR` (prometheus_client's
multiprocess mode; the command line sets it, see proxy.settings.to_env) and looks at its figures every second; a
scrape of any worker sums every worker's values, those of workers that have ended included (a counter never goes
back), and the sessions alive of live workers only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from bisect import bisect_left
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

from proxy.playback.service import Service

SYNC_SECONDS = 1.0  # a worker's figures reach the shared files this often (multiprocess mode)
PLAYLIST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ORIGIN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
DECISION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
# Keys of the decision service's counts that are not skip reasons (those are written in capitals).
DECISION_KEYS = ("decisions", "ads_chosen", "breaks_without_ads")


class BucketCounts:
    """A histogram's observations counted as the hot path can afford: one bisect and two additions. Histogram.observe
    takes a lock per value it adds (and writes a file in multiprocess mode): about 16,000 instructions of a media
    playlist request's 180,000 (callgrind, bench.playlist_request). `flush` moves the counts into the histogram;
    prometheus_client has no call that adds many observations at once, so it adds to the histogram's own bucket
    and sum values, which its collect and multiprocess files read."""

    def __init__(self, histogram: Histogram, bounds: tuple[float, ...]) -> None:
        self.histogram, self.bounds = histogram, bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        # Histogram.observe counts a value in the first bucket whose bound is >= it: bisect_left finds the same one.
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    def flush(self) -> None:
        counts, self.counts = self.counts, [0] * len(self.counts)
        total, self.sum = self.sum, 0.0
        for bucket, count in zip(self.histogram._buckets, counts, strict=True):
            if count:
                bucket.inc(count)
        if total:
            self.histogram._sum.inc(total)


class Telemetry:
    def __init__(self, service: Service, *, multiprocess_dir: Path | None) -> None:
        """`multiprocess_dir`: PROMETHEUS_MULTIPROC_DIR of `serve --workers` (proxy.settings.metrics_dir), else None."""
        self.service, self.folder = service, multiprocess_dir
        self.multiprocess_mode = multiprocess_dir is not None
        self.registry = registry = CollectorRegistry()
        playlist = Histogram(
            "ssai_playlist_request_seconds", "Media playlist requests, from routing to the response",
            buckets=PLAYLIST_BUCKETS, registry=registry,
        )  # fmt: skip
        self.playlist = BucketCounts(playlist, PLAYLIST_BUCKETS)
        self.origin_fetch = Histogram(
            "ssai_origin_fetch_seconds", "Origin playlist fetches", buckets=ORIGIN_BUCKETS, registry=registry
        )
        self.ad_decision = Histogram(
            "ssai_ad_decision_seconds", "Ad decisions: the ad server, its wrappers and the creatives' readiness",
            buckets=DECISION_BUCKETS, registry=registry,
        )  # fmt: skip
        self.counters = {
            "sessions": Counter("ssai_sessions_created", "Sessions made", ["channel"], registry=registry),
            "decisions": Counter("ssai_decisions", "Ad decisions made", ["channel"], registry=registry),
            "ads_chosen": Counter("ssai_ads_chosen", "Ads placed in breaks", ["channel"], registry=registry),
            "breaks_without_ads": Counter(
                "ssai_breaks_without_ads", "Session breaks decided without ads", ["channel"], registry=registry
            ),
            "skips": Counter(
                "ssai_skips", "Ads or breaks skipped, by reason", ["channel", "reason"], registry=registry
            ),
            "beacons": Counter("ssai_beacons", "Server-side beacons, by outcome", ["outcome"], registry=registry),
            "origin_errors": Counter("ssai_origin_errors", "Origin failures, by kind", ["kind"], registry=registry),
        }
        self.alive = Gauge(
            "ssai_sessions", "Sessions alive", ["channel"], registry=registry, multiprocess_mode="livesum"
        )
        self._last: dict[tuple[str, tuple[str, ...]], float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Hook the histograms to the parts that time things; in multiprocess mode, look at the figures every second."""
        self.service.client.observe = self.origin_fetch.observe
        self.service.decisions.observe_decision = self.ad_decision.observe
        if self.multiprocess_mode:
            self._task = asyncio.ensure_future(self._sync_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.multiprocess_mode:
            self.sync()  # the last counts of this worker stay in the sums
            # Its sessions alive leave the live sum (prometheus_client leaves this function untyped).
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    def exposition(self) -> bytes:
        self.sync()
        if not self.multiprocess_mode:
            return generate_latest(self.registry)
        assert self.folder is not None
        _forget_dead_workers(self.folder)
        summed = CollectorRegistry()
        multiprocess.MultiProcessCollector(summed)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
        return generate_latest(summed)

    def sync(self) -> None:
        """Bring the counters up to the parts' figures (by their increase), the gauges to their values and the
        playlist latencies counted since the last look into their histogram."""
        self.playlist.flush()
        service = self.service
        self._advance("sessions", {(channel,): n for channel, n in service.created.items()})
        for channel, counts in service.decisions.by_channel.items():
            for key in DECISION_KEYS:
                self._advance(key, {(channel,): counts.get(key, 0)})
            self._advance("skips", {(channel, key): n for key, n in counts.items() if key.isupper()})
        self._advance("beacons", {(outcome,): n for outcome, n in service.beacons.counts.items()})
        self._advance("origin_errors", {(kind,): n for kind, n in service.client.errors.items()})
        alive: dict[str, int] = {}
        for (channel, _version), runtime in service.channel_runtimes.runtimes.items():
            alive[channel] = alive.get(channel, 0) + len(runtime.sessions)
        for channel, count in alive.items():
            self.alive.labels(channel).set(count)

    def _advance(self, name: str, totals: Mapping[tuple[str, ...], float]) -> None:
        counter = self.counters[name]
        for labels, total in totals.items():
            increase = total - self._last.get((name, labels), 0)
            if increase > 0:
                counter.labels(*labels).inc(increase)
                self._last[(name, labels)] = total

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            self.sync()


def _forget_dead_workers(folder: Path) -> None:
    """A worker killed (-9) never marked itself dead: its sessions alive would stay in the live sum."""
    for path in folder.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
        except PermissionError:
            pass  # alive, another user's
