"""The proxy's services wired together: channels, sessions, decisions. The web layer only calls this."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from proxy.errors import ChannelNotFound, ProxyError, SessionNotFound
from proxy.hls.breaks import CuePoint
from proxy.media.assetstore import AssetStore, Cleanup
from proxy.media.creatives import CreativeLoader
from proxy.media.jobs import JobQueue
from proxy.media.pipeline import MediaPipeline, PipelineOptions
from proxy.net.adserver import AdServerClient
from proxy.net.egress import EgressPolicy
from proxy.net.origin import HttpClient
from proxy.playback.beacons import BeaconQueue
from proxy.playback.channels import ChannelRuntimes
from proxy.playback.clicks import ClickTracker
from proxy.playback.cluster import Cluster
from proxy.playback.decisions import DecisionService
from proxy.playback.eventlog import EventRecorder
from proxy.playback.impressions import ImpressionTracker
from proxy.playback.runtime import ChannelRuntime
from proxy.playback.sessions import Client, Decided, Session, check_params
from proxy.playback.store import FrozenDecision, SessionStore, session_store
from proxy.playback.transforms import TransformPool
from proxy.settings import ChannelConfig, Settings

log = logging.getLogger("proxy.playback.service")
ASSET_CLEANUP_EVERY = 3600.0


class Service:
    """Owns the channels (configurations, a runtime per version, cue points: its `channel_runtimes`), the
    sessions (their state in `sessions`, the session store every part is given) and the housekeeping (expiry,
    retired versions, assets); the decisions, beacons and media pipeline it wires together own their own state."""

    def __init__(
        self,
        settings: Settings,
        client: HttpClient,
        ads_client: HttpClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`client` fetches what the operator configured (origins, slates); `ads_client` (its session's
        connector enforcing the egress policy) what ad servers point at. Needs a running event loop."""
        self.settings = settings
        self.client = client
        self.clock = clock
        policy = EgressPolicy(settings.egress_allow_private, settings.egress_allow_loopback)
        self.ads = AdServerClient(ads_client or client, policy, concurrency=settings.ad_concurrency)
        self.events = EventRecorder(settings.session_events)  # each session's beacons, for its player
        self.beacons = BeaconQueue(
            self.ads, workers=settings.beacon_workers, maxsize=settings.beacon_queue, retries=settings.beacon_retries
        )
        # Shared with the other processes through Redis (SSAI_REDIS_URL), else kept in this one.
        self.cluster = Cluster.of(settings, self.beacons)
        self.created: Counter[str] = Counter()  # sessions made here, by channel
        shared = self.cluster.creatives if self.cluster is not None else None
        self.sessions: SessionStore = session_store(settings, self._rebuild, clock, shared)
        needs_pool = any(channel.ad_transforms for channel in settings.channels.values())
        self.transforms = transform_pool(settings) if needs_pool else None
        self.assets = AssetStore(settings.assets_path)
        self.jobs = JobQueue(settings.transcode_workers, retry_after=settings.transcode_retry_after, clock=clock)
        self.pipeline = MediaPipeline(self.assets, self.jobs, self.ads, client, PipelineOptions.of(settings))
        if self.cluster is not None and settings.role == "edge":  # its media jobs run in a control process
            self.pipeline.requests = self.cluster.job_requests
        elif self.cluster is not None:
            self.jobs.lease = self.cluster.job_lease
        self.decisions = DecisionService(
            self.ads,
            CreativeLoader(self.ads.media(), timeout=settings.ad_timeout),
            self.beacons,
            self.transforms,
            self.pipeline,
            ad_timeout=settings.ad_timeout,
            budget=settings.ad_budget,
            default_break=settings.default_break_duration,
            spread=settings.ad_spread,
            clock=clock,
            events=self.events,
        )
        self.decisions.flights = self.cluster.flights if self.cluster is not None else None
        self.impressions = ImpressionTracker(
            self.beacons, self.decisions, self.sessions, settings.beacon_guard_ttl, self.events
        )
        self.clicks = ClickTracker(self.impressions)
        self.slates = CreativeLoader(client, timeout=settings.ad_timeout)
        self.channel_runtimes = ChannelRuntimes(settings.channels, self._new_runtime)
        self._transforms_warm: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """What runs beside the requests: in a cluster, the beacon journal's heartbeat and take-overs, and (but on
        an edge) the media jobs edges hand over."""
        if self.cluster is not None:
            await self.cluster.start()
            if self.settings.role != "edge":
                self.cluster.job_requests.start(self.pipeline.run_request)

    # -- channels -----------------------------------------------------------------------------------------
    @property
    def configs(self) -> dict[str, ChannelConfig]:
        return self.channel_runtimes.configs

    @property
    def cuepoints(self) -> dict[str, dict[str, CuePoint]]:
        return self.channel_runtimes.cuepoints

    @property
    def runtimes(self) -> dict[tuple[str, str], ChannelRuntime]:
        return self.channel_runtimes.runtimes

    @property
    def channels(self) -> dict[str, ChannelRuntime]:
        """The current runtime of each channel that has one."""
        return self.channel_runtimes.current

    def set_channels(self, configs: Mapping[str, ChannelConfig]) -> None:
        self.channel_runtimes.set(configs)

    def schedule(self, channel: str, cuepoint: CuePoint) -> None:
        self.channel_runtimes.schedule(channel, cuepoint)

    def _new_runtime(self, config: ChannelConfig) -> ChannelRuntime:
        self.decisions.configure(config)  # stored configurations were compiled when written
        if config.ad_transforms and self.decisions.transforms is None:
            self.decisions.transforms = self.transforms = transform_pool(self.settings)
        anchor = self.cluster.timeline(config.key) if self.cluster is not None else None
        return ChannelRuntime(
            config, self.settings, self.client, self.slates, self.decisions, self.sessions, self.clock, self.pipeline,
            anchor,
        )  # fmt: skip

    async def channel(self, name: str) -> ChannelRuntime:
        config = self.configs.get(name)
        if config is None:
            raise ChannelNotFound(name)
        runtime = self.channel_runtimes.runtime(config)
        await runtime.start()
        if config.ad_transforms:
            await self._warm_transforms()
        return runtime

    async def _warm_transforms(self) -> None:
        """The XSLT sandbox's workers start with the first channel that has transforms, not at its first ad
        decision: starting them takes about a second, more than a break's decision may wait (TD/2)."""
        if self._transforms_warm is None and self.transforms is not None:
            self._transforms_warm = asyncio.ensure_future(asyncio.to_thread(self.transforms.warm))
        if self._transforms_warm is not None:
            try:
                await asyncio.shield(self._transforms_warm)
            except (OSError, ProxyError) as error:  # the first transform starts them, as without this
                log.warning("transform workers not started ahead of use: %s", error)

    # -- sessions ----------------------------------------------------------------------------------------
    def runtime_of(self, session: Session) -> ChannelRuntime:
        # The directory's dict read here rather than through its method: twice per playlist request.
        return self.channel_runtimes.runtimes[(session.channel, session.version)]

    async def create_session(
        self, channel: str, params: Mapping[str, str], client: Client | None = None, client_reporting: bool = False
    ) -> Session:
        check_params(params)
        runtime = await self.channel(channel)
        join_msn, join_time = runtime.edge()
        session = Session(channel, join_msn, join_time, params, self.clock() + runtime.idle_after)
        session.version = runtime.config.version
        session.server_beacons = runtime.config.server_beacons and not client_reporting
        session.client = client
        session.seen_at = self.clock()
        await self.sessions.create(session)
        self.created[channel] += 1
        self.impressions.loaded(runtime.config, session)
        return session

    async def add_params(self, session: Session, params: Mapping[str, str]) -> None:
        """Ad parameters sent after the session was created, for its breaks not decided yet (same limit)."""
        merged = {**(session.params or {}), **params}
        check_params(merged)
        await self.sessions.set_params(session, merged)

    def held(self, channel: str, session_id: str) -> Session | None:
        """The live session `session_id` of `channel` if this process holds it (no await: the playlist's hot
        path), its expiry deferred; None: ask `session`."""
        session = self.sessions.peek(session_id)
        if session is None or session.channel != channel:
            return None
        self.sessions.keep_alive(session, self.runtime_of(session).idle_after)
        return session

    async def session(self, channel: str, session_id: str, *, keep_alive: bool = True) -> Session:
        """The live session `session_id` of `channel`; a request of its player (`keep_alive`) defers its expiry."""
        session = self.sessions.peek(session_id) or await self._loaded(channel, session_id)
        if session.channel != channel:
            raise SessionNotFound(session_id)
        if keep_alive:
            self.sessions.keep_alive(session, self.runtime_of(session).idle_after)
        return session

    async def _loaded(self, channel: str, session_id: str) -> Session:
        """A session another process made (a shared store): this process runs its channel version from now on."""
        session = await self.sessions.load(session_id)
        if session is None or session.channel != channel:
            raise SessionNotFound(session_id)
        await self.channel(channel)
        if (session.channel, session.version) not in self.runtimes:
            log.warning(
                "session %s: channel %s version %r is not configured here", session_id, channel, session.version
            )
            raise SessionNotFound(session_id)
        return session

    def _rebuild(self, session: Session, break_id: str, frozen: FrozenDecision) -> tuple[int, Decided] | None:
        runtime = self.runtimes.get((session.channel, session.version))
        return runtime.break_decisions.rebuild(break_id, frozen) if runtime is not None else None

    # -- housekeeping ------------------------------------------------------------------------------------
    async def sweep_forever(self, every: float = 10.0) -> None:
        last_cleanup = -ASSET_CLEANUP_EVERY
        while True:
            await asyncio.sleep(every)
            await self.sweep()
            await self.retire()
            if self.clock() - last_cleanup >= ASSET_CLEANUP_EVERY:
                last_cleanup = self.clock()
                await self.clean_assets()

    async def clean_assets(self) -> Cleanup:
        max_age, max_gb = self.settings.asset_max_age_days * 86_400, self.settings.asset_max_gb
        return await self.pipeline.clean(max_age=max_age, max_bytes=int(max_gb * 1024**3))

    async def sweep(self) -> None:
        expired = await self.sessions.expire()
        for session in expired:
            self.decisions.drop_session(session.id)
        if expired:
            log.info("%d idle sessions expired, %d live", len(expired), len(self.sessions))
        self.channel_runtimes.forget_cuepoints_ended(time.time())

    async def retire(self) -> None:
        """Close the runtimes of versions no longer configured once their last session has gone."""
        for key in list(self.runtimes):
            runtime = self.channel_runtimes.retire(key)
            if runtime is not None:
                self.decisions.unconfigure(runtime.config)
                await runtime.close()
                log.info("channel %s: version %r retired", key[0], key[1])

    def figures(self) -> dict[str, Any]:
        """Sessions alive, breaks clamped, the session store's and the beacon journal's counts, for /metrics."""
        return {
            "sessions": len(self.sessions),
            "sessions_created": dict(self.created),
            "breaks_clamped": dict(self.breaks_clamped()),
            "session_store": self.sessions.figures(),
            **Cluster.figures(self.cluster),
        }

    def breaks_clamped(self) -> Counter[str]:
        """Breaks whose planned duration was cut to max_break_duration, by reason, since the start."""
        return self.channel_runtimes.breaks_clamped()

    async def drain(self) -> None:
        """Send the beacons queued so far, within `drain_seconds`: a deploy's SIGTERM must not lose them."""
        try:
            async with asyncio.timeout(self.settings.drain_seconds):
                await self.beacons.journaled()
                await self.beacons.drain()
        except TimeoutError:
            log.warning(
                "beacons still queued after %g s of draining: %s",
                self.settings.drain_seconds,
                "left journaled for another process" if self.cluster is not None else "dropped",
            )

    async def close(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.close()
        await self.jobs.close()
        await self.drain()
        if self.cluster is not None:
            await self.cluster.stop()
        await self.beacons.close()
        await self.sessions.close()
        if self.cluster is not None:
            await self.cluster.close()
        if self.transforms is not None:
            await asyncio.to_thread(self.transforms.close)


def transform_pool(settings: Settings) -> TransformPool:
    return TransformPool(settings.transform_workers, timeout=settings.transform_timeout)
