"""Hot-path micro-benchmark: one session's media playlist rendered from a compiled window.

Scenarios are those of Eyevinn Ritcher's published benchmark (github.com/eyevinn-osaas/ritcher, BENCHMARK.md): 6
segments with 1 break, 15 + 1, 60 + 3 and 12 + 0 (passthrough). Each figure is the mean over many renders of the
same session playlist, next to a baseline measured in the same run: joining the same output's bytes,
the least any implementation must do. Run: `python -m bench.hotpath`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from proxy.hls.breaks import BreakTracker, due_breaks
from proxy.hls.fill import Creative, Fill, FillPlan
from proxy.hls.playlist import parse_media
from proxy.hls.render import Window, render

TD = 6
SCENARIOS = {"6 segments + 1 break": (6, 1), "15 + 1": (15, 1), "60 + 3": (60, 3), "12 + 0 (passthrough)": (12, 0)}


def origin_window(segments: int, breaks: int) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{TD}", "#EXT-X-MEDIA-SEQUENCE:1000"]
    span = 3 if segments < 10 else 5
    starts = {1 + i * (segments // max(breaks, 1)) for i in range(breaks)}
    for index in range(segments):
        if index in starts:
            lines.append(f"#EXT-X-CUE-OUT:{span * TD}.000")
        elif any(0 < index - s < span for s in starts):
            lines.append(f"#EXT-X-CUE-OUT-CONT:{(index - min(s for s in starts if s < index)) * TD}/{span * TD}")
        elif any(index - s == span for s in starts):
            lines.append("#EXT-X-CUE-IN")
        lines += [
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.000Z",
            f"#EXTINF:{TD}.000,",
            f"content/{1000 + index}.ts",
        ]
    return ("\n".join(lines) + "\n").encode()


def ad(key: str, count: int) -> Creative:
    uris = tuple(f"https://ads.example/{key}/v0/{i}.ts" for i in range(count))
    return Creative(key, (float(TD),) * count, {"v0": uris}, {"v0": (float(TD),) * count})


def scenario(segments: int, breaks: int) -> Callable[[], bytes]:
    playlist = parse_media(origin_window(segments, breaks), "https://origin.example/live/v0.m3u8")
    window = Window(playlist, "https://origin.example/live/v0.m3u8")
    tracker = BreakTracker()
    tracker.feed(playlist)
    plan = FillPlan("pod", (ad("a", 2), ad("b", 1)), ad("slate", 1))
    fills = [Fill(brk, plan) for brk in tracker.breaks]
    assert len(fills) == breaks, (len(fills), breaks)

    def once() -> bytes:
        due_breaks(tracker.breaks, 10**9, 0, window.last_msn)
        return render(window, "v0", fills)

    return once


def mean_ns(function: Callable[[], object], seconds: float = 1.0) -> float:
    count, start = 0, time.perf_counter_ns()
    deadline = start + int(seconds * 1e9)
    while time.perf_counter_ns() < deadline:
        for _ in range(200):
            function()
        count += 200
    return (time.perf_counter_ns() - start) / count


def main() -> None:
    print(f"{'scenario':<24} {'render µs':>10} {'baseline µs':>12} {'ratio':>7}")
    for name, (segments, breaks) in SCENARIOS.items():
        once = scenario(segments, breaks)
        output = once()
        parts = output.split(b"\n")
        render_ns = mean_ns(once)
        baseline_ns = mean_ns(lambda parts=parts: b"\n".join(parts))  # type: ignore[misc]
        print(f"{name:<24} {render_ns / 1000:>10.2f} {baseline_ns / 1000:>12.2f} {render_ns / baseline_ns:>7.1f}")


if __name__ == "__main__":
    main()
