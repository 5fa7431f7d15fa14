"""Slates (seed 002 "Managing slates"): an account's own videos filling unused ad time.

A slate is added from a source URL (or, from the operator's channel file, a local file) and prepared by the
media pipeline for every channel profile the proxy serves; its status is `transcoding` until every one of
them is ready, `ready` then, `error` when its source cannot be downloaded, probed or transcoded (with the
reason). With no channel profile known yet, the source is downloaded and probed, so a bad URL is reported at
once. The first slate of an account is its default; deleting the default makes the oldest remaining one the
default. The library is in memory here; issue #5 persists it behind the control API.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from proxy.hls.profile import TranscodeProfile
from proxy.jobs import Job
from proxy.pipeline import MediaPipeline

SlateStatus = Literal["transcoding", "ready", "error"]


def slate_key(source_url: str) -> str:
    """The pipeline key of a slate: shared by every slate (and channel file entry) with the same source."""
    return f"slate:{source_url}"


@dataclass(slots=True)
class Slate:
    account_id: str
    source_url: str
    description: str = ""
    default: bool = False
    trusted: bool = False  # named by the operator: may be a local file, fetched without the egress policy
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: float = field(default_factory=time.time)


class SlateLibrary:
    def __init__(self, pipeline: MediaPipeline) -> None:
        self.pipeline = pipeline
        self.slates: dict[str, Slate] = {}
        pipeline.on_profile.append(self._new_profile)

    def _new_profile(self, profile: TranscodeProfile) -> None:
        """A channel with a new ladder started: every slate is prepared for it now, not on the next look."""
        for slate in self.slates.values():
            self.pipeline.prepare(
                slate_key(slate.source_url), slate.source_url, profile, kind="slate", trusted=slate.trusted
            )

    def add(self, account_id: str, source_url: str, description: str = "", *, trusted: bool = False) -> Slate:
        default = not self.of_account(account_id)
        slate = Slate(account_id, source_url, description, default, trusted)
        self.slates[slate.id] = slate
        self._jobs(slate)
        return slate

    def of_account(self, account_id: str) -> list[Slate]:
        return sorted((s for s in self.slates.values() if s.account_id == account_id), key=lambda s: s.created)

    def get(self, account_id: str, slate_id: str) -> Slate | None:
        slate = self.slates.get(slate_id)
        return slate if slate is not None and slate.account_id == account_id else None

    def default(self, account_id: str) -> Slate | None:
        return next((slate for slate in self.of_account(account_id) if slate.default), None)

    def delete(self, account_id: str, slate_id: str) -> Slate | None:
        slate = self.get(account_id, slate_id)
        if slate is None:
            return None
        del self.slates[slate_id]
        remaining = self.of_account(account_id)
        if slate.default and remaining:
            remaining[0].default = True
        return slate

    def status(self, slate: Slate) -> tuple[SlateStatus, str | None]:
        """The slate's status and, for `error`, why. Profiles added since it was checked get their job now."""
        jobs = self._jobs(slate)
        failed = next((job for job in jobs if job.state == "error"), None)
        if failed is not None:
            return "error", f"{failed.stage}: {failed.error}"
        if any(job.active for job in jobs):
            return "transcoding", None
        return "ready", None

    def _jobs(self, slate: Slate) -> list[Job]:
        """The jobs preparing `slate` for every known profile (none for those on disk), or its probe."""
        key = slate_key(slate.source_url)
        profiles = list(self.pipeline.profiles.values())
        if not profiles:
            probe = self.pipeline.jobs.get(self.pipeline.job_id(None, key))
            return [probe or self.pipeline.probe_source(key, slate.source_url, trusted=slate.trusted)]
        prepared = (
            self.pipeline.prepare(key, slate.source_url, profile, kind="slate", trusted=slate.trusted)
            for profile in profiles
        )
        return [job for job in prepared if job is not None]

    def as_seed(self, slate: Slate) -> dict[str, Any]:
        """Seed 002's `media_source_asset_*` shape."""
        status, error = self.status(slate)
        document: dict[str, Any] = {
            "media_source_asset_id": slate.id,
            "account_id": slate.account_id,
            "media_source_asset_default": slate.default,
            "media_source_asset_type": "slate",
            "media_source_asset_url": slate.source_url,
            "media_source_asset_status": status,
            "media_source_asset_description": slate.description,
        }
        if error is not None:
            document["media_source_asset_error"] = error
        return document
