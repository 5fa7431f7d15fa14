"""The slate a channel plays where no ad fills a break: loaded once the channel knows its ladder, then ready,
not ready yet (its media job runs), or unusable (breaks fall back to content).

An HLS slate that fits the channel is used as it is; one that does not, or a video file, is made for the
channel's ladder by the media pipeline, and looked for after each poll until its renditions are ready.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal, Protocol
from urllib.parse import urlsplit

from proxy.errors import AdError, OriginError
from proxy.hls.fill import Creative
from proxy.hls.master import Track
from proxy.hls.profile import TranscodeProfile
from proxy.media.creatives import CreativeMisfit
from proxy.media.pipeline import NotReady
from proxy.settings import ChannelConfig

log = logging.getLogger("proxy.playback.slate")


class SlateLoader(Protocol):
    """What loads an HLS slate that fits as it is (proxy/media/creatives.py `CreativeLoader`)."""

    async def load(
        self,
        key: str,
        url: str,
        tracks: Sequence[Track],
        target_duration: int,
        prefix: str | None = None,
        profile: TranscodeProfile | None = None,
    ) -> Creative: ...


class SlateMaker(Protocol):
    """What makes a slate for a ladder, or says why not yet (proxy/media/pipeline.py `MediaPipeline`)."""

    async def creative(
        self,
        key: str,
        source: str,
        profile: TranscodeProfile,
        tracks: Sequence[Track],
        prefix: str | None = None,
        *,
        kind: Literal["creative", "slate"] = "creative",
        trusted: bool = False,
        account: str,
    ) -> Creative | NotReady: ...


class ChannelSlate:
    """One channel version's slate: `creative` once it can play, `status` while its media job runs."""

    def __init__(
        self,
        config: ChannelConfig,
        loader: SlateLoader,
        pipeline: SlateMaker | None,
        logger: logging.Logger = log,
    ) -> None:
        self.config = config
        self.loader = loader  # egress-checked unless the slate is the channel file's own (`slate_trusted`)
        self.pipeline = pipeline
        self.log = logger
        self.creative: Creative | None = None
        self.status: NotReady | None = None  # why a transcoded slate is not there yet
        self.remade = False  # an HLS slate that does not fit as it is: the media pipeline remakes it
        self.tracks: Sequence[Track] | None = None  # the channel's ladder, once it is known
        self.profile: TranscodeProfile | None = None

    async def load(self, tracks: Sequence[Track], target_duration: int, profile: TranscodeProfile | None) -> None:
        config, source = self.config, self.config.slate
        if source is None:
            return
        self.tracks, self.profile = tracks, profile
        if not is_playlist(source):
            await self.refresh()
            return
        try:
            self.creative = await self.loader.load(
                "slate", source, tracks, target_duration, config.ad_segment_prefix, profile
            )
        except CreativeMisfit as misfit:
            self.log.info("channel %s: slate %s is remade for the channel: %s", config.name, source, misfit)
            self.remade = self.pipeline is not None
            await self.refresh()
        except (OriginError, AdError) as error:
            self.log.error(
                "channel %s: slate %s unusable, breaks fall back to content: %s", config.name, source, error.message
            )

    async def refresh(self) -> None:
        """A slate from a video file, or an HLS one that does not fit the channel as it is: look for its
        renditions until they are ready (its job runs meanwhile)."""
        source, profile, tracks = self.config.slate, self.profile, self.tracks
        if self.creative is not None or source is None or tracks is None:
            return
        if is_playlist(source) and not self.remade:
            return
        if self.pipeline is None or profile is None:
            return
        ready = await self.pipeline.creative(
            f"slate:{source}",
            source,
            profile,
            tracks,
            self.config.ad_segment_prefix,
            kind="slate",
            trusted=self.config.slate_trusted,
            account=self.config.account_id,
        )
        if isinstance(ready, NotReady):
            if ready != self.status:
                self.log.info(
                    "channel %s: slate %s not ready: %s: %s", self.config.name, source, ready.reason, ready.detail
                )
            self.status = ready
        else:
            self.creative, self.status = ready, None
            self.log.info("channel %s: slate %s ready", self.config.name, source)


def is_playlist(url: str) -> bool:
    """A preconditioned HLS slate (used as it is) rather than a video file to transcode."""
    return urlsplit(url).path.lower().endswith((".m3u8", ".m3u"))
