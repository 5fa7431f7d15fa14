"""Which MediaFile of an ad the media pipeline transcodes.

MediaTailor transcodes "the highest-quality MediaFile" of a creative (AWS MediaTailor docs); VAST 4's
Mezzanine is the file meant for exactly that (VAST 4.3 §3.9.2), so it wins when present. Otherwise the
largest progressive video file: most pixels, then highest bit rate. Streaming formats (HLS, DASH), interactive
units (VPAID, JavaScript, Flash) and audio-only files are not transcoding sources.
"""

from __future__ import annotations

from proxy.ads.models import Ad, MediaFile

STREAMING_TYPES = frozenset({"application/x-mpegurl", "application/vnd.apple.mpegurl", "application/dash+xml"})


def is_transcodable(media: MediaFile) -> bool:
    kind = media.mime_type.lower()
    if media.is_interactive or kind in STREAMING_TYPES or media.delivery.lower() == "streaming":
        return False
    return kind.startswith("video/") or kind == "application/octet-stream" or not kind


def transcode_source(ad: Ad) -> MediaFile | None:
    """The MediaFile to transcode for `ad`, or None when it has none the pipeline can use."""
    mezzanine = [media for media in ad.mezzanine if media.url]
    if mezzanine:
        return max(mezzanine, key=_quality)
    candidates = [media for media in ad.media_files if is_transcodable(media)]
    return max(candidates, key=_quality) if candidates else None


def _quality(media: MediaFile) -> tuple[int, int]:
    return media.width * media.height, media.bitrate
