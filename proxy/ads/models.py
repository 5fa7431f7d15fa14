"""What an ad response says, in one model whatever format it came in."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class MediaFile:
    url: str
    mime_type: str
    delivery: str
    bitrate: int  # kb/s, 0 when not given
    width: int
    height: int

    @property
    def is_hls(self) -> bool:
        return self.mime_type.lower() in ("application/x-mpegurl", "application/vnd.apple.mpegurl")


@dataclass(frozen=True, slots=True)
class Ad:
    ad_id: str
    sequence: int | None
    ad_system: str
    title: str
    creative_id: str
    duration: float
    media_files: tuple[MediaFile, ...]
    impressions: tuple[str, ...] = ()
    click_through: tuple[str, ...] = ()
    click_tracking: tuple[str, ...] = ()
    tracking: tuple[tuple[str, str], ...] = ()  # (event, url)
    errors: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Creatives are keyed by id, or by media URL when there is none (MediaTailor's cache key)."""
        return self.creative_id or (self.media_files[0].url if self.media_files else self.ad_id)


@dataclass(frozen=True, slots=True)
class Skip:
    ad_id: str
    reason: str  # MediaTailor's skip reason names: AVAIL_DURATION_EXCEEDED, NO_VARIANT_MATCH, …
    detail: str


@dataclass(frozen=True, slots=True)
class AdResponse:
    ads: tuple[Ad, ...]
    skipped: tuple[Skip, ...] = field(default_factory=tuple)
