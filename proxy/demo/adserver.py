"""A test VAST 3.0 ad server for the demo, serving its own creatives and the slate, as HLS and as MP4.

`GET /vast?dur=30&sid=…&mode=normal|empty|error|slow|wrapper|vmap&delay=5&media=hls|mp4` answers a pod
of the demo creatives whose durations add up to at most `dur`. `media=hls` (the default) gives each ad
a streaming HLS master conditioned like the content (`/creatives/{id}/master.m3u8`); `media=mp4` gives
a progressive MP4 instead (`/mp4/{id}.mp4`: 854x480, 30 fps, AAC 44.1 kHz), which the proxy has to
transcode, with the same creative id, impressions, tracking and click-through. The slate is served
both ways too: `/slate/master.m3u8` and `/mp4/slate.mp4`. Every impression, quartile, click and error
URL points back at `/beacon/{event}` on this app, which records the hit in memory (`app.state.beacons`,
`GET /beacons`) so tests and the demo page can count what the proxy fired. All URLs are absolute and
built from the request, so they stay right wherever the app is mounted.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.demo.media import DemoMedia, VodAsset

VAST_TYPE = "application/xml"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
_FILE_TYPES = {".m3u8": PLAYLIST_TYPE, ".ts": "video/mp2t", ".mp4": "video/mp4"}
QUARTILES = ("start", "firstQuartile", "midpoint", "thirdQuartile", "complete")
# normal: a VAST 3 pod; empty: no ads; error: HTTP 500; slow: normal after `delay` s; wrapper: `wrap` (default 1)
# VAST Wrappers in front of the pod; vmap: the pod inline in a VMAP 1.0 mid-roll (Google ad rules style).
MODES = ("normal", "empty", "error", "slow", "wrapper", "vmap")
MEDIA_KINDS = ("hls", "mp4")  # what each ad's MediaFile is: the HLS master, or the mezzanine MP4
MAX_BEACONS = 50_000  # oldest records are dropped beyond this, so a long demo cannot grow without bound
_MAX_DELAY = 60.0
_MAX_ADS = 20
_RECORDED_HEADERS = ("X-Device-IP", "X-Device-User-Agent", "User-Agent", "X-Forwarded-For")


def fill_pod(durations: dict[str, float], budget: float) -> list[str]:
    """Creative ids for a break of `budget` seconds, longest first, varied before repeated.

    Each round walks the creatives from longest to shortest and takes every one that still fits;
    rounds repeat until none fits, so 30 s gives 15 + 10 (5 s left for slate) and 60 s gives
    15 + 10 + 6 + 15 + 10.
    """
    order = sorted(durations, key=lambda c: (-durations[c], c))
    pod: list[str] = []
    left = budget
    while len(pod) < _MAX_ADS:
        picked = []
        for creative in order:
            if durations[creative] <= left + 1e-9:
                picked.append(creative)
                left -= durations[creative]
        if not picked:
            break
        pod.extend(picked)
    return pod[:_MAX_ADS]


def _timecode(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def _mount_base(request: Request) -> str:
    """Absolute URL of this app's root: the server's base URL plus the path it is mounted at."""
    app_root = str(request.scope.get("app_root_path", ""))
    root = str(request.scope.get("root_path", ""))
    mount = root[len(app_root) :] if root.startswith(app_root) else root
    return str(request.base_url).rstrip("/") + mount


@dataclass(slots=True)
class _Pod:
    base: str
    sid: str | None
    media: DemoMedia
    kind: str = "hls"  # one of MEDIA_KINDS
    ads: list[tuple[VodAsset, int]] = field(default_factory=list)

    def beacon(self, event: str, ad_id: str, creative: str, *, raw: str = "") -> str:
        """A beacon URL; `raw` is appended unencoded so VAST macros such as [ERRORCODE] stay replaceable."""
        query = {"ad": ad_id, "creative": creative}
        if self.sid is not None:
            query["sid"] = self.sid
        return f"{self.base}/beacon/{event}?{urlencode(query)}{raw}"

    def xml(self) -> bytes:
        vast = ET.Element("VAST", version="3.0")
        for asset, sequence in self.ads:
            self._ad(vast, asset, sequence)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(vast, encoding="unicode").encode()

    def _ad(self, vast: ET.Element, asset: VodAsset, sequence: int) -> None:
        ad_id = f"{asset.id}-{sequence}"
        inline = ET.SubElement(ET.SubElement(vast, "Ad", id=ad_id, sequence=str(sequence)), "InLine")
        ET.SubElement(inline, "AdSystem", version="1.0").text = "ssai-proxy demo"
        ET.SubElement(inline, "AdTitle").text = f"Demo creative {asset.id}"
        ET.SubElement(inline, "Error").text = self.beacon("error", ad_id, asset.id, raw="&code=[ERRORCODE]")
        ET.SubElement(inline, "Impression", id=f"imp-{ad_id}").text = self.beacon("impression", ad_id, asset.id)
        creative = ET.SubElement(ET.SubElement(inline, "Creatives"), "Creative", id=asset.id, sequence="1")
        linear = ET.SubElement(creative, "Linear")
        ET.SubElement(linear, "Duration").text = _timecode(asset.duration)
        events = ET.SubElement(linear, "TrackingEvents")
        for event in QUARTILES:
            ET.SubElement(events, "Tracking", event=event).text = self.beacon(event, ad_id, asset.id)
        clicks = ET.SubElement(linear, "VideoClicks")
        ET.SubElement(clicks, "ClickThrough").text = f"https://example.com/landing/{asset.id}"
        ET.SubElement(clicks, "ClickTracking").text = self.beacon("click", ad_id, asset.id)
        attrs, url = self._mp4_file(asset) if self.kind == "mp4" else self._hls_file(asset)
        ET.SubElement(ET.SubElement(linear, "MediaFiles"), "MediaFile", attrs).text = url

    def _hls_file(self, asset: VodAsset) -> tuple[dict[str, str], str]:
        top = self.media.ladder[0]
        attrs = {"delivery": "streaming", "type": "application/x-mpegURL", "width": str(top.width)}
        attrs |= {"height": str(top.height), "bitrate": str(top.bandwidth // 1000)}
        return attrs, f"{self.base}/creatives/{asset.id}/master.m3u8"

    def _mp4_file(self, asset: VodAsset) -> tuple[dict[str, str], str]:
        mp4 = self.media.mp4(asset.id)
        attrs = {"delivery": "progressive", "type": "video/mp4", "width": str(mp4.width)}
        attrs |= {"height": str(mp4.height), "bitrate": str(mp4.kbps)}
        return attrs, f"{self.base}/mp4/{mp4.name}"


class _Files:
    """Serves an allow-list of files, each read once off the event loop and then kept in memory."""

    def __init__(self, files: dict[str, Path]) -> None:
        self._files = files
        self._data: dict[str, bytes] = {}

    async def response(self, relpath: str) -> Response:
        path = self._files.get(relpath)
        if path is None:
            return Response("not found", 404, media_type="text/plain")
        data = self._data.get(relpath)
        if data is None:
            data = await asyncio.to_thread(path.read_bytes)
            self._data[relpath] = data
        kind = _FILE_TYPES[path.suffix]
        return Response(data, media_type=kind, headers={"Cache-Control": "public, max-age=3600"})


def _xml(body: bytes) -> Response:
    return Response(body, media_type=VAST_TYPE, headers={"Cache-Control": "no-store"})


def _wrapper(pod: _Pod, request: Request) -> bytes:
    """A VAST Wrapper whose VASTAdTagURI asks this server again with one wrapper less (VAST 3 §2.4)."""
    depth = int(_number(request, "wrap", 1, 20) or 1)
    query = dict(request.query_params) | {"wrap": str(depth - 1)}
    query["mode"] = "wrapper" if depth > 1 else "normal"
    vast = ET.Element("VAST", version="3.0")
    wrapper = ET.SubElement(ET.SubElement(vast, "Ad", id=f"wrapper-{depth}"), "Wrapper")
    ET.SubElement(wrapper, "AdSystem").text = "ssai-proxy demo wrapper"
    ET.SubElement(wrapper, "VASTAdTagURI").text = f"{pod.base}/vast?{urlencode(query)}"
    ET.SubElement(wrapper, "Error").text = pod.beacon("error", f"wrapper-{depth}", "", raw="&code=[ERRORCODE]")
    ET.SubElement(wrapper, "Impression").text = pod.beacon("impression", f"wrapper-{depth}", "")
    ET.SubElement(ET.SubElement(wrapper, "Creatives"), "Creative")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(vast, encoding="unicode").encode()


def _vmap(vast: bytes) -> bytes:
    """The pod as the inline VASTAdData of one VMAP 1.0 mid-roll break (IAB VMAP §2.4), due at every live break:
    `#1` repeated after every break (proxy.ads.vmap)."""
    body = vast.split(b"?>", 1)[-1].strip()
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="1.0">'
        b'<vmap:AdBreak timeOffset="#1" repeatAfter="00:00:01" breakType="linear" breakId="midroll-1">'
        b'<vmap:AdSource id="midroll-1-ads" allowMultipleAds="true" followRedirects="true"><vmap:VASTAdData>'
        + body
        + b"</vmap:VASTAdData></vmap:AdSource></vmap:AdBreak></vmap:VMAP>\n"
    )


def _bad(reason: str) -> Response:
    return Response(reason, 400, media_type="text/plain")


def _number(request: Request, name: str, default: float, maximum: float) -> float | None:
    """A query number within [0, maximum], the default when absent, None when invalid."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 <= value <= maximum else None


def _record(request: Request) -> dict[str, Any]:
    headers = {name: request.headers[name] for name in _RECORDED_HEADERS if name in request.headers}
    return {
        "event": request.path_params["event"],
        "method": request.method,
        "params": dict(request.query_params),
        "headers": headers,
        "time": time.time(),
    }


def create_adserver_app(media: DemoMedia) -> Starlette:
    """The ad server app; the demo mounts it at /demo/ads."""
    durations = {c.id: c.duration for c in media.creatives}
    creative_files = {c.id: _Files(media.vod_files(c)) for c in media.creatives}
    slate_files = _Files(media.vod_files(media.slate))
    mp4_files = _Files(media.mp4_files())

    async def vast(request: Request) -> Response:
        app.state.vast_requests += 1
        mode = request.query_params.get("mode", "normal")
        dur = _number(request, "dur", 30.0, 3600.0)
        delay = _number(request, "delay", 5.0, _MAX_DELAY)
        kind = request.query_params.get("media", "hls")
        if mode not in MODES or dur is None or delay is None or kind not in MEDIA_KINDS:
            return _bad(
                f"bad query: mode must be one of {', '.join(MODES)}, dur in 0..3600, delay in 0..{_MAX_DELAY:g},"
                f" media one of {', '.join(MEDIA_KINDS)}"
            )
        if mode == "error":
            return Response("ad server failure (mode=error)", 500, media_type="text/plain")
        latency = _number(request, "latency", 0.0, _MAX_DELAY)  # every mode: a busy ad server's answer time
        await asyncio.sleep(delay if mode == "slow" else (latency or 0.0))
        pod = _Pod(_mount_base(request), request.query_params.get("sid"), media, kind)
        if mode == "wrapper":
            return _xml(_wrapper(pod, request))
        if mode != "empty":
            pod.ads = [(media.creative(c), k) for k, c in enumerate(fill_pod(durations, dur), start=1)]
        return _xml(_vmap(pod.xml()) if mode == "vmap" else pod.xml())

    async def creative(request: Request) -> Response:
        files = creative_files.get(request.path_params["id"])
        if files is None:
            return Response("unknown creative", 404, media_type="text/plain")
        return await files.response(request.path_params["path"])

    async def slate(request: Request) -> Response:
        return await slate_files.response(request.path_params["path"])

    async def mp4(request: Request) -> Response:
        return await mp4_files.response(request.path_params["name"])

    async def beacon(request: Request) -> Response:
        beacons: list[dict[str, Any]] = app.state.beacons
        beacons.append(_record(request))
        if len(beacons) > MAX_BEACONS:
            del beacons[: len(beacons) - MAX_BEACONS]
        return Response(status_code=204)

    async def list_beacons(request: Request) -> Response:
        return JSONResponse(app.state.beacons)

    async def stats(request: Request) -> Response:
        counts: dict[str, int] = {}
        for hit in app.state.beacons:
            counts[hit["event"]] = counts.get(hit["event"], 0) + 1
        return JSONResponse({"vast_requests": app.state.vast_requests, "beacons": counts})

    app = Starlette(
        routes=[
            Route("/vast", vast, methods=["GET"]),
            Route("/creatives/{id}/{path:path}", creative, methods=["GET"]),
            Route("/slate/{path:path}", slate, methods=["GET"]),
            Route("/mp4/{name}", mp4, methods=["GET"]),
            Route("/beacon/{event}", beacon, methods=["GET", "POST"]),
            Route("/beacons", list_beacons, methods=["GET"]),
            Route("/stats", stats, methods=["GET"]),
        ]
    )
    app.state.beacons = []
    app.state.vast_requests = 0
    return app
