"""Ad decisions: one per (session, break), started when the break is first seen (prefetch).

Whatever goes wrong (timeout, HTTP error, bad VAST, no usable creative) the decision still completes:
with the slate, or with nothing so the content plays. A skipped ad keeps its reason in the logs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, replace

from proxy.ads.fit import fit
from proxy.ads.macros import break_variables, compile_template
from proxy.ads.models import Ad, Skip
from proxy.ads.vast import parse_vast
from proxy.assets import CreativeLoader
from proxy.errors import AdError, OriginError
from proxy.hls.breaks import Break
from proxy.hls.fill import Creative, FillPlan
from proxy.hls.master import Track
from proxy.origin import HttpClient
from proxy.settings import ChannelConfig

log = logging.getLogger("proxy.decisions")


@dataclass(frozen=True, slots=True)
class Decision:
    plan: FillPlan
    ads: tuple[Ad, ...]
    skipped: tuple[Skip, ...] = ()


@dataclass(frozen=True, slots=True)
class Profile:
    """What a creative must match: the channel's tracks and target duration."""

    tracks: tuple[Track, ...]
    target_duration: int
    slate: Creative | None


def plan_for(creatives: list[Creative], slate: Creative | None) -> FillPlan:
    key = "|".join(c.key for c in creatives) + f"|slate={slate.key if slate else ''}"
    return FillPlan(key, tuple(creatives), slate)


class DecisionService:
    def __init__(self, client: HttpClient, loader: CreativeLoader, *, ad_timeout: float, default_break: float) -> None:
        self.client = client
        self.loader = loader
        self.ad_timeout = ad_timeout
        self.default_break = default_break
        self.counts: Counter[str] = Counter()
        self._tasks: dict[str, dict[str, asyncio.Task[Decision]]] = {}  # session id -> break id -> decision
        self._templates: dict[str, object] = {}

    def peek(self, session_id: str, brk: Break) -> Decision | None:
        tasks = self._tasks.get(session_id)
        task = tasks.get(brk.id) if tasks else None
        if task is None or not task.done():
            return None
        self.forget(session_id, brk)
        return task.result()

    def start(
        self, channel: ChannelConfig, profile: Profile, session_id: str, params: dict[str, str], brk: Break
    ) -> None:
        tasks = self._tasks.setdefault(session_id, {})
        if brk.id not in tasks:
            tasks[brk.id] = asyncio.ensure_future(self._decide(channel, profile, session_id, params, brk))

    def forget(self, session_id: str, brk: Break) -> None:
        tasks = self._tasks.get(session_id)
        task = tasks.pop(brk.id, None) if tasks else None
        if task is not None and not task.done():
            task.cancel()
        if tasks is not None and not tasks:
            del self._tasks[session_id]

    def drop_session(self, session_id: str) -> None:
        for task in self._tasks.pop(session_id, {}).values():
            task.cancel()

    async def _decide(
        self, channel: ChannelConfig, profile: Profile, session_id: str, params: dict[str, str], brk: Break
    ) -> Decision:
        duration = brk.planned or self.default_break
        if channel.ad_tag is None:
            return Decision(plan_for([], profile.slate), ())
        started = time.monotonic()
        try:
            ads, skipped = await self._fetch(channel.ad_tag, session_id, params, duration)
        except (OriginError, AdError) as error:
            reason = "ADS_TIMEOUT" if "longer than" in error.message else "ADS_ERROR"
            self.counts[reason] += 1
            log.warning("break %s session %s: %s: %s; slate", brk.id, session_id, reason, error.message)
            return Decision(plan_for([], profile.slate), (), (Skip("", reason, error.message),))
        creatives, usable, more = await self._creatives(channel, profile, ads)
        chosen, unfit = fit(usable, duration)
        for skip in (*skipped, *more, *unfit):
            self.counts[skip.reason] += 1
            log.info(
                "break %s session %s: skipped ad %r: %s: %s", brk.id, session_id, skip.ad_id, skip.reason, skip.detail
            )
        self.counts["decisions"] += 1
        log.debug("break %s session %s decided in %.3f s", brk.id, session_id, time.monotonic() - started)
        return Decision(
            plan_for([creatives[ad.key] for ad in chosen], profile.slate), tuple(chosen), (*skipped, *more, *unfit)
        )

    async def _fetch(
        self, template: str, session_id: str, params: dict[str, str], duration: float
    ) -> tuple[list[Ad], list[Skip]]:
        render = self._templates.get(template)
        if render is None:
            render = self._templates[template] = compile_template(template)
        url = render(break_variables(session_id, duration, params, random.randrange(2**31)))  # type: ignore[operator]
        body = await self.client.get(url, timeout=self.ad_timeout)
        response = parse_vast(body)
        if not response.ads:
            self.counts["EMPTY_VAST_RESPONSE"] += 1
        return list(response.ads), list(response.skipped)

    async def _creatives(
        self, channel: ChannelConfig, profile: Profile, ads: list[Ad]
    ) -> tuple[dict[str, Creative], list[Ad], list[Skip]]:
        results = await asyncio.gather(*(self._creative(channel, profile, ad) for ad in ads))
        creatives = {ad.key: result for ad, result in zip(ads, results, strict=True) if isinstance(result, Creative)}
        usable = [replace(ad, duration=creatives[ad.key].duration) for ad in ads if ad.key in creatives]
        return creatives, usable, [result for result in results if isinstance(result, Skip)]

    async def _creative(self, channel: ChannelConfig, profile: Profile, ad: Ad) -> Creative | Skip:
        hls = [media for media in ad.media_files if media.is_hls]
        if not hls:
            return Skip(
                ad.ad_id, "NO_VARIANT_MATCH", "no application/x-mpegURL MediaFile (MP4 creatives need issue #4)"
            )
        try:
            return await self.loader.load(
                ad.key, hls[0].url, profile.tracks, profile.target_duration, channel.ad_segment_prefix
            )
        except AdError as error:
            return Skip(ad.ad_id, error.reason, error.message)
        except OriginError as error:
            return Skip(ad.ad_id, "MEDIA_FILE_UNAVAILABLE", error.message)
