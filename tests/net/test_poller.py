"""A track's poller on its own: a scripted origin client and an owner that records what it is told.

The poller keeps the last good window, serves it for up to one target duration of origin failure, counts a
body that does not parse, logs a problem when it changes, and leaves its owner once nobody asks for the track.
The whole-system view of the same (real servers, `/metrics`) is in tests/net/test_origin_warnings.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import pytest

from proxy.errors import HttpStatusError, OriginError
from proxy.hls.master import Track
from proxy.hls.render import Window
from proxy.net.poller import TrackPoller, TrackSource

URL = "http://origin.test/live/v0.m3u8"
TRACK = Track("v0", "v0.m3u8", 1_000_000, "")


def playlist(first: int, td: int = 2) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{td}", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    for msn in range(first, first + 3):
        lines += [f"#EXTINF:{td}.0,", f"{msn}.ts"]
    return ("\n".join(lines) + "\n").encode()


class ScriptedClient:
    """Answers each request with the next body or error of its script; the last one again once it runs out."""

    def __init__(self, *answers: bytes | OriginError) -> None:
        self.answers = list(answers)
        self.requests = 0
        self.errors: Counter[str] = Counter()

    async def get(self, url: str, *, timeout: float) -> bytes:
        self.requests += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, OriginError):
            self.errors[answer.kind] += 1  # as the origin client counts its fetch failures
            raise answer
        return answer

    def count(self, error: OriginError) -> None:
        self.errors[error.kind] += 1


class Owner:
    def __init__(self, idle_after: float = 0.0, target_duration: int = 2) -> None:
        self.idle_after = idle_after
        self.target_duration = target_duration
        self.windows: list[tuple[str, Window]] = []
        self.polls = 0
        self.idle: list[TrackPoller] = []

    def on_window(self, track: Track, window: Window) -> None:
        self.windows.append((track.name, window))

    async def after_poll(self) -> None:
        self.polls += 1

    def on_idle(self, poller: TrackPoller) -> None:
        self.idle.append(poller)


def source(*, prefix: str | None = None, redirect: bool = False) -> TrackSource:
    return TrackSource("news", TRACK, URL, 1.0, prefix, redirect)


async def poller_of(owner: Owner, client: ScriptedClient, src: TrackSource | None = None) -> TrackPoller:
    """A poller whose background loop has ended at once (`idle_after` 0): each poll is the test's own."""
    poller = TrackPoller(owner, src or source(), client)
    await poller.task
    return poller


async def test_a_good_poll_keeps_the_window_and_tells_the_owner() -> None:
    owner, client = Owner(), ScriptedClient(playlist(10))
    poller = await poller_of(owner, client)
    await poller.poll()
    assert poller.first.is_set() and poller.error is None
    assert owner.windows == [("v0", poller.window)] and poller.current() is poller.window
    assert poller.current().first_msn == 10 and poller.current().url == URL


async def test_the_windows_name_content_segments_as_the_source_says() -> None:
    poller = await poller_of(Owner(), ScriptedClient(playlist(5)), source(prefix="https://cdn.test"))
    await poller.poll()
    assert poller.current().segment_uri(5, "5.ts") == "https://cdn.test/live/5.ts"
    poller = await poller_of(Owner(), ScriptedClient(playlist(5)), source(redirect=True))
    await poller.poll()
    assert poller.current().segment_uri(5, "5.ts") == "cseg/v0/5.ts"


async def test_the_last_good_window_is_served_for_one_target_duration_of_failure() -> None:
    broken = HttpStatusError(f"GET {URL} answered HTTP 500: expected 200", 500)
    owner, client = Owner(target_duration=2), ScriptedClient(playlist(10), broken)
    poller = await poller_of(owner, client)
    await poller.poll()
    good = poller.window
    await poller.poll()
    assert poller.error is broken and poller.current() is good and poller.first.is_set()
    assert poller.failing_since is not None
    poller.failing_since -= 2.5  # failing for longer than the target duration
    with pytest.raises(HttpStatusError):
        poller.current()
    assert len(owner.windows) == 1


async def test_no_window_yet_is_an_origin_error() -> None:
    poller = await poller_of(Owner(), ScriptedClient(playlist(1)))
    with pytest.raises(OriginError, match="no playlist from"):
        poller.current()
    await poller.poll()
    assert poller.current() is poller.window


async def test_a_body_that_does_not_parse_is_counted_and_logged_once_per_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="proxy.net.poller")
    bad = playlist(10).replace(b"#EXTINF:2.0,", b"#EXTINF:abc,", 1)
    client = ScriptedClient(bad, bad, playlist(11))
    poller = await poller_of(Owner(), client)
    for _ in range(3):
        await poller.poll()
    assert client.errors == {"unparsable": 2} and poller.window is not None
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "proxy.net.poller"]
    assert [level for level, _ in logged] == ["WARNING", "INFO"], logged
    assert "channel news track v0" in logged[0][1] and "'#EXTINF:abc,'" in logged[0][1]
    assert "answers well again" in logged[1][1]


async def test_a_poller_logs_to_the_logger_it_is_given(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tests.channel")
    broken = HttpStatusError(f"GET {URL} answered HTTP 500: expected 200", 500)
    poller = TrackPoller(Owner(), source(), ScriptedClient(broken), logging.getLogger("tests.channel"))
    await poller.task
    await poller.poll()
    assert [r.name for r in caplog.records] == ["tests.channel"]


async def test_it_polls_while_watched_then_leaves_its_owner() -> None:
    owner, client = Owner(idle_after=0.3, target_duration=0), ScriptedClient(playlist(1))
    poller = TrackPoller(owner, source(), client)
    await asyncio.wait_for(poller.task, timeout=10.0)  # unwatched: it polls every second until idle
    assert owner.idle == [poller] and client.requests == owner.polls >= 1
    assert time.monotonic() - poller.last_request >= 0.3


async def test_stop_ends_the_polling() -> None:
    owner = Owner(idle_after=60.0)
    poller = TrackPoller(owner, source(), ScriptedClient(playlist(1)))
    await poller.first.wait()
    await poller.stop()
    assert poller.task.cancelled() and owner.idle == []
