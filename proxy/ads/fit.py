"""Fit a pod into a break: ads are never clipped; one longer than what is left is dropped (Brightcove Live API)."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.ads.models import Ad, Skip

# Ad durations are rounded in VAST (HH:MM:SS.mmm) and in segment EXTINFs; a few ms over is not "longer".
SLACK = 0.1


def fit(ads: Sequence[Ad], break_duration: float) -> tuple[list[Ad], list[Skip]]:
    chosen: list[Ad] = []
    skipped: list[Skip] = []
    left = break_duration
    for ad in ads:
        if ad.duration <= left + SLACK:
            chosen.append(ad)
            left -= ad.duration
        else:
            detail = f"ad of {ad.duration:g} s does not fit in the {left:g} s left of a {break_duration:g} s break"
            skipped.append(Skip(ad.ad_id, "AVAIL_DURATION_EXCEEDED", detail))
    return chosen, skipped
