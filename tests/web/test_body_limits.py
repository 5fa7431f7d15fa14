"""Request body limits through a real server: one limit per kind of body (proxy/web/limits.py), the same for
the request models and the handlers. A body at its limit is served; one byte more is a 413 whose JSON error
quotes the size and the limit, whether the size is declared (Content-Length) or found while streaming."""

from __future__ import annotations

import asyncio
import base64
import copy
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest

from proxy.demo.testing import FakeOrigin, free_port, local_settings, run_server
from proxy.settings import ChannelConfig
from proxy.web.app import create_app
from proxy.web.limits import BodyLimit
from proxy.web.schemas import MAX_TRANSFORMS, MAX_XSLT
from tests.control.test_live_api import CREATE as APPLICATION, XSLT
from tests.control.test_vc_api import CREATE as SSAI_CONFIG
from tests.servers import key_and_client

CHANNEL_ORIGIN = "https://origin.invalid/live/master.m3u8"


@dataclass(frozen=True)
class Proxy:
    base: str
    key: str
    bearer: str
    basic: str


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    data_dir = tmp_path_factory.mktemp("data")
    key, (client_id, secret) = asyncio.run(key_and_client(data_dir))
    basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    origin = FakeOrigin()
    with run_server(origin.app, free_port()) as origin_base:
        channels = {"fake": ChannelConfig(name="fake", origin=f"{origin_base}/master.m3u8")}
        app = create_app(local_settings(data_dir=data_dir).with_channels(channels))
        port = free_port()
        with run_server(app, port) as base:
            yield Proxy(base, key, f"Bearer {asyncio.run(_token(base, basic))}", basic)


async def _token(base: str, basic: str) -> str:
    async with aiohttp.ClientSession() as http:
        form = b"grant_type=client_credentials"
        async with http.post(f"{base}/v4/access_token", data=form, headers={"Authorization": basic}) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["access_token"])


def largest_application() -> dict[str, Any]:
    """An application with as many transforms of the largest stylesheet as the model accepts: the largest
    control body a client can send, which must fit the control limit."""
    padding = MAX_XSLT - len(XSLT) - len("<!---->")
    stylesheet = XSLT.replace("</xsl:stylesheet>", f"<!--{'x' * padding}--></xsl:stylesheet>")
    assert len(stylesheet) == MAX_XSLT
    body = copy.deepcopy(APPLICATION)
    body["application_ad_configuration"]["ad_configuration_transforms"] = [{"xpath": "/", "xslt": stylesheet}] * (
        MAX_TRANSFORMS
    )
    return body


def padded(body: bytes, size: int) -> bytes:
    """`body` with JSON whitespace (RFC 8259 §2) after it, `size` bytes in all."""
    assert len(body) <= size, f"the body is {len(body)} bytes before padding: expected at most {size}"
    return body + b" " * (size - len(body))


# (API, path, body, which credential, the status of a body that is served, the kind's limit)
CASES = {
    "live-application": ("/v1/ssai/applications", orjson.dumps(largest_application()), "key", 200, BodyLimit.CONTROL),
    "vc-ssai-config": ("/v1/accounts/op/ssai_configs", orjson.dumps(SSAI_CONFIG), "bearer", 200, BodyLimit.CONTROL),
    "channel": ("/v1/ssai/channels", b"", "key", 201, BodyLimit.CONTROL),  # a new name each time: below
    "session": ("/v1/ssai/session/fake/main.m3u8", b'{"adsParams": {"deviceType": "ios"}}', "", 200, BodyLimit.SESSION),
    "oauth-token": ("/v4/access_token", b"grant_type=client_credentials", "basic", 200, BodyLimit.TOKEN_FORM),
}


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


async def send(url: str, body: bytes | AsyncIterator[bytes], headers: dict[str, str]) -> Answer:
    data = io.BytesIO(body) if isinstance(body, bytes) else body  # a file object: sent with its Content-Length
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers=headers) as response:
        return Answer(response.status, response.headers.get("Content-Type", ""), await response.read())


async def post(proxy: Proxy, case: str, size: int, name: str) -> Answer:
    path, body, credential, _, _ = CASES[case]
    if case == "channel":
        body = orjson.dumps({"name": name, "origin": CHANNEL_ORIGIN})
    if case == "oauth-token":
        body = body + b"&padding=" + b"x" * (size - len(body) - len(b"&padding="))
    headers = {"key": {"X-API-KEY": proxy.key}, "bearer": {"Authorization": proxy.bearer}}.get(credential, {})
    headers |= {"Authorization": proxy.basic} if credential == "basic" else {}
    return await send(proxy.base + path, padded(body, size), headers)


@pytest.mark.parametrize("case", list(CASES))
async def test_a_body_at_its_limit_is_served(proxy: Proxy, case: str) -> None:
    served, limit = CASES[case][3], CASES[case][4]
    answer = await post(proxy, case, limit, f"at-limit-{case}")
    assert answer.status == served, answer.body[:300]


@pytest.mark.parametrize("case", list(CASES))
async def test_a_body_one_byte_over_its_limit_is_a_413_quoting_size_and_limit(proxy: Proxy, case: str) -> None:
    limit = CASES[case][4]
    answer = await post(proxy, case, limit + 1, f"over-limit-{case}")
    assert (answer.status, answer.content_type) == (413, "application/json"), answer.body[:300]
    assert orjson.loads(answer.body) == {"error": f"body is {limit + 1} bytes: expected at most {limit} bytes"}


@pytest.mark.parametrize(("path", "limit"), [("/v1/ssai/channels", BodyLimit.CONTROL), (
    "/v1/ssai/session/fake/main.m3u8", BodyLimit.SESSION)])  # fmt: skip
async def test_a_streamed_body_is_refused_as_soon_as_it_passes_its_limit(proxy: Proxy, path: str, limit: int) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer coding (RFC 9112 §7.1)
        yield b'{"name": "streamed", "origin": "' + b"x" * limit
        yield b'"}'

    answer = await send(proxy.base + path, chunks(), {"X-API-KEY": proxy.key})
    assert answer.status == 413, answer.body[:300]
    message = orjson.loads(answer.body)["error"]
    assert message.startswith("body is at least ") and message.endswith(f": expected at most {limit} bytes")


async def test_the_openapi_document_states_the_413_of_every_request_body(proxy: Proxy) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{proxy.base}/openapi.json") as response:
        paths = (await response.json())["paths"]
    with_body = {(path, method): op["responses"] for path, ops in paths.items() for method, op in ops.items()
                 if "requestBody" in op}  # fmt: skip
    assert ("/v1/ssai/applications", "post") in with_body
    undocumented = sorted(where for where, responses in with_body.items() if "413" not in responses)
    assert not undocumented, f"request bodies without their 413: {undocumented}"
