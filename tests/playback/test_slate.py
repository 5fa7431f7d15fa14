"""A channel's slate on its own: a loader and a media pipeline that record what they are asked.

An HLS slate that fits is loaded as it is; one that does not is remade by the pipeline, as a video file is, and
looked for until ready; an unusable one leaves breaks to content. The whole-system view (real transcodes) is
in tests/e2e/test_slate_default.py and tests/e2e/test_slate_remainder.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import pytest

from proxy.errors import AdError, HttpStatusError
from proxy.hls.fill import Creative
from proxy.hls.master import Track
from proxy.hls.profile import TranscodeProfile
from proxy.media.creatives import CreativeMisfit
from proxy.media.pipeline import NotReady
from proxy.playback.slate import ChannelSlate, is_playlist
from proxy.settings import ChannelConfig

HLS, MP4 = "https://ads.test/slate/master.m3u8", "https://ads.test/slate.mp4"
TRACKS = (Track("v0", "v0.m3u8", 1_000_000, ""),)
PROFILE = TranscodeProfile(variants=(), audio=(), target_duration=2, packaging="ts")
SLATE = Creative("slate", (2.0,), {"v0": ("https://ads.test/slate/0.ts",)}, {"v0": (2.0,)})
JOB_RUNS = NotReady("TRANSCODE_IN_PROGRESS", "job 1 is running", 0)


class Loader:
    def __init__(self, answer: Creative | Exception = SLATE) -> None:
        self.answer = answer
        self.asked: list[tuple[Any, ...]] = []

    async def load(
        self,
        key: str,
        url: str,
        tracks: Sequence[Track],
        target_duration: int,
        prefix: str | None = None,
        profile: TranscodeProfile | None = None,
    ) -> Creative:
        self.asked.append((key, url, tuple(tracks), target_duration, prefix, profile))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Pipeline:
    """Answers each request with the next answer of its script; the last one again once it runs out."""

    def __init__(self, *answers: Creative | NotReady) -> None:
        self.answers = list(answers)
        self.asked: list[dict[str, Any]] = []

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
    ) -> Creative | NotReady:
        self.asked.append(
            {"key": key, "source": source, "prefix": prefix, "kind": kind, "trusted": trusted, "account": account}
        )
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def config(slate: str | None) -> ChannelConfig:
    channel = ChannelConfig(
        "news", "https://origin.test/master.m3u8", slate=slate, ad_segment_prefix="https://cdn.test"
    )
    return replace(channel, slate_trusted=False, account_id="acct-a")


async def test_no_slate_asks_nobody() -> None:
    loader, pipeline = Loader(), Pipeline(SLATE)
    slate = ChannelSlate(config(None), loader, pipeline)
    await slate.load(TRACKS, 2, PROFILE)
    await slate.refresh()
    assert slate.creative is None and loader.asked == [] and pipeline.asked == []


async def test_an_hls_slate_that_fits_is_loaded_as_it_is() -> None:
    loader, pipeline = Loader(), Pipeline(SLATE)
    slate = ChannelSlate(config(HLS), loader, pipeline)
    await slate.load(TRACKS, 2, PROFILE)
    await slate.refresh()
    assert slate.creative is SLATE and slate.status is None and not slate.remade
    assert loader.asked == [("slate", HLS, TRACKS, 2, "https://cdn.test", PROFILE)] and pipeline.asked == []


async def test_an_hls_slate_that_does_not_fit_is_remade_and_looked_for_until_ready(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="proxy.playback.slate")
    loader, pipeline = Loader(CreativeMisfit("NEW_CREATIVE", "6 s segments")), Pipeline(JOB_RUNS, JOB_RUNS, SLATE)
    slate = ChannelSlate(config(HLS), loader, pipeline)
    await slate.load(TRACKS, 2, PROFILE)
    assert slate.remade and slate.creative is None and slate.status == JOB_RUNS
    await slate.refresh()
    await slate.refresh()
    assert slate.creative is SLATE and slate.status is None
    await slate.refresh()  # ready: the pipeline is not asked again
    assert len(pipeline.asked) == 3
    assert pipeline.asked[0] == {
        "key": f"slate:{HLS}",
        "source": HLS,
        "prefix": "https://cdn.test",
        "kind": "slate",
        "trusted": False,
        "account": "acct-a",
    }
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 3, said  # remade, not ready (once while the status stays), ready
    assert "is remade" in said[0] and "not ready: TRANSCODE_IN_PROGRESS" in said[1] and said[2].endswith("ready")


async def test_an_hls_slate_that_does_not_fit_without_a_pipeline_is_not_played() -> None:
    slate = ChannelSlate(config(HLS), Loader(CreativeMisfit("NEW_CREATIVE", "6 s segments")), None)
    await slate.load(TRACKS, 2, PROFILE)
    await slate.refresh()
    assert slate.creative is None and not slate.remade


@pytest.mark.parametrize(
    "error", [HttpStatusError("GET slate answered HTTP 404: expected 200", 404), AdError("ERROR", "no tracks")]
)
async def test_an_unusable_slate_leaves_breaks_to_content(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    pipeline = Pipeline(SLATE)
    slate = ChannelSlate(config(HLS), Loader(error), pipeline)
    await slate.load(TRACKS, 2, PROFILE)
    await slate.refresh()
    assert slate.creative is None and pipeline.asked == []
    assert [r.levelname for r in caplog.records] == ["ERROR"] and "fall back to content" in caplog.text


async def test_a_video_slate_is_made_for_the_ladder_once_the_ladder_is_known() -> None:
    loader, pipeline = Loader(), Pipeline(JOB_RUNS, SLATE)
    slate = ChannelSlate(config(MP4), loader, pipeline)
    await slate.refresh()  # polled before the channel knows its ladder
    assert pipeline.asked == []
    await slate.load(TRACKS, 2, PROFILE)
    assert slate.status == JOB_RUNS and loader.asked == []
    await slate.refresh()
    assert slate.creative is SLATE and [a["source"] for a in pipeline.asked] == [MP4, MP4]


async def test_a_video_slate_needs_a_pipeline_and_a_profile() -> None:
    for pipeline, profile in ((None, PROFILE), (Pipeline(SLATE), None)):
        slate = ChannelSlate(config(MP4), Loader(), pipeline)
        await slate.load(TRACKS, 2, profile)
        await slate.refresh()
        assert slate.creative is None and slate.status is None


async def test_a_slate_logs_to_the_logger_it_is_given(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tests.channel")
    slate = ChannelSlate(config(MP4), Loader(), Pipeline(SLATE), logging.getLogger("tests.channel"))
    await slate.load(TRACKS, 2, PROFILE)
    assert [r.name for r in caplog.records] == ["tests.channel"]


@pytest.mark.parametrize(
    ("url", "playlist"),
    [(HLS, True), ("https://a.test/SLATE.M3U?x=1", True), (MP4, False), ("https://a.test/slate.m3u8.mp4", False)],
)
def test_an_hls_slate_is_named_by_its_path(url: str, playlist: bool) -> None:
    assert is_playlist(url) is playlist
