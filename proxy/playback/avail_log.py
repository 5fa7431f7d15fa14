"""One log record per session's ad break once its decision is frozen (an "avail"): what filled it and why not more,
as a stitcher's ad decision logs tell an operator. Logger `proxy.avails`, at INFO; with `SSAI_LOG_FORMAT=json` each
record is one JSON line carrying the fields of `avail_fields` beside the message."""

from __future__ import annotations

import logging
from typing import Any, Literal

from proxy.ads.models import Ad, Skip
from proxy.hls.breaks import Break
from proxy.playback.sessions import Session

AVAILS = logging.getLogger("proxy.avails")
# ads: at least one ad; no_ads: decided without any (the skip reasons say why); late: no decision within the wait
# (DECISION_LATE, slate); inactive: the session had stopped asking for playlists when the break came.
Outcome = Literal["ads", "no_ads", "late", "inactive"]


def avail_fields(
    channel: str, session: Session, brk: Break, outcome: Outcome, ads: tuple[Ad, ...], skipped: tuple[Skip, ...]
) -> dict[str, Any]:
    return {
        "channel": channel,
        "session": session.id,
        "break": brk.id,
        "break_msn": brk.start_msn,
        "break_seconds": brk.planned,
        "outcome": outcome,
        "ads": [ad.ad_id for ad in ads],
        "ad_seconds": round(sum(ad.duration for ad in ads), 3),
        "skipped": [{"ad": skip.ad_id, "reason": skip.reason} for skip in skipped],
    }


def log_avail(
    channel: str,
    session: Session,
    brk: Break,
    outcome: Outcome,
    ads: tuple[Ad, ...] = (),
    skipped: tuple[Skip, ...] = (),
) -> None:
    if not AVAILS.isEnabledFor(logging.INFO):
        return
    fields = avail_fields(channel, session, brk, outcome, ads, skipped)
    reasons = ", ".join(sorted({skip.reason for skip in skipped})) or "none"
    AVAILS.info(
        "avail %s/%s break %s: %s, %d ads (%.1f s of %s s), skipped: %s",
        channel, session.id, brk.id, outcome, len(ads), fields["ad_seconds"], brk.planned, reasons,
        extra={"fields": fields},
    )  # fmt: skip
