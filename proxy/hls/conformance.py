"""Whether an HLS creative's renditions are what a channel's master promises, as their own master declares them.

A session's master is the content's: its CODECS, RESOLUTION and FRAME-RATE are what a player configures its
decoder and picks a variant by (RFC 8216bis §4.4.6.2). An ad rendition of another resolution, H.264 profile,
a higher level, another frame rate or another audio codec or layout contradicts that promise at the
content/ad boundary, so such a creative is transcoded to the channel's ladder rather than played as it is.
An attribute the creative's master does not declare (or a creative that is one media playlist, with no
master) is no evidence of a mismatch: only declared values are compared.

Pure: from parsed masters and the channel's `TranscodeProfile`.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.hls.attributes import AttributeList, parse_attributes
from proxy.hls.master import Track
from proxy.hls.profile import AudioProfile, TranscodeProfile, VariantProfile, h264_profile_level

FRAME_RATE_TOLERANCE = 0.01  # FRAME-RATE is written with three decimals (RFC 8216bis §4.4.6.2)


def mismatch(profile: TranscodeProfile, paired: Mapping[str, Track]) -> str | None:
    """Why the ad renditions `paired` with the channel's tracks (by track name: v0…, a0…) do not match the
    channel's profile, or None when every declared attribute matches."""
    variants = {variant.name: variant for variant in profile.variants}
    audio = {rendition.name: rendition for rendition in profile.audio}
    for name, ad in sorted(paired.items()):
        attrs = _attrs(ad)
        if name in variants:
            found = _variant_mismatch(variants[name], attrs)
        elif name in audio:
            found = _audio_mismatch(audio[name], attrs)
        else:
            found = None
        if found is not None:
            return f"ad rendition {ad.uri} for {name}: {found}"
    return None


def _attrs(track: Track) -> AttributeList:
    return parse_attributes(track.attributes.split(":", 1)[1] if ":" in track.attributes else "")


def _variant_mismatch(variant: VariantProfile, attrs: AttributeList) -> str | None:
    return (
        _resolution_mismatch(variant, attrs.get("RESOLUTION"))
        or _codecs_mismatch(variant, attrs.get("CODECS"))
        or _frame_rate_mismatch(variant, attrs.get("FRAME-RATE"))
    )


def _resolution_mismatch(variant: VariantProfile, declared: str | None) -> str | None:
    if declared is None or declared.lower() == variant.resolution:
        return None
    return f"RESOLUTION {declared}, expected {variant.resolution}"


def _codecs_mismatch(variant: VariantProfile, declared: str | None) -> str | None:
    entries = [entry.strip() for entry in (declared or "").split(",") if entry.strip()]
    video = [entry for entry in entries if not entry.lower().startswith(("mp4a", "ac-3", "ec-3", "opus", "fla"))]
    audio = [entry for entry in entries if entry not in video]
    if video and not _video_fits(variant, video[0]):
        return f"video codec {video[0]}, expected {variant.h264_profile} at level {variant.h264_level} at most"
    if audio and variant.audio_codec is not None and audio[0].lower() != variant.audio_codec.lower():
        return f"audio codec {audio[0]}, expected {variant.audio_codec}"
    return None


def _video_fits(variant: VariantProfile, codec: str) -> bool:
    """The same H.264 profile at the same level or a lower one (a decoder of a level decodes every lower one,
    ITU-T H.264 Annex A.3)."""
    profile, level = h264_profile_level(codec)
    return bool(profile) and profile == variant.h264_profile and float(level) <= float(variant.h264_level)


def _frame_rate_mismatch(variant: VariantProfile, declared: str | None) -> str | None:
    if declared is None or variant.frame_rate is None:
        return None
    try:
        rate = float(declared)
    except ValueError:
        return f"FRAME-RATE {declared!r} is not a number"
    if abs(rate - variant.frame_rate) <= FRAME_RATE_TOLERANCE:
        return None
    return f"FRAME-RATE {declared}, expected {variant.frame_rate:.3f}"


def _audio_mismatch(audio: AudioProfile, attrs: AttributeList) -> str | None:
    declared = (attrs.get("CHANNELS") or "").split("/")[0]
    if not declared or (declared.isdigit() and int(declared) == audio.channels):
        return None
    return f"CHANNELS {declared}, expected {audio.channels}"
