"""Ad decisions: one per (session, break), started when the break is first seen (prefetch).

A template with no per-viewer variable makes one decision per break, shared by every session watching it
(one ad server request for the whole audience); a personal one makes one per session, spread over
`spread` seconds and capped per ad server host by the ad server client. Whatever goes wrong (timeout,
HTTP error, a hostile or empty response, no usable creative) the decision still completes, with the
slate or with nothing so the content plays; every skipped ad keeps a reason (MediaTailor's names), is
counted, and its VAST Error URLs are told the error code.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from cachetools import LRUCache

from proxy.ads.chain import resolve, unsupported_media
from proxy.ads.config import AdConfig, compile_ad_config
from proxy.ads.context import AdContext, BreakInfo, ChannelInfo, ViewerInfo
from proxy.ads.errors import ErrorCode, error_url
from proxy.ads.fit import fit
from proxy.ads.macros import forwarding_headers
from proxy.ads.media import transcode_source
from proxy.ads.models import Ad, BreakPosition, ResolvedResponse, Skip
from proxy.errors import AdError, OriginError, ProxyError
from proxy.hls.breaks import Break
from proxy.hls.fill import Creative, FillPlan
from proxy.hls.master import Track
from proxy.hls.profile import TranscodeProfile
from proxy.media.creatives import CreativeLoader, CreativeMisfit
from proxy.media.pipeline import MediaPipeline, NotReady
from proxy.net.adserver import AdServerClient
from proxy.playback.beacons import BeaconQueue
from proxy.playback.eventlog import EventRecorder
from proxy.playback.positions import channel_position
from proxy.playback.sessions import Client, Session
from proxy.playback.transforms import TransformPool
from proxy.settings import ChannelConfig

log = logging.getLogger("proxy.playback.decisions")


@dataclass(frozen=True, slots=True)
class Decision:
    plan: FillPlan
    ads: tuple[Ad, ...]
    skipped: tuple[Skip, ...] = ()
    break_tracking: tuple[tuple[str, str], ...] = ()  # VMAP breakStart/breakEnd (event, URL)


class Flights(Protocol):
    """Decisions made once for a cluster (decision_flights.py): by this process if it starts first, else taken from
    the one that did."""

    async def once(self, key: str, decide: Callable[[], Awaitable[Decision]], within: float) -> Decision: ...


FLIGHT_MARGIN = 1.0  # seconds a process waits for another's decision past the time that decision may take


@dataclass(frozen=True, slots=True)
class Profile:
    """What a creative must match: the channel's tracks and target duration, and its transcode profile
    (None when the channel's ladder could not be derived: MP4 creatives are then skipped)."""

    tracks: tuple[Track, ...]
    target_duration: int
    slate: Creative | None
    transcode: TranscodeProfile | None = None


def plan_for(creatives: list[Creative], slate: Creative | None) -> FillPlan:
    key = "|".join(c.key for c in creatives) + f"|slate={slate.key if slate else ''}"
    return FillPlan(key, tuple(creatives), slate)


def _jitter(session_id: str, spread: float) -> float:
    """A fixed delay in [0, spread) per session, so a herd's requests leave spread out, the same in any process."""
    digest = hashlib.blake2b(session_id.encode(), digest_size=4).digest()
    return spread * int.from_bytes(digest) / 2**32


class DecisionService:
    def __init__(
        self,
        ads: AdServerClient,
        loader: CreativeLoader,
        beacons: BeaconQueue,
        transforms: TransformPool | None,
        pipeline: MediaPipeline | None = None,
        *,
        ad_timeout: float,
        budget: float,
        default_break: float,
        spread: float,
        clock: Callable[[], float] = time.monotonic,
        events: EventRecorder | None = None,
    ) -> None:
        self.ads, self.loader, self.beacons, self.transforms = ads, loader, beacons, transforms
        self.events = events if events is not None else EventRecorder(0)
        self.pipeline, self.clock = pipeline, clock
        self.ad_timeout, self.budget, self.default_break, self.spread = ad_timeout, budget, default_break, spread
        self.configs: dict[tuple[str, str], AdConfig] = {}  # by ChannelConfig.key
        self.counts: Counter[str] = Counter()
        self.by_channel: dict[str, Counter[str]] = {}  # the same counts, by channel name (/metrics labels)
        self.observe_decision: Callable[[float], None] | None = None  # told each decision's seconds (/metrics)
        self._tasks: dict[str, dict[str, asyncio.Future[Decision]]] = {}  # session id -> break id -> decision
        self._shared: LRUCache[tuple[str, str, str], asyncio.Future[Decision]] = LRUCache(1024)
        self._break_infos: LRUCache[tuple[str, str, str], BreakInfo] = LRUCache(256)
        # A shared decision is never cancelled because one of its sessions left.
        self._shared_tasks: weakref.WeakSet[asyncio.Future[Decision]] = weakref.WeakSet()
        self.flights: Flights | None = None  # none: every process asks the ad server for its own sessions

    def figures(self) -> dict[str, Any]:
        """Decisions by outcome and skip reason, for /metrics."""
        return {"decisions": dict(self.counts)}

    def count(self, channel: str, key: str, n: int = 1) -> None:
        """An outcome or skip reason of `channel`'s decisions, counted in all and for the channel."""
        self.counts[key] += n
        self.by_channel.setdefault(channel, Counter())[key] += n

    def configure(self, channel: ChannelConfig) -> None:
        self.configs[channel.key] = compile_ad_config(channel)

    def page_names(self, channel: ChannelConfig) -> tuple[str, ...]:
        config = self.configs.get(channel.key)
        return config.page_names if config is not None else ()

    def unconfigure(self, channel: ChannelConfig) -> None:
        self.configs.pop(channel.key, None)

    def personal(self, channel: ChannelConfig) -> bool:
        """Whether the channel's decisions are made per session (else one per break, shared)."""
        return self.configs[channel.key].personal

    def peek(self, session_id: str, brk: Break) -> Decision | None:
        tasks = self._tasks.get(session_id)
        task = tasks.get(brk.id) if tasks else None
        if task is None or not task.done():
            return None
        self.forget(session_id, brk)
        return task.result()

    def start(
        self,
        channel: ChannelConfig,
        profile: Profile,
        session: Session,
        brk: Break,
        position: BreakPosition | None = None,
        active_within: float = math.inf,
    ) -> None:
        """Start the break's decision for the session; `position` is the break's for the session (a shared
        decision takes the channel's, proxy.playback.positions). A personal one is skipped (no ads,
        SESSION_INACTIVE) if, when its turn in the spread comes, the session has made no playlist request for
        `active_within` seconds."""
        tasks = self._tasks.setdefault(session.id, {})
        if brk.id in tasks:
            return
        config = self.configs[channel.key]
        self._break_info(channel, brk, brk.planned or self.default_break)  # its origin time: when first seen
        if not config.personal:
            key = (*channel.key, brk.id)
            shared = self._shared.get(key)
            if shared is None:
                decide = partial(self._decide, channel, profile, config, None, brk, 0.0, channel_position(brk))
                shared = self._shared[key] = asyncio.ensure_future(self._once(key, decide, self.budget))
                self._shared_tasks.add(shared)
            tasks[brk.id] = shared
        else:
            delay = _jitter(session.id, self.spread)
            where = position or channel_position(brk)
            # Activity is judged at the time the request is due, not when a loaded event loop gets to it (a
            # playlist request queued meanwhile is no absence).
            seen_since = self.clock() + delay - active_within
            decide = partial(self._decide, channel, profile, config, session, brk, delay, where, seen_since)
            personal = (*channel.key, brk.id, session.id)
            tasks[brk.id] = asyncio.ensure_future(self._once(personal, decide, delay + self.budget))

    def _once(
        self, key: tuple[str, ...], decide: Callable[[], Awaitable[Decision]], within: float
    ) -> Awaitable[Decision]:
        """The decision made here, or in a cluster (`flights`) by whichever process started it first."""
        if self.flights is None:
            return decide()
        return self.flights.once(":".join(key), decide, within + FLIGHT_MARGIN)

    def forget(self, session_id: str, brk: Break) -> None:
        """Drop the session's decision for `brk` without cancelling it: a session that was late for the break is
        still watching, so its one request per break goes out whatever the proxy's load (the ad server sees one
        request per active viewer and break), and the answer still queues its new creatives for later breaks."""
        tasks = self._tasks.get(session_id)
        if tasks is not None:
            tasks.pop(brk.id, None)
        if tasks is not None and not tasks:
            del self._tasks[session_id]

    def drop_session(self, session_id: str) -> None:
        for task in self._tasks.pop(session_id, {}).values():
            if not task.done() and task not in self._shared_tasks:
                task.cancel()

    async def _decide(
        self,
        channel: ChannelConfig,
        profile: Profile,
        config: AdConfig,
        session: Session | None,
        brk: Break,
        delay: float,
        position: BreakPosition,
        seen_since: float = -math.inf,
    ) -> Decision:
        """`seen_since`: the session's last playlist request must be no older for the request to leave."""
        duration = brk.planned or self.default_break
        if config.tag is None:
            return Decision(plan_for([], profile.slate), ())
        await asyncio.sleep(delay)
        if session is not None and session.seen_at < seen_since:  # the viewer left while its turn came
            self.count(channel.name, "SESSION_INACTIVE")
            return Decision(plan_for([], profile.slate), (), (Skip("", "SESSION_INACTIVE", "no playlist request"),))
        ctx = _context(self._break_info(channel, brk, duration), session, config.channel, brk)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.budget):
                resolved = await self._resolve(config, ctx, position)
                creatives, usable, media_skips = await self._creatives(channel, profile, resolved.ads)
        except (TimeoutError, OriginError, AdError) as error:
            return self._failed(channel.name, brk, session, profile, error)
        finally:
            if self.observe_decision is not None:
                self.observe_decision(time.monotonic() - started)
        if not resolved.ads:
            self.count(channel.name, "EMPTY_VAST_RESPONSE")
        chosen, unfit = fit(usable, duration)
        skipped = (*resolved.skipped, *media_skips, *unfit)
        self._report(channel.name, brk, session, skipped)
        self.count(channel.name, "decisions")
        self.count(channel.name, "ads_chosen", len(chosen))
        log.debug("break %s decided in %.3f s: %d ads", brk.id, time.monotonic() - started, len(chosen))
        plan = plan_for([creatives[ad.key] for ad in chosen], profile.slate)
        return Decision(plan, tuple(chosen), skipped, resolved.break_tracking)

    async def _resolve(self, config: AdConfig, ctx: AdContext, position: BreakPosition) -> ResolvedResponse:
        assert config.tag is not None
        headers = {**forwarding_headers(ctx), **config.headers.render(ctx)}

        async def fetch(url: str) -> bytes:
            body = await self.ads.get(url, timeout=self.ad_timeout, headers=headers)
            if config.transforms and self.transforms is not None:
                body = await self.transforms.apply_all(config.transforms, body)
            return body

        return await resolve(config.tag.render(ctx), fetch, expected=config.response, position=position)

    def _break_info(self, channel: ChannelConfig, brk: Break, duration: float) -> BreakInfo:
        """Built once per break (its SCTE-35 decoded once), shared by every session's request."""
        key = (*channel.key, brk.id)
        info = self._break_infos.get(key)
        if info is None or info.duration != duration:
            # Brightcove Live timestamputc.origin: the cue-out segment's PROGRAM-DATE-TIME, else when it was first seen.
            seen = info.origin_time if info is not None else time.time()
            info = self._break_infos[key] = BreakInfo(
                duration,
                scte35=brk.cue.scte35,
                ad_server_data=brk.ad_server_data,
                origin_time=brk.start_pdt if brk.start_pdt is not None else seen,
            )
        return info

    def beacon_headers(self, channel: ChannelConfig, session: Session, brk: Break | None) -> dict[str, str]:
        """What a server-side beacon for `session` carries: the viewer's identity, and the configuration's custom
        headers when `ad_configuration_headers_for_impressions` (Brightcove Live API) asks for them."""
        ctx = self._beacon_context(channel, session, brk)
        headers = forwarding_headers(ctx)
        config = self.configs.get(channel.key)
        if channel.ad_headers_for_impressions and config is not None:
            headers.update(config.headers.render(ctx))
        return headers

    def template_beacons(
        self, channel: ChannelConfig, session: Session, brk: Break | None, kinds: tuple[str, ...]
    ) -> list[tuple[str, str]]:
        """Video Cloud SSAI API `beacon_templates` of those `kinds`, rendered with the ad tag variables: (kind, URL)."""
        config = self.configs.get(channel.key)
        if config is None or not config.beacons:
            return []
        ctx = self._beacon_context(channel, session, brk)
        return [(kind, template.render(ctx)) for kind, template in config.beacons if kind in kinds]

    def _beacon_context(self, channel: ChannelConfig, session: Session, brk: Break | None) -> AdContext:
        duration = (brk.planned if brk is not None else None) or self.default_break
        info = self._break_info(channel, brk, duration) if brk is not None else BreakInfo(duration)
        config = self.configs.get(channel.key)
        return _context(info, session, config.channel if config is not None else ChannelInfo(), brk)

    def _failed(
        self, channel: str, brk: Break, session: Session | None, profile: Profile, error: Exception
    ) -> Decision:
        if isinstance(error, ProxyError):
            # By type (proxy.errors): an ad error names its own (a transform's timeout is TRANSFORM_FAILED), an ad
            # server slower than its timeout is ADS_TIMEOUT, a refused URL EGRESS_REFUSED, any other fetch ADS_ERROR.
            reason, message = error.skip_reason or "ADS_ERROR", error.message
        else:
            reason, message = "ADS_TIMEOUT", f"no decision within the {self.budget:g} s budget"
        self.count(channel, reason)
        who = session.id if session else "every session"
        log.warning("break %s (%s): %s: %s; slate", brk.id, who, reason, message)
        return Decision(plan_for([], profile.slate), (), (Skip("", reason, message),))

    async def _creatives(
        self, channel: ChannelConfig, profile: Profile, ads: tuple[Ad, ...]
    ) -> tuple[dict[str, Creative], list[Ad], list[Skip]]:
        results = await asyncio.gather(*(self._creative(channel, profile, ad) for ad in ads))
        creatives = {ad.key: result for ad, result in zip(ads, results, strict=True) if isinstance(result, Creative)}
        usable = [replace(ad, duration=creatives[ad.key].duration) for ad in ads if ad.key in creatives]
        return creatives, usable, [result for result in results if isinstance(result, Skip)]

    async def _creative(self, channel: ChannelConfig, profile: Profile, ad: Ad) -> Creative | Skip:
        """A preconditioned HLS MediaFile is used as it is when it fits the channel, else remade by the media
        pipeline like the best progressive one, which is always transcoded."""
        hls = next((media for media in ad.media_files if media.is_hls and not media.is_interactive), None)
        if hls is None:
            return await self._transcoded(channel, profile, ad)
        try:
            return await self.loader.load(
                ad.key, hls.url, profile.tracks, profile.target_duration, channel.ad_segment_prefix, profile.transcode
            )
        except CreativeMisfit as misfit:
            if self.pipeline is None:
                return Skip(ad.ad_id, misfit.skip_reason, misfit.message, 405, ad.errors)
            return await self._prepared(channel, profile, ad, hls.url)
        except AdError as error:
            return Skip(ad.ad_id, error.skip_reason, error.message, 405, ad.errors)  # 405: unable to display MediaFile
        except OriginError as error:
            return Skip(ad.ad_id, "MEDIA_FILE_UNAVAILABLE", error.message, 401, ad.errors)  # 401: file not found

    async def _transcoded(self, channel: ChannelConfig, profile: Profile, ad: Ad) -> Creative | Skip:
        source = transcode_source(ad)
        if source is None or self.pipeline is None:
            unsupported = unsupported_media(ad, lambda media: False)
            assert unsupported is not None
            return unsupported
        return await self._prepared(channel, profile, ad, source.url)

    async def _prepared(self, channel: ChannelConfig, profile: Profile, ad: Ad, source: str) -> Creative | Skip:
        """The creative remade from `source` for the channel's profile, or why it cannot play yet."""
        assert self.pipeline is not None
        if profile.transcode is None:
            detail = f"channel {channel.name!r} has no transcode profile (its master could not be read)"
            return Skip(ad.ad_id, "PROFILE_NOT_FOUND", detail, ErrorCode.MEDIA_DISPLAY, ad.errors)
        ready = await self.pipeline.creative(
            ad.key, source, profile.transcode, profile.tracks, channel.ad_segment_prefix, account=channel.account_id
        )
        if isinstance(ready, NotReady):
            return Skip(ad.ad_id, ready.reason, f"creative {ad.key!r}: {ready.detail}", ready.code, ad.errors)
        return ready

    def _report(self, channel: str, brk: Break, session: Session | None, skipped: tuple[Skip, ...]) -> None:
        now = datetime.now(UTC)
        for skip in skipped:
            self.count(channel, skip.reason)
            who = session.id if session else "every session"
            log.info("break %s (%s): skipped ad %r: %s: %s", brk.id, who, skip.ad_id, skip.reason, skip.detail)
            for template in skip.error_urls if skip.code else ():
                record = self.events.record(session, "error", skip.ad_id, brk.id) if session else None
                self.beacons.fire(error_url(template, skip.code, timestamp=now), record=record)


def _context(info: BreakInfo, session: Session | None, channel: ChannelInfo, brk: Break | None) -> AdContext:
    if session is None:
        return AdContext(info, time.time(), secrets.randbits(64), channel=channel)
    client = session.client or Client("", "", "")
    viewer = ViewerInfo(
        session.id,
        client_ip=client.ip,
        forwarded_for=client.forwarded_for,
        user_agent=client.user_agent,
        referer=client.referer,
        params=session.params or {},
    )
    avail = session.folded_count + len(session.decided or ()) + 1  # MediaTailor avail.index: 1-based, per session
    # Brightcove Live API timestamputc.session: the origin time moved by what the session's earlier breaks shifted its
    # timeline (ads and slate longer or shorter than the content they replaced).
    origin = info.origin_time
    at = origin + session.timeline_shift(brk.start_msn) if origin is not None and brk is not None else None
    return AdContext(info, time.time(), secrets.randbits(64), viewer, channel, avail, at)
