"""Every ad tag variable of Brightcove Live API, Video Cloud SSAI API and MediaTailor gets its value from the HTTP
request that caused it: real uvicorn servers (a live origin with PROGRAM-DATE-TIME, an ad server that records each
request, the proxy), channels made through the control API and the channel file, sessions created through HTTP with a
User-Agent, Referer and X-Forwarded-For, two breaks each. One recorded ad request per (session, break); each
test checks one variable against its source.

The origin's breaks are 3 × 2 s segments; the ad is 2 × 1.5 s, so a session without slate returns to the
content at the break's third segment and its timeline is 1 s behind the origin's after its first break:
`live.adbreak.timestamputc.session` is the origin's time minus 1000 ms from the second break on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from proxy.demo.testing import MASTER, FakeOrigin
from proxy.settings import Settings, load_channels
from proxy.web.app import create_app
from tests.servers import free_port, key_and_client, run_server

TD = 2
EVERY = 5  # a 3-segment break every 5 segments
AD_SEGMENT = 1.5
UA = "VarsTest/1.0 (player; x)"
REFERER = "https://page.example/watch?v=1&t=2"
FORWARDED = "198.51.100.7, 10.0.0.1"
CLIENT_IP = "198.51.100.7"
PAGE_REFERRER = "https://embed.example/p?a=1"
HEADERS = {"User-Agent": UA, "Referer": REFERER, "X-Forwarded-For": FORWARDED}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

SEED_002 = {
    "sid": "session.session_id",
    "job": "job.job_id",
    "desc": "application_ad_configuration.description",
    "i32": "random.int32",
    "i64": "random.int64",
    "u32": "random.uint32",
    "u64": "random.uint64",
    "ruuid": "random.uuid",
    "server_ts": "server.timestamputc",
    "ua": "client.useragent",
    "ip": "client.ipaddress",
    "referrer": "client.referrer",
    "referer": "client.referer",
    "ipuaid": "client.ipuaid",
    "dur_ms": "live.adbreakdurationms",
    "dur": "live.adbreakduration",
    "dur_int": "live.adbreakdurationint",
    "wallclock": "live.adbreak.timestamputc.wallclock",
    "origin_ts": "live.adbreak.timestamputc.origin",
    "session_ts": "live.adbreak.timestamputc.session",
    "deviceid": "deviceid",  # free names: appended to the manifestUrl after the session was created
    "sitesection": "sitesection",
}
SEED_003 = {
    "sid": "session.session_id",
    "desc": "application_ad_configuration.description",
    "job": "job.job_id",
    "s_ua": "system.user_agent",
    "s_referer": "system.referer",
    "s_ip": "system.ip_address",
    "s_xff": "system.x_forwarded_for",
    "s_uuid": "system.uuid",
    "s_unix": "system.unix_timestamp",
    "s_uid": "system.unique_user_id",
    "x_ip": "system.xfp.ip_address",
    "x_corr": "system.xfp.correlator",
    "x_scor": "system.xfp.scor",
    "x_uid": "system.xfp.unique_user_id",
    "s_r32": "system.random_number_32",
    "s_guid": "system.random_guid",
    "s_utc": "system.timestamp_utc",
    "u_vmap": "url.p_vmap",
    "m_vid": "metadata.video_id",
    "m_genre": "metadata.custom_fields.genre",
    "page": "page.document.referrer",
}
MEDIATAILOR = {
    "sid": "session.uuid",
    "m_id": "session.id",
    "m_ip": "session.client_ip",
    "m_referer": "session.referer",
    "m_ua": "session.user_agent",
    "m_ms": "session.avail_duration_ms",
    "m_secs": "session.avail_duration_secs",
    "m_pp": "player_params.pp",
    "m_index": "avail.index",
    "m_random": "avail.random",
    "m_cb": "CACHEBUSTING",
    "m_ts": "TIMESTAMP",
    "desc": "application_ad_configuration.description",
    "m_title": "metadata.title.name",
}


def _template(base: str, channel: str, names: dict[str, str], style: str) -> str:
    placeholder = {"002": "{{{{{}}}}}", "003": "{{{{ {} }}}}", "mt": "[{}]"}[style]
    query = "&".join(f"{key}={placeholder.format(name)}" for key, name in names.items())
    return f"{base}/vast?ch={channel}&{query}"


VAST = """<VAST version="3.0"><Ad id="a1"><InLine><AdSystem>t</AdSystem><AdTitle>t</AdTitle>
<Impression>{base}/beacon</Impression><Creatives><Creative id="c1"><Linear><Duration>00:00:03.000</Duration>
<MediaFiles><MediaFile delivery="streaming" type="application/x-mpegURL" width="640" height="360">{base}/ad/master.m3u8
</MediaFile></MediaFiles></Linear></Creative></Creatives></InLine></Ad></VAST>"""


class AdServer:
    """Records every ad request (its raw query); answers one 3 s HLS ad of two 1.5 s segments."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/vast", self.vast),
                Route("/beacon", lambda request: Response(status_code=204)),
                Route("/ad/master.m3u8", lambda request: PlainTextResponse(MASTER)),
                Route("/ad/{name}.m3u8", self.media),
            ]
        )

    async def vast(self, request: Request) -> Response:
        self.requests.append(request.url.query)
        base = f"{request.url.scheme}://{request.url.netloc}"
        return PlainTextResponse(VAST.format(base=base), media_type="application/xml")

    async def media(self, request: Request) -> Response:
        name = request.path_params["name"]
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{TD}", "#EXT-X-PLAYLIST-TYPE:VOD"]
        for index in range(2):
            lines += [f"#EXTINF:{AD_SEGMENT:.3f},", f"{name}/{index}.ts"]
        return PlainTextResponse("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n")


class DatedOrigin(FakeOrigin):
    """FakeOrigin with a PROGRAM-DATE-TIME on every segment: segment n starts at epoch + n·TD."""

    def playlist(self, name: str, edge: int) -> str:
        lines = super().playlist(name, edge).splitlines()
        dated: list[str] = []
        for index, line in enumerate(lines):
            if line.startswith("#EXTINF"):
                msn = int(lines[index + 1].rsplit("/", 1)[1].removesuffix(".ts"))
                stamp = datetime.fromtimestamp(self.epoch + msn * self.td, UTC).isoformat(timespec="milliseconds")
                dated.append(f"#EXT-X-PROGRAM-DATE-TIME:{stamp.replace('+00:00', 'Z')}")
            dated.append(line)
        return "\n".join(dated) + "\n"


@dataclass
class Run:
    """What the servers saw: each polled session's ad requests in order (query parameters), and more."""

    requests: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # by our name of the session
    session_ids: dict[str, str] = field(default_factory=dict)
    playlists: dict[str, list[str]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # each channel's runtime version (its job id)
    implicit_location: str = ""
    manifest_urls: dict[str, str] = field(default_factory=dict)
    raw_queries: list[str] = field(default_factory=list)
    epoch_ms: int = 0
    started_ms: int = 0
    ended_ms: int = 0


async def _json(response: aiohttp.ClientResponse, status: int = 200) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def _channels(http: aiohttp.ClientSession, base: str, ads: str, origin: str, key: str, client: Any) -> None:
    api = {"X-API-KEY": key}
    application = {
        "application_description": "Vars test application",
        "application_ad_configuration": {
            "ad_configuration_description": "Live desc & co",
            "ad_configuration_expected_response_type": "Vast",
            "ad_configuration_url_format": _template(ads, "live002", SEED_002, "002"),
        },
    }
    async with http.post(f"{base}/v1/ssai/applications", json=application, headers=api) as response:
        app_id = (await _json(response))["application"]["application_id"]
    basic = {"Authorization": "Basic " + base64.b64encode(":".join(client).encode()).decode()}
    async with http.post(
        f"{base}/v4/access_token", headers=basic, data={"grant_type": "client_credentials"}
    ) as response:
        token = {"Authorization": f"Bearer {(await _json(response))['access_token']}"}
    config = {
        "name": "vars",
        "description": "VC desc / 003",
        "ad_config": {
            "expected_ad_response": "vast_3_0",
            "template_url": {"template": _template(ads, "vc003", SEED_003, "003")},
        },
    }
    async with http.post(f"{base}/v1/accounts/op/ssai_configs", json=config, headers=token) as response:
        config_id = (await _json(response))["config_id"]
    metadata = {"video_id": "v 42/x", "custom_fields": {"genre": "drama & more"}}
    for body in (
        {"name": "live002", "origin": f"{origin}/master.m3u8", "application_id": app_id},
        {"name": "vc003", "origin": f"{origin}/master.m3u8", "config_id": config_id, "metadata": metadata},
    ):
        async with http.post(f"{base}/v1/ssai/channels", json=body, headers=api) as response:
            created = await _json(response, 201)
            assert created["metadata"] == body.get("metadata", {})


async def _start_sessions(http: aiohttp.ClientSession, base: str, run: Run) -> None:
    """Four sessions, each as a player would make it."""
    async with http.post(f"{base}/v1/ssai/session/live002/main.m3u8") as response:
        run.manifest_urls["s002"] = (await _json(response))["manifestUrl"]
    async with http.get(f"{base}{run.manifest_urls['s002']}&deviceid=abc") as response:  # Video Cloud: + "&x=1"
        assert response.status == 200, await response.text()
    async with http.get(f"{base}{run.manifest_urls['s002']}?sitesection=news") as response:  # Live API: + "?x=1"
        assert response.status == 200, await response.text()
    async with http.post(f"{base}/v1/ssai/session/vc003/main.m3u8") as response:
        run.manifest_urls["s003"] = manifest = (await _json(response))["manifestUrl"]
    filled = manifest.replace("{document.referrer}", quote(PAGE_REFERRER, safe="")) + "&p_vmap=vmap1"
    async with http.get(f"{base}{filled}") as response:
        assert response.status == 200, await response.text()
    async with http.post(f"{base}/v1/ssai/session/file/main.m3u8", json={"adsParams": {"pp": "v1"}}) as response:
        run.manifest_urls["smt"] = (await _json(response))["manifestUrl"]
    # Brightcove Live API "Appending the URL": the playback URL with the player's values, a GET
    async with http.get(f"{base}/v1/ssai/session/live002/playlist.m3u8?deviceid=123") as response:
        master = await response.text()
        assert response.status == 200, master
    implicit = re.search(r"/v1/ssai/media/live002/([0-9a-f]{32})/", master)
    assert implicit is not None, master
    run.session_ids["implicit"] = implicit.group(1)
    for name in ("s002", "s003", "smt"):
        run.session_ids[name] = parse_qs(urlsplit(run.manifest_urls[name]).query)["session_id"][0]
    async with http.get(f"{base}/v1/ssai/master/vc003/main.m3u8", allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        run.implicit_location = response.headers["Location"]


CHANNEL_OF = {"s002": "live002", "s003": "vc003", "smt": "file", "implicit": "live002"}


def _mine(run: Run, name: str, query: dict[str, str]) -> bool:
    sid = run.session_ids[name]
    return query.get("ch") == CHANNEL_OF[name] and query.get("sid") in (sid, str(uuid.UUID(hex=sid)))


def _sort(run: Run, ads: AdServer) -> None:
    run.raw_queries = list(ads.requests)
    parsed = [{k: v[0] for k, v in parse_qs(q, keep_blank_values=True).items()} for q in ads.requests]
    run.requests = {name: [q for q in parsed if _mine(run, name, q)] for name in run.session_ids}


async def _play(http: aiohttp.ClientSession, base: str, run: Run, ads: AdServer) -> None:
    """Poll every session's first variant until each has made the ad requests of two breaks."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for name, sid in run.session_ids.items():
            async with http.get(f"{base}/v1/ssai/media/{CHANNEL_OF[name]}/{sid}/v0.m3u8") as response:
                assert response.status == 200, await response.text()
                run.playlists.setdefault(name, []).append(await response.text())
        _sort(run, ads)
        if all(len(found) >= 2 for found in run.requests.values()):
            return
        await asyncio.sleep(TD / 2)
    raise AssertionError(f"not every session made two ad requests in 120 s: {run.requests}")


CHANNEL_FILE = """
[channels.file]
origin = "{origin}/master.m3u8"
ad_tag = "{tag}"
ad_description = "File desc"

[channels.file.metadata.title]
name = "Le Film"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data_dir = tmp_path_factory.mktemp("vars")
    origin, ads = (
        DatedOrigin(td=TD, window=6, every=EVERY, break_segments=3, epoch=float(int(time.time()) - 12)),
        AdServer(),
    )
    key, client = asyncio.run(key_and_client(data_dir))
    with run_server(origin.app, free_port()) as origin_url, run_server(ads.app, free_port()) as ads_url:
        channel_file = data_dir / "channels.toml"
        tag = _template(ads_url, "file", MEDIATAILOR, "mt")
        channel_file.write_text(CHANNEL_FILE.format(origin=origin_url, tag=tag))
        settings = Settings(data_dir=data_dir, egress_allow_loopback=True, ad_spread=0.0, config_refresh=0.5)
        app = create_app(settings.with_channels(load_channels(channel_file)))
        with run_server(app, free_port()) as base:
            result = Run(epoch_ms=int(origin.epoch * 1000), started_ms=int(time.time() * 1000))
            asyncio.run(_session_flow(base, ads_url, origin_url, key, client, result, ads))
            result.ended_ms = int(time.time() * 1000)
            configs = app.state.service.configs
            result.versions = {name: configs[name].version for name in ("live002", "vc003", "file")}
    yield result


async def _session_flow(
    base: str, ads_url: str, origin_url: str, key: str, client: Any, run: Run, ads: AdServer
) -> None:
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        await _channels(http, base, ads_url, origin_url, key, client)  # each write refreshes the channels at once
        await _start_sessions(http, base, run)
        await _play(http, base, run, ads)


# --- what each variable must be --------------------------------------------------------------------------------

DIGITS, SIGNED = re.compile(r"\d+"), re.compile(r"-?\d+")
IP_UA = hashlib.md5((CLIENT_IP + UA).encode()).hexdigest()
Expected = str | re.Pattern[str]


def _between(run: Run, value: str, scale: int = 1) -> bool:
    return run.started_ms // scale <= int(value) <= run.ended_ms // scale


def _origin_ms(run: Run, value: str) -> bool:
    """The PROGRAM-DATE-TIME of a cue-out segment: a multiple of the break period after the origin's epoch."""
    return int(value) > run.epoch_ms and (int(value) - run.epoch_ms) % (EVERY * TD * 1000) == 0


COMMON: dict[str, Expected] = {"dur_ms": "6000", "dur": "6.0", "dur_int": "6", "m_ms": "6000", "m_secs": "6"}
COMMON |= {"ua": UA, "s_ua": UA, "m_ua": UA, "referrer": REFERER, "referer": REFERER, "s_referer": REFERER}
COMMON |= {"m_referer": REFERER, "ip": CLIENT_IP, "s_ip": CLIENT_IP, "x_ip": CLIENT_IP, "m_ip": CLIENT_IP}
COMMON |= {
    "s_xff": FORWARDED,
    "ipuaid": IP_UA,
    "s_uid": IP_UA,
    "x_uid": IP_UA,
    "deviceid": "abc",
    "sitesection": "news",
}
COMMON |= {"i32": SIGNED, "i64": SIGNED, "u32": DIGITS, "u64": DIGITS, "x_corr": DIGITS, "x_scor": DIGITS}
COMMON |= {"s_r32": DIGITS, "m_id": DIGITS, "m_random": DIGITS, "m_cb": re.compile(r"\d{8}")}
COMMON |= {"ruuid": UUID, "s_uuid": UUID, "s_guid": UUID, "m_ts": re.compile(r"\d{4}-\d\d-\d\dT[\d:.]{12}\+00:00")}
COMMON |= {"u_vmap": "vmap1", "m_vid": "v 42/x", "m_genre": "drama & more", "page": PAGE_REFERRER, "m_pp": "v1"}
COMMON |= {"m_title": "Le Film"}
DESCRIPTIONS = {"s002": "Live desc & co", "s003": "VC desc / 003", "smt": "File desc"}
CLOCKS = {"server_ts": 1, "wallclock": 1, "s_unix": 1000, "s_utc": 1000}


def _check(run: Run, name: str, key: str, index: int, value: str) -> None:
    sid = run.session_ids[name]
    expected: Expected | None = COMMON.get(key)
    if key == "sid":
        expected = str(uuid.UUID(hex=sid)) if name == "smt" else sid
    elif key == "job":
        expected = run.versions[CHANNEL_OF[name]]
    elif key == "desc":
        expected = DESCRIPTIONS[name]
    elif key == "m_index":
        expected = str(index + 1)  # MediaTailor: the avail's 1-based position among the session's avails
    if key in CLOCKS:
        assert _between(run, value, CLOCKS[key]), (key, value, run.started_ms, run.ended_ms)
    elif key in ("origin_ts", "session_ts"):
        assert _origin_ms(run, value) if key == "origin_ts" else value.isdigit(), (key, value, run.epoch_ms)
    elif isinstance(expected, re.Pattern):
        assert expected.fullmatch(value), (key, value)
    else:
        assert expected and value == expected, (key, value, expected)


def _values(run: Run, name: str, key: str) -> list[str]:
    found = run.requests[name][:2]
    assert all(key in query for query in found), (key, found)
    return [query[key] for query in found]


@pytest.mark.parametrize("key", SEED_002)
def test_a_seed_002_variable_has_its_source_value(run: Run, key: str) -> None:
    for index, value in enumerate(_values(run, "s002", key)):
        _check(run, "s002", key, index, value)


@pytest.mark.parametrize("key", SEED_003)
def test_a_seed_003_variable_has_its_source_value(run: Run, key: str) -> None:
    for index, value in enumerate(_values(run, "s003", key)):
        _check(run, "s003", key, index, value)


@pytest.mark.parametrize("key", MEDIATAILOR)
def test_a_mediatailor_variable_has_its_source_value(run: Run, key: str) -> None:
    for index, value in enumerate(_values(run, "smt", key)):
        _check(run, "smt", key, index, value)


def test_the_session_time_of_a_break_moves_with_the_breaks_before_it(run: Run) -> None:
    """Brightcove Live API: `.origin` and `.session` are equal at the session's first break and differ after it, by what
    that break shifted the session's timeline (3 s of ads for 4 s of content: -1000 ms)."""
    first, second = run.requests["s002"][:2]
    assert any("seg/v0/" in body for body in run.playlists["s002"]), "the first break played its ad"
    assert first["session_ts"] == first["origin_ts"]
    assert int(second["origin_ts"]) - int(first["origin_ts"]) == EVERY * TD * 1000
    assert int(second["session_ts"]) == int(second["origin_ts"]) - 1000


def test_job_ids_are_the_channels_runtime_versions(run: Run) -> None:
    assert len(set(run.versions.values())) == 3 and all(run.versions.values())


def test_parameters_appended_to_the_manifest_url_reach_the_next_breaks(run: Run) -> None:
    assert [query["deviceid"] for query in run.requests["s002"][:2]] == ["abc", "abc"]
    assert [query["deviceid"] for query in run.requests["implicit"][:2]] == ["123", "123"]  # Live API GET …?deviceid=


def test_page_variables_are_listed_for_the_player_and_never_sent_as_written(run: Run) -> None:
    assert run.manifest_urls["s003"].endswith("&document.referrer={document.referrer}")
    assert "document.referrer" not in run.manifest_urls["s002"]  # its ad tag has no page.* variable
    location = urlsplit(run.implicit_location)
    assert location.path == "/v1/ssai/master/vc003/main.m3u8"
    assert unquote(location.query).endswith("&document.referrer={document.referrer}")
    assert not [query for query in run.raw_queries if "{" in unquote(query) or "page.document" in unquote(query)]
