"""A channel made through the control API as an operator would: a Brightcove Live API
application with the given ad tag, and a channel naming it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aiohttp


async def create_channel(
    http: aiohttp.ClientSession,
    base: str,
    name: str,
    origin: str,
    tag: str,
    transforms: Sequence[Mapping[str, str]] = (),
) -> None:
    """`http` carries the key; `origin` is the master playlist URL, `tag` the ad tag template, `transforms` the
    application's `ad_configuration_transforms` ({xpath, xslt})."""
    application = {
        "application_ad_configuration": {
            "ad_configuration_expected_response_type": "Vast",
            "ad_configuration_url_format": tag,
            "ad_configuration_transforms": list(transforms),
        }
    }
    async with http.post(f"{base}/v1/ssai/applications", json=application) as response:
        assert response.status == 200, await response.text()
        app_id = (await response.json())["application"]["application_id"]
    body = {"name": name, "origin": origin, "application_id": app_id}
    async with http.post(f"{base}/v1/ssai/channels", json=body) as response:
        assert response.status == 201, await response.text()
